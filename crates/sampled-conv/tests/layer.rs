//! `SampledConv2d`: the stored integers are the sampler's, the sparse path (the direct sparse convolution)
//! equals Burn's own `Conv2d` with the materialised weights on every backend for strides,
//! padding, dilation and groups, gradients against the reference and finite differences,
//! whole-model sampling and baselines, save/load and errors.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Distribution, Tensor, TensorData, Tolerance};
use mcnn_backends::{for_each_backend, fork_identical, host_device, materialize};
use mcnn_fan_in::probe::{self, Path};
use mcnn_sequences::counts::{Scheme, row_counts};
use sampled_conv::{ConvGeometry, Kernel, SampledConv2d, SampledConv2dConfig};
use sampled_linear::{
    Baseline, Budget, Granularity, LayerKind, SampledWeights, SamplingConfig, SamplingScheme,
    apply_baseline, sample_weights,
};

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec().unwrap()
}

/// A trained-looking conv on the host.
fn conv(config: Conv2dConfig, seed: u64) -> Conv2d {
    let host = host_device();
    host.seed(seed);
    materialize(config.init(&host))
}

/// The geometries under test: plain, strided with asymmetric padding and dilation, grouped
/// with "same" padding, and grouped with all of these at batch 1.
fn geometries() -> Vec<(&'static str, Conv2dConfig, [usize; 4])> {
    vec![
        (
            "plain 5×5",
            Conv2dConfig::new([3, 8], [5, 5]),
            [2, 3, 12, 12],
        ),
        (
            "stride 2, explicit (1, 2, 0, 1), dilation (2, 1)",
            Conv2dConfig::new([4, 6], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 2, 0, 1))
                .with_dilation([2, 1]),
            [2, 4, 11, 9],
        ),
        (
            "2 groups, same",
            Conv2dConfig::new([4, 6], [3, 3])
                .with_groups(2)
                .with_padding(PaddingConfig2d::Same),
            [3, 4, 7, 8],
        ),
        (
            "2 groups, stride (2, 1), dilation (1, 2), explicit (2, 0, 1, 1), batch 1",
            Conv2dConfig::new([4, 6], [3, 2])
                .with_groups(2)
                .with_stride([2, 1])
                .with_dilation([1, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 0, 1, 1)),
            [1, 4, 9, 10],
        ),
    ]
}

#[test]
fn stored_integers_are_the_samplers_per_filter_and_per_layer() {
    let dense = conv(Conv2dConfig::new([4, 6], [3, 3]).with_groups(2), 1);
    let rows = floats(dense.weight.val());
    let taps = 2 * 3 * 3;
    for granularity in [Granularity::PerNeuron, Granularity::PerLayer] {
        let config = SamplingConfig::new(Budget::Amount(0.5))
            .with_granularity(granularity)
            .with_seed(3);
        let (layer, report) = SampledConv2d::from_conv2d(&dense, &config, "conv").unwrap();
        assert_eq!((report.d_output, report.d_input), (6, taps));
        let expected: Vec<f32> = match granularity {
            Granularity::PerNeuron => {
                let counts = row_counts(&rows, 6, taps, 9, Scheme::Jittered, 3).unwrap();
                (0..6 * taps)
                    .map(|i| counts.summaries[i / taps].scale * counts.q[i] as f32)
                    .collect()
            }
            Granularity::PerLayer => {
                let counts =
                    mcnn_sequences::counts::sample_counts(&rows, 54, Scheme::Jittered, 3).unwrap();
                counts
                    .q
                    .iter()
                    .map(|&q| counts.summary.scale * q as f32)
                    .collect()
            }
        };
        // In Conv2d's layout: the groups' columns picked back out of the global features.
        assert_eq!(floats(layer.dense_weight()), expected, "{granularity:?}");
    }
}

#[test]
fn the_sparse_path_equals_burns_conv2d_on_every_backend() {
    for (name, config, shape) in geometries() {
        let dense = conv(config, 2);
        let sampling = SamplingConfig::new(Budget::Amount(0.5)).with_seed(4);
        let (layer, _) = SampledConv2d::from_conv2d(&dense, &sampling, name).unwrap();
        let layer = layer.with_kernel(Kernel::Sparse);
        // Burn's own Conv2d, with the materialised integer weights: independent padding and
        // geometry code.
        let mut burn_conv = dense.clone();
        burn_conv.weight = Param::from_tensor(layer.dense_weight());
        let host = host_device();
        host.seed(5);
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &host);
        for_each_backend(|kind, device| {
            let sampled = fork_identical(&layer, &device);
            let reference = fork_identical(&burn_conv, &device);
            let x = x.clone().to_device(&device);
            let path = if kind.is_cpu() {
                Path::CpuConvForward
            } else {
                Path::CubeConvForward
            };
            let before = probe::count(path);
            let got = sampled.forward(x.clone()).into_data();
            assert!(
                probe::count(path) > before,
                "{path:?} did not run on {kind}"
            );
            let want = reference.forward(x.clone()).into_data();
            assert_eq!(got.shape(), want.shape(), "{name} on {kind}");
            got.assert_approx_eq::<f32>(&want, Tolerance::absolute(1e-4));
            sampled
                .forward_reference(x.clone())
                .into_data()
                .assert_approx_eq::<f32>(&want, Tolerance::absolute(1e-4));
            // The dense kernel: Burn's convolution with the counts, scaled after.
            sampled
                .clone()
                .with_kernel(Kernel::Dense)
                .forward(x)
                .into_data()
                .assert_approx_eq::<f32>(&want, Tolerance::absolute(1e-4));
        });
    }
}

#[test]
fn gradients_match_the_reference_and_finite_differences() {
    for (name, config, shape) in geometries() {
        let dense = conv(config, 6);
        let sampling = SamplingConfig::new(Budget::Amount(1.0)).with_seed(7);
        let (layer, _) = SampledConv2d::from_conv2d(&dense, &sampling, name).unwrap();
        let layer = layer.with_kernel(Kernel::Sparse);
        let host = host_device();
        host.seed(8);
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &host);
        for_each_backend(|kind, device| {
            let ad = device.autodiff();
            let sampled = fork_identical(&layer, &ad).train();
            let gradients = |sparse: bool| {
                let x = x.clone().to_device(&ad).autodiff().require_grad();
                let y = if sparse {
                    sampled.forward(x.clone())
                } else {
                    sampled.forward_reference(x.clone())
                };
                let grads = (y.clone() * y).sum().backward();
                (
                    x.grad(&grads).unwrap().into_data(),
                    sampled.scales.grad(&grads).unwrap().into_data(),
                )
            };
            let before = probe::count(Path::AutodiffBackward);
            let (dx, dscale) = gradients(true);
            assert!(
                probe::count(Path::AutodiffBackward) > before,
                "custom backward on {kind}"
            );
            let (rx, rscale) = gradients(false);
            dx.assert_approx_eq::<f32>(&rx, Tolerance::absolute(1e-3));
            dscale.assert_approx_eq::<f32>(&rscale, Tolerance::rel_abs(1e-4, 1e-2));
        });
        // Central differences of Σ y² in the input, on the host, a few entries.
        let ad = host.clone().autodiff();
        let sampled = fork_identical(&layer, &ad);
        let xa = x.clone().to_device(&ad).autodiff().require_grad();
        let y = sampled.forward(xa.clone());
        let dx = floats(xa.grad(&(y.clone() * y).sum().backward()).unwrap());
        let values = floats(x.clone());
        let loss = |at: usize, delta: f32| {
            let mut v = values.clone();
            v[at] += delta;
            let x = Tensor::<4>::from_data(TensorData::new(v, shape), &host);
            let y = layer.forward(x);
            (y.clone() * y).sum().into_scalar::<f32>() as f64
        };
        for at in (0..values.len()).step_by(values.len() / 13) {
            let fd = (loss(at, 1e-2) - loss(at, -1e-2)) / 2e-2;
            assert!(
                (fd - dx[at] as f64).abs() < 2e-2 * (1.0 + fd.abs()),
                "{name}: dx[{at}] fd {fd} vs {}",
                dx[at]
            );
        }
    }
}

#[derive(Module, Debug)]
struct Tiny {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
}

fn tiny() -> Tiny {
    let host = host_device();
    host.seed(9);
    materialize(Tiny {
        conv1: Conv2dConfig::new([3, 4], [3, 3]).init(&host),
        conv2: Conv2dConfig::new([4, 5], [3, 3]).init(&host),
        fc: LinearConfig::new(20, 3).init(&host),
    })
}

#[test]
fn whole_models_sample_convolutions_and_linears_in_visiting_order() {
    let model = tiny();
    let config = SamplingConfig::new(Budget::Amount(0.75)).with_seed(10);
    let (sampled, reports) =
        sample_weights(model.clone(), &LayerKind::ALL, &config, |_| true).unwrap();
    let layers: Vec<&str> = reports.iter().map(|r| r.layer.as_str()).collect();
    assert_eq!(layers, ["conv1", "conv2", "fc"]);
    assert_eq!((reports[1].d_output, reports[1].d_input), (5, 36));
    // Layer i samples with seed + i: conv2 equals the single layer sampled with seed 11.
    let (conv2, _) =
        SampledConv2d::from_conv2d(&model.conv2, &config.clone().with_seed(11), "conv2").unwrap();
    assert_eq!(
        floats(sampled.conv2.weight.val()),
        floats(conv2.dense_weight())
    );
    // The filter selects layers by path; the others are untouched.
    let (only, reports) = sample_weights(model.clone(), &LayerKind::ALL, &config, |path| {
        path == "conv2"
    })
    .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        floats(only.conv1.weight.val()),
        floats(model.conv1.weight.val())
    );
}

#[test]
fn magnitude_pruning_keeps_the_largest_taps_of_every_filter() {
    let model = tiny();
    let baseline = Baseline::Magnitude {
        keep: 0.25,
        granularity: Granularity::PerNeuron,
    };
    let (pruned, reports) =
        apply_baseline(model.clone(), &LayerKind::ALL, baseline, |_| true).unwrap();
    assert_eq!(reports.len(), 3);
    let (before, after) = (
        floats(model.conv2.weight.val()),
        floats(pruned.conv2.weight.val()),
    );
    for (filter, (b, a)) in before.chunks(36).zip(after.chunks(36)).enumerate() {
        assert_eq!(
            a.iter().filter(|&&w| w != 0.0).count(),
            9,
            "filter {filter}"
        );
        let smallest_kept = a
            .iter()
            .filter(|w| **w != 0.0)
            .map(|w| w.abs())
            .fold(f32::MAX, f32::min);
        let largest_dropped = b
            .iter()
            .zip(a)
            .filter(|(_, a)| **a == 0.0)
            .map(|(b, _)| b.abs())
            .fold(0.0, f32::max);
        assert!(smallest_kept >= largest_dropped, "filter {filter}");
    }
}

#[test]
fn save_and_load_round_trip_from_the_configuration() {
    let dense = conv(
        Conv2dConfig::new([4, 8], [3, 3])
            .with_groups(2)
            .with_stride([2, 1]),
        12,
    );
    let config = SamplingConfig::new(Budget::Amount(0.5)).with_seed(13);
    let (layer, report) = SampledConv2d::from_conv2d(&dense, &config, "conv").unwrap();
    assert_eq!(report.stored_bits, Some(layer.rows.layout.bits));
    let host = host_device();
    let x = Tensor::<4>::random([1, 4, 9, 9], Distribution::Default, &host);
    let expected = layer.forward(x.clone()).into_data();
    let path = std::env::temp_dir().join(format!("mcnn-sampled-conv-{}.bpk", std::process::id()));
    layer.clone().save_file(&path).unwrap();
    let json = layer.config().to_string();
    let config =
        <SampledConv2dConfig as burn::config::Config>::load_binary(json.as_bytes()).unwrap();
    let loaded = config.init(&host).load_file(&path);
    loaded.forward(x).into_data().assert_eq(&expected, true);
    std::fs::remove_file(&path).ok();
}

/// Two convolutions with the same taps per filter (4 channels of 3×3 against 1 of 6×6) and
/// the same non-zeros: the recorded channels and kernel size tell their records apart.
#[test]
fn a_record_of_another_geometry_is_refused_at_load_time() {
    let config = SamplingConfig::new(Budget::PerNeuron(5))
        .with_scheme(sampled_linear::SamplingScheme::Systematic);
    let sampled = |c: Conv2dConfig| {
        SampledConv2d::from_conv2d(&conv(c, 3), &config, "c")
            .unwrap()
            .0
    };
    let a = sampled(Conv2dConfig::new([4, 2], [3, 3]));
    let b = sampled(Conv2dConfig::new([1, 2], [6, 6]));
    assert_eq!(a.geometry.taps(), b.geometry.taps());
    let mut layout = b.rows.layout.clone();
    layout.nonzeros = a.rows.layout.nonzeros;
    layout.bits = a.rows.layout.bits;
    let error = SampledConv2dConfig::new(b.geometry.clone(), layout)
        .init(&host_device())
        .try_load_record(a.into_record())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("channels_in: shape mismatch") && error.contains("kernel_size"),
        "{error}"
    );
}

#[test]
fn bad_input_is_named() {
    let mut dense = conv(Conv2dConfig::new([2, 3], [3, 3]), 14);
    let mut values = floats(dense.weight.val());
    values[20] = f32::NAN; // filter 1, tap 2
    dense.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(values, [3, 2, 3, 3]),
        &host_device(),
    ));
    let error = SampledConv2d::from_conv2d(&dense, &SamplingConfig::new(Budget::Amount(1.0)), "c1")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("layer `c1`") && error.contains("input 2 to output 1"),
        "{error}"
    );
    let bad_budget = SamplingConfig::new(Budget::Amount(0.0));
    assert!(SampledConv2d::from_conv2d(&dense, &bad_budget, "c1").is_err());

    let good = conv(Conv2dConfig::new([2, 3], [3, 3]), 15);
    let (layer, _) =
        SampledConv2d::from_conv2d(&good, &SamplingConfig::new(Budget::Amount(1.0)), "c").unwrap();
    let host = host_device();
    for (shape, expected) in [
        ([1, 3, 5, 5], "the input has 3 channels, the layer takes 2"),
        ([1, 2, 2, 5], "smaller than the dilated kernel 3"),
    ] {
        let message = panic_message(|| drop(layer.forward(Tensor::<4>::zeros(shape, &host))));
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
#[should_panic(expected = "groups = 0 for 3 input and 4 output channels")]
fn a_configuration_of_zero_groups_is_refused_by_init() {
    let host = host_device();
    let trained = conv(Conv2dConfig::new([3, 4], [3, 3]), 1);
    let config = SamplingConfig::new(Budget::Amount(0.5));
    let (layer, _) = SampledConv2d::from_conv2d(&trained, &config, "conv").unwrap();
    let mut bad = layer.config();
    bad.geometry.groups = 0;
    bad.init(&host);
}

#[test]
fn a_geometry_of_zero_stride_dilation_or_kernel_is_named() {
    let trained = conv(Conv2dConfig::new([2, 3], [3, 3]), 1);
    let config = SamplingConfig::new(Budget::Amount(0.5));
    let (layer, _) = SampledConv2d::from_conv2d(&trained, &config, "conv").unwrap();
    let rows = floats(trained.weight.val());
    let sampled = SampledWeights::sample(&rows, 3, 18, &config, "conv").unwrap();
    let host = host_device();
    let base = layer.config().geometry;
    for (geometry, expected) in [
        (
            ConvGeometry {
                stride: [0, 1],
                ..base.clone()
            },
            "stride = [0, 1]: both at least 1",
        ),
        (
            ConvGeometry {
                dilation: [1, 0],
                ..base.clone()
            },
            "dilation = [1, 0]: both at least 1",
        ),
        (
            ConvGeometry {
                kernel_size: [0, 3],
                ..base.clone()
            },
            "kernel_size = [0, 3]: both at least 1",
        ),
    ] {
        let mut bad = layer.config();
        bad.geometry = geometry.clone();
        for message in [
            panic_message(|| drop(bad.init(&host))),
            panic_message(|| {
                drop(SampledConv2d::from_sampled(
                    &sampled, &geometry, None, &host,
                ))
            }),
        ] {
            assert!(message.contains(expected), "{message}");
        }
    }
}

fn panic_message(f: impl FnOnce()) -> String {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
    match panic.downcast_ref::<String>() {
        Some(message) => message.clone(),
        None => panic.downcast_ref::<&str>().unwrap().to_string(),
    }
}

/// A filter with fewer sampled taps than the widest reads only its own group's channels on the
/// sparse path, padding slots included: an infinite input in group 0 leaves group 1's output
/// finite, as in Burn's grouped `Conv2d`.
#[test]
fn groups_stay_apart_where_another_group_s_input_is_infinite() {
    let host = host_device();
    // Filter 0 (group 0): three taps of 1; filter 1 (group 1): one tap of −2.
    let mut values = vec![0.0f32; 2 * 9];
    values[..3].fill(1.0);
    values[9 + 4] = -2.0;
    let mut dense = conv(Conv2dConfig::new([2, 2], [3, 3]).with_groups(2), 1);
    dense.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(values, [2, 1, 3, 3]),
        &host,
    ));
    let config = SamplingConfig::new(Budget::Amount(1.0)).with_scheme(SamplingScheme::Systematic);
    let (layer, _) = SampledConv2d::from_conv2d(&dense, &config, "grouped").unwrap();
    let layer = layer.with_kernel(Kernel::Sparse);
    let mut burn_conv = dense.clone();
    burn_conv.weight = Param::from_tensor(layer.dense_weight());
    // Channel 0 (group 0's input) infinite, channel 1 finite.
    let finite = Tensor::<4>::random([2, 1, 6, 5], Distribution::Normal(0.0, 1.0), &host);
    let x = Tensor::cat(vec![finite.clone().ones_like() * f32::INFINITY, finite], 1);
    for_each_backend(|kind, device| {
        let group_1 = |y: Tensor<4>| y.narrow(1, 1, 1);
        let got = group_1(fork_identical(&layer, &device).forward(x.clone().to_device(&device)));
        let want =
            group_1(fork_identical(&burn_conv, &device).forward(x.clone().to_device(&device)));
        assert!(
            floats(got.clone()).iter().all(|v| v.is_finite()),
            "group 1 read group 0's channel on {kind}"
        );
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-4));
    });
}

/// `Kernel::Auto` takes the direct sparse convolution while the widest filter reads fewer than
/// `DENSE_FROM` of its taps, whatever the layer's size; the other kernels are what they say.
#[test]
fn auto_takes_the_sparse_path_below_dense_from() {
    let dense = conv(Conv2dConfig::new([6, 16], [5, 5]), 3);
    let sample = |amount: f64| {
        let config = SamplingConfig::new(Budget::Amount(amount)).with_seed(4);
        SampledConv2d::from_conv2d(&dense, &config, "conv2")
            .unwrap()
            .0
    };
    for (amount, sparse) in [(0.1, true), (8.0, false)] {
        let layer = sample(amount);
        let widest = layer.fan_in() as f64 / 150.0;
        assert_eq!(
            widest < SampledConv2d::DENSE_FROM,
            sparse,
            "K = {amount}: {widest}"
        );
        assert_eq!(layer.is_sparse(), sparse, "K = {amount}");
        assert!(layer.clone().with_kernel(Kernel::Sparse).is_sparse());
        assert!(!layer.with_kernel(Kernel::Dense).is_sparse());
    }
}
