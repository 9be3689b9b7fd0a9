//! `PathLinear` and `PathNet`: the layer equals a dense matrix built by hand from the paths on
//! every backend (through the fan-in kernels), gradients against finite differences and the
//! plain-Burn reference, padding and fixed signs never learn what they must not, training,
//! determinism, save/load and errors.

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData, Tolerance};
use mcnn_backends::{for_each_backend, fork_identical, host_device};
use mcnn_fan_in::probe::{self, Path};
use path_net::{
    Duplicates, PathGenerator, PathInit, PathLinear, PathLinearConfig, PathNet, PathNetConfig,
    Paths, generate_paths,
};

const WIDTHS: [usize; 3] = [6, 5, 3];
const WALK: PathGenerator = PathGenerator::RandomWalk { seed: 4 };

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec().unwrap()
}

fn ints(t: Tensor<2, Int>) -> Vec<i64> {
    t.into_data().convert::<i64>().try_into_vec().unwrap()
}

/// The dense `[targets, sources]` matrix of transition `t` under the constant initialisation,
/// from the paths alone: every path adds `±gain/√fan_in` at its edge.
fn constant_dense(paths: &Paths, t: usize, gain: f64) -> Vec<f32> {
    let (sources, targets) = (paths.widths[t], paths.widths[t + 1]);
    let mut fan_in = vec![0usize; targets];
    paths.neurons[t + 1]
        .iter()
        .for_each(|&o| fan_in[o as usize] += 1);
    let signs = paths.signs(t);
    let mut dense = vec![0f32; targets * sources];
    for (i, &negative) in signs.iter().enumerate() {
        let (s, o) = (
            paths.neurons[t][i] as usize,
            paths.neurons[t + 1][i] as usize,
        );
        let sign = if negative { -1.0 } else { 1.0 };
        dense[o * sources + s] += (sign * gain / (fan_in[o] as f64).sqrt()) as f32;
    }
    dense
}

#[test]
fn layers_equal_the_dense_matrix_of_their_paths_on_every_backend() {
    let paths = generate_paths(&WIDTHS, 40, WALK).unwrap();
    let host = host_device();
    host.seed(1);
    let x = Tensor::<2>::random([7, 6], Distribution::Normal(0.0, 1.0), &host);
    for fixed_sign in [false, true] {
        let config = PathLinearConfig::new()
            .with_init(PathInit::Constant { gain: 1.5 })
            .with_duplicates(Duplicates::Keep)
            .with_fixed_sign(fixed_sign);
        let layer = config.init(&paths, 0, &host);
        assert_eq!(layer.edges, 40);
        assert!(layer.factor.is_some(), "random walks need padding");
        let dense = constant_dense(&paths, 0, 1.5);
        let expected_weight = TensorData::new(dense.clone(), [5, 6]);
        layer
            .dense_weight()
            .transpose()
            .into_data()
            .assert_approx_eq::<f32>(&expected_weight, Tolerance::absolute(1e-6));
        for_each_backend(|kind, device| {
            let layer = fork_identical(&layer, &device);
            let path = if kind.is_cpu() {
                Path::CpuForward
            } else {
                Path::CubeForward
            };
            let before = probe::count(path);
            let got = layer.forward(x.clone().to_device(&device)).into_data();
            assert!(
                probe::count(path) > before,
                "{path:?} did not run on {kind}"
            );
            let w = Tensor::<2>::from_data(expected_weight.clone(), &device);
            let expected = x.clone().to_device(&device).matmul(w.transpose());
            got.assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
        });
    }
}

#[test]
fn balanced_layers_need_no_padding_and_kaiming_respects_the_fan_in() {
    let net = PathNetConfig::new(vec![64, 32, 16, 10], 512)
        .with_layer(PathLinearConfig::new().with_duplicates(Duplicates::Keep))
        .init(&host_device());
    assert_eq!(
        net.layers.iter().map(|l| l.fan_in()).collect::<Vec<_>>()[..2],
        [16, 32]
    );
    assert!(net.layers[0].factor.is_none() && net.layers[1].factor.is_none());
    // 512 paths over 10 outputs: 51 or 52 each (one aligned block of 512 holds ⌊512/10⌋+…).
    let last = &net.layers[2];
    assert!(last.factor.is_some() && (51..=53).contains(&last.fan_in()));
    assert_eq!(net.edges(), 3 * 512);
    // Kaiming uniform on fan-in 16: |w| < √2·√(3/16) = 0.612, spread over the whole range.
    let w = floats(net.layers[0].weight.val());
    let bound = (2.0f32 * 3.0 / 16.0).sqrt();
    assert!(w.iter().all(|v| v.abs() < bound));
    assert!(w.iter().any(|&v| v > 0.9 * bound) && w.iter().any(|&v| v < -0.9 * bound));
    let variance = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
    assert!((variance - 2.0 / 16.0).abs() < 0.02, "variance {variance}");
}

/// The network's output on the host in f64, from its stored tensors alone.
fn host_forward(net: &PathNet, x: &[f64], batch: usize) -> Vec<f64> {
    let mut x = x.to_vec();
    for (l, layer) in net.layers.iter().enumerate() {
        let (w, idx) = (floats(layer.weight.val()), ints(layer.indices.val()));
        let factor = layer.factor.as_ref().map(|f| floats(f.val()));
        let bias = floats(layer.bias.as_ref().unwrap().val());
        let (k, n_in, n_out) = (layer.fan_in(), layer.d_input.get(), bias.len());
        let mut y = vec![0f64; batch * n_out];
        for b in 0..batch {
            for o in 0..n_out {
                let mut sum = bias[o] as f64;
                for s in 0..k {
                    let mut v = w[o * k + s] as f64;
                    if layer.fixed_sign {
                        v = v.abs();
                    }
                    v *= factor.as_ref().map_or(1.0, |f| f[o * k + s] as f64);
                    sum += v * x[b * n_in + idx[o * k + s] as usize];
                }
                y[b * n_out + o] = if l + 1 < net.layers.len() {
                    sum.max(0.0)
                } else {
                    sum
                };
            }
        }
        x = y;
    }
    x
}

#[test]
fn gradients_match_finite_differences_and_padding_and_factor_learn_nothing() {
    let host = host_device();
    for fixed_sign in [false, true] {
        let net = PathNetConfig::new(WIDTHS.to_vec(), 40)
            .with_generator(WALK)
            .with_layer(
                PathLinearConfig::new()
                    .with_fixed_sign(fixed_sign)
                    .with_seed(3),
            )
            .init(&host);
        host.seed(2);
        let x = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &host);
        let xs: Vec<f64> = floats(x.clone()).into_iter().map(f64::from).collect();

        let ad = host.clone().autodiff();
        let trained = net.clone().fork(&ad).train();
        let y = trained.forward(x.clone().to_device(&ad));
        let grads = (y.clone() * y).sum().backward();
        for (l, layer) in trained.layers.iter().enumerate() {
            let analytic = floats(layer.weight.grad(&grads).expect("weight gradient"));
            if let Some(factor) = &layer.factor {
                assert!(factor.grad(&grads).is_none(), "the factor is constant");
            }
            let w = floats(net.layers[l].weight.val());
            let factor = net.layers[l]
                .factor
                .as_ref()
                .map_or(vec![1.0; w.len()], |f| floats(f.val()));
            for at in 0..w.len() {
                if factor[at] == 0.0 {
                    assert_eq!(analytic[at], 0.0, "padding slot {at} of layer {l} learns");
                    continue;
                }
                let loss = |delta: f64| {
                    let mut moved = net.clone();
                    let mut values = w.clone();
                    values[at] += delta as f32;
                    let dims = moved.layers[l].weight.dims();
                    moved.layers[l].weight = burn::module::Param::from_tensor(Tensor::from_data(
                        TensorData::new(values, dims),
                        &host,
                    ));
                    host_forward(&moved, &xs, 4)
                        .iter()
                        .map(|v| v * v)
                        .sum::<f64>()
                };
                // Small enough not to cross zero, where |v| of a fixed sign has its kink.
                let eps = if fixed_sign {
                    (0.5 * w[at].abs() as f64).min(1e-2)
                } else {
                    1e-2
                };
                let fd = (loss(eps) - loss(-eps)) / (2.0 * eps);
                assert!(
                    (fd - analytic[at] as f64).abs() < 2e-2 * (1.0 + fd.abs()),
                    "layer {l} slot {at} (fixed sign {fixed_sign}): fd {fd} vs {}",
                    analytic[at]
                );
            }
        }
    }
}

#[test]
fn gradients_match_the_dense_reference_on_every_backend() {
    let host = host_device();
    let net = PathNetConfig::new(WIDTHS.to_vec(), 40)
        .with_generator(WALK)
        .with_layer(PathLinearConfig::new().with_fixed_sign(true))
        .init(&host);
    host.seed(3);
    let x = Tensor::<2>::random([5, 6], Distribution::Normal(0.0, 1.0), &host);
    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let before = probe::count(Path::AutodiffBackward);
        let trained = fork_identical(&net, &ad).train();
        let y = trained.forward(x.clone().to_device(&ad));
        let grads = (y.clone() * y).sum().backward();
        assert!(
            probe::count(Path::AutodiffBackward) > before,
            "custom backward on {kind}"
        );
        // The same network through dense matrices of plain Burn ops.
        let reference = fork_identical(&net, &ad).train();
        let mut h = x.clone().to_device(&ad);
        for (l, layer) in reference.layers.iter().enumerate() {
            h = h.matmul(layer.dense_weight()) + layer.bias.as_ref().unwrap().val().unsqueeze();
            if l + 1 < reference.layers.len() {
                h = burn::tensor::activation::relu(h);
            }
        }
        let reference_grads = (h.clone() * h).sum().backward();
        for (a, b) in trained.layers.iter().zip(&reference.layers) {
            let got = a.weight.grad(&grads).unwrap().into_data();
            let want = b.weight.grad(&reference_grads).unwrap().into_data();
            got.assert_approx_eq::<f32>(&want, Tolerance::absolute(1e-4));
        }
    });
}

fn train_steps(net: PathNet, steps: usize, device: &Device) -> (PathNet, f32, f32) {
    let ad = device.clone().autodiff();
    let mut net = net.fork(&ad).train();
    let mut optimizer = AdamConfig::new().init();
    device.seed(5);
    let x = Tensor::<2>::random([32, 16], Distribution::Normal(0.0, 1.0), device).to_device(&ad);
    let target = x.clone().slice([0..32, 0..4]) * 2.0 - x.clone().slice([0..32, 4..8]);
    let (mut first, mut last) = (0.0, 0.0);
    for step in 0..steps {
        let loss = (net.forward(x.clone()) - target.clone())
            .powi_scalar(2)
            .mean();
        last = loss.clone().into_scalar::<f32>();
        if step == 0 {
            first = last;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optimizer.step(0.02, net, grads);
    }
    (net.valid(), first, last)
}

#[test]
fn adam_trains_path_nets_and_fixed_signs_stay_fixed() {
    let host = host_device();
    for init in [
        PathInit::KaimingUniform { gain: 1.0 },
        PathInit::Constant { gain: 1.0 },
    ] {
        let config = PathNetConfig::new(vec![16, 64, 4], 1024)
            .with_generator(PathGenerator::SobolScrambled { seed: 1 })
            .with_layer(
                PathLinearConfig::new()
                    .with_init(init)
                    .with_fixed_sign(true),
            );
        let net = config.init(&host);
        let signs: Vec<Vec<f32>> = net
            .layers
            .iter()
            .map(|l| floats(l.effective_weight().sign()))
            .collect();
        let (trained, first, last) = train_steps(net, 150, &host);
        eprintln!("{init:?}: loss {first} → {last}");
        assert!(last < 0.5 * first, "{init:?}: loss {first} → {last}");
        for (layer, before) in trained.layers.iter().zip(&signs) {
            let after = floats(layer.effective_weight().sign());
            assert!(
                after.iter().zip(before).all(|(a, b)| a == b || *a == 0.0),
                "{init:?}: a fixed sign flipped"
            );
        }
    }
    // Free signs train too, with Identity between layers (a linear target).
    let net = PathNetConfig::new(vec![16, 64, 4], 1024)
        .with_activation(ActivationConfig::Identity)
        .init(&host);
    let (_, first, last) = train_steps(net, 150, &host);
    eprintln!("free signs: loss {first} → {last}");
    assert!(last < 0.05 * first, "loss {first} → {last}");
}

#[test]
fn merged_duplicates_leave_one_weight_per_distinct_edge() {
    let paths = generate_paths(&WIDTHS, 40, WALK).unwrap();
    let host = host_device();
    for t in 0..2 {
        let table = paths.edges(t);
        assert!(
            table.duplicates() > 0,
            "40 walks over 6·5 edges repeat some"
        );
        let layer = PathLinearConfig::new()
            .with_duplicates(Duplicates::Merge)
            .with_init(PathInit::Constant { gain: 1.0 })
            .init(&paths, t, &host);
        assert_eq!(layer.edges, 40 - table.duplicates());
        let (idx, factor) = (
            ints(layer.indices.val()),
            floats(layer.factor.unwrap().val()),
        );
        let k = layer.weight.dims()[1];
        let w = floats(layer.weight.val());
        for (o, sources) in table.sources_of.iter().enumerate() {
            let mut distinct = sources.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let real: Vec<i64> = (0..k)
                .filter(|&s| factor[o * k + s] != 0.0)
                .map(|s| idx[o * k + s])
                .collect();
            assert_eq!(real, distinct.iter().map(|&s| s as i64).collect::<Vec<_>>());
            for s in 0..real.len() {
                let magnitude = 1.0 / (distinct.len() as f32).sqrt();
                assert!((w[o * k + s].abs() - magnitude).abs() < 1e-6);
            }
        }
    }
}

#[test]
fn the_same_configuration_gives_the_same_network() {
    let host = host_device();
    let weights = |config: &PathNetConfig| -> Vec<Vec<f32>> {
        let net = config.init(&host);
        net.layers.iter().map(|l| floats(l.weight.val())).collect()
    };
    let kaiming = PathNetConfig::new(WIDTHS.to_vec(), 40).with_generator(WALK);
    assert_eq!(weights(&kaiming), weights(&kaiming));
    let reseeded = kaiming
        .clone()
        .with_layer(PathLinearConfig::new().with_seed(1));
    assert_ne!(weights(&kaiming), weights(&reseeded));
    let constant = |seed| {
        PathNetConfig::new(WIDTHS.to_vec(), 40).with_layer(
            PathLinearConfig::new()
                .with_init(PathInit::Constant { gain: 1.0 })
                .with_seed(seed),
        )
    };
    assert_eq!(
        weights(&constant(1)),
        weights(&constant(2)),
        "no seed in it"
    );
}

#[test]
fn save_and_load_round_trip_keeps_paths_weights_and_signs() {
    let host = host_device();
    let config = PathNetConfig::new(WIDTHS.to_vec(), 40)
        .with_generator(WALK)
        .with_layer(PathLinearConfig::new().with_fixed_sign(true));
    let net = config.init(&host);
    let path = std::env::temp_dir().join(format!("mcnn-path-net-{}.bpk", std::process::id()));
    host.seed(6);
    let x = Tensor::<2>::random([3, 6], Distribution::Normal(0.0, 1.0), &host);
    let expected = net.forward(x.clone()).into_data();
    net.clone().save_file(&path).unwrap();
    let other = config
        .clone()
        .with_layer(PathLinearConfig::new().with_fixed_sign(true).with_seed(9))
        .init(&host);
    let loaded = other.load_file(&path);
    loaded.forward(x).into_data().assert_eq(&expected, true);
    // The factor is still constant after loading.
    let ad = host.autodiff();
    let trained = loaded.fork(&ad).train();
    let grads = trained.forward(Tensor::ones([1, 6], &ad)).sum().backward();
    assert!(
        trained.layers[0]
            .factor
            .as_ref()
            .unwrap()
            .grad(&grads)
            .is_none()
    );
    assert!(trained.layers[0].weight.grad(&grads).is_some());
    std::fs::remove_file(&path).ok();
}

#[test]
fn bad_configurations_name_the_parameter() {
    let host = host_device();
    let message = |r: Result<PathNet, path_net::PathError>| r.unwrap_err().to_string();
    let base = PathNetConfig::new(WIDTHS.to_vec(), 40);
    for gain in [0.0, -1.0, f64::NAN] {
        let bad = base
            .clone()
            .with_layer(PathLinearConfig::new().with_init(PathInit::Constant { gain }));
        assert!(message(bad.try_init(&host)).starts_with("invalid `init`"));
    }
    assert!(
        message(PathNetConfig::new(WIDTHS.to_vec(), 0).try_init(&host))
            .starts_with("invalid `paths` = 0")
    );
    assert!(
        message(PathNetConfig::new(vec![6, 0, 3], 40).try_init(&host)).contains("layer 1 is 0")
    );
    let other = generate_paths(&[6, 4, 3], 40, WALK).unwrap();
    let text = message(base.try_init_with_paths(&other, &host));
    assert!(
        text.starts_with("invalid `paths`") && text.contains("[6, 4, 3]"),
        "{text}"
    );
    let layer = PathLinearConfig::new().try_init(&other, 2, &host);
    assert!(
        layer
            .unwrap_err()
            .to_string()
            .starts_with("invalid `transition` = 2")
    );
    let input = PathLinearConfig::new().init(&other, 0, &host);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        PathLinear::forward(&input, Tensor::<2>::zeros([1, 5], &host))
    }));
    assert!(panic.is_err(), "a wrong input width panics");
}

/// Two transitions with the same number of edges per neuron but different source widths have
/// tensors of the same shapes: the recorded `d_input` tells their records apart.
#[test]
fn a_record_of_another_source_width_is_refused_at_load_time() {
    let host = host_device();
    let layer = |width: usize| {
        let paths = generate_paths(&[width, 8], 256, PathGenerator::Sobol).unwrap();
        PathLinearConfig::new()
            .with_duplicates(Duplicates::Keep)
            .init(&paths, 0, &host)
    };
    let (wide, narrow) = (layer(64), layer(32));
    assert_eq!(wide.weight.dims(), narrow.weight.dims());
    let error = narrow
        .try_load_record(wide.into_record())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("d_input: shape mismatch") && error.contains("[0, 64]"),
        "{error}"
    );
}

/// `PathNet::forward` keeps its activations feature-major (the feature-major kernels run) and
/// equals, to the bit, its layers applied to rows one after the other.
#[test]
fn a_path_net_runs_its_layers_feature_major() {
    for_each_backend(|kind, device| {
        let net = PathNetConfig::new(vec![12, 9, 7, 3], 40).init(&device);
        device.seed(6);
        let x = Tensor::<2>::random([70, 12], Distribution::Normal(0.0, 1.0), &device);
        let path = if kind.is_cpu() {
            Path::CpuFeatureMajorForward
        } else {
            Path::CubeFeatureMajorForward
        };
        let before = probe::count(path);
        let got = net.forward(x.clone()).into_data();
        assert!(
            probe::count(path) > before,
            "{path:?} did not run on {kind}"
        );
        let last = net.layers.len() - 1;
        let rows = net.layers.iter().enumerate().fold(x, |x, (i, layer)| {
            let y = layer.forward(x);
            if i < last { relu(y) } else { y }
        });
        // The same sums in the same order: the same bits.
        got.assert_eq(&rows.into_data(), true);
    });
}
