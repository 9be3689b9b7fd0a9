//! `PartitionDropout` on every compiled backend: the cycle structure, the scaling, seeds,
//! inference, the generator budget, save/load of the cycle position, and bad input.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use mcnn_backends::{for_each_backend, host_device};
use partition_dropout::{Assignment, Mode, PartitionDropout, PartitionDropoutConfig, Scope};

const ASSIGNMENTS: [Assignment; 4] = [
    Assignment::Lfsr,
    Assignment::Hash,
    Assignment::Balanced,
    Assignment::LowDiscrepancy,
];

/// The outputs of `steps` training forwards of a ones input, as rows of values.
fn outputs(
    dropout: &PartitionDropout,
    dims: [usize; 2],
    steps: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let ad = device.clone().autodiff();
    (0..steps)
        .map(|_| {
            let y = dropout.forward(Tensor::<2>::ones(dims, &ad));
            y.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        })
        .collect()
}

#[test]
fn drop_one_drops_every_element_exactly_once_per_cycle_and_keeps_the_mean() {
    for_each_backend(|kind, device| {
        for assignment in ASSIGNMENTS {
            let p = 5;
            let dropout = PartitionDropoutConfig::new(p)
                .with_assignment(assignment)
                .with_seed(3)
                .init();
            let ys = outputs(&dropout, [4, 30], 2 * p, &device);
            for cycle in ys.chunks(p) {
                for e in 0..4 * 30 {
                    let zeros = cycle.iter().filter(|y| y[e] == 0.0).count();
                    assert_eq!(zeros, 1, "{kind} {assignment:?}: element {e}");
                    // Kept P − 1 times at P / (P − 1): the cycle's mean is the input.
                    let mean = cycle.iter().map(|y| y[e]).sum::<f32>() / p as f32;
                    assert!(
                        (mean - 1.0).abs() < 1e-5,
                        "{kind} {assignment:?}: mean {mean}"
                    );
                }
            }
        }
    });
}

#[test]
fn keep_one_keeps_every_element_exactly_once_per_cycle() {
    let host = host_device();
    let dropout = PartitionDropoutConfig::new(3)
        .with_mode(Mode::KeepOne)
        .init();
    for cycle in outputs(&dropout, [2, 50], 6, &host).chunks(3) {
        for e in 0..100 {
            let kept: Vec<f32> = cycle.iter().map(|y| y[e]).filter(|&v| v != 0.0).collect();
            assert_eq!(kept, vec![3.0], "element {e}");
        }
    }
}

#[test]
fn same_seed_same_masks_other_seed_other_masks() {
    let host = host_device();
    let make = |seed| PartitionDropoutConfig::new(4).with_seed(seed).init();
    let a = outputs(&make(1), [3, 40], 8, &host);
    assert_eq!(a, outputs(&make(1), [3, 40], 8, &host));
    assert_ne!(a, outputs(&make(2), [3, 40], 8, &host));
}

#[test]
fn inference_is_the_identity_and_does_not_advance() {
    for_each_backend(|_, device| {
        let dropout = PartitionDropoutConfig::new(2).init();
        let x = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device);
        dropout
            .forward(x.clone())
            .into_data()
            .assert_eq(&x.clone().into_data(), true);
        let valid = dropout.valid();
        valid
            .forward(x.clone().autodiff())
            .into_data()
            .assert_eq(&x.into_data(), true);
        assert_eq!(dropout.step.get(), 0);
    });
}

#[test]
fn one_random_number_per_neuron_per_cycle() {
    let host = host_device();
    let dropout = PartitionDropoutConfig::new(4).init();
    outputs(&dropout, [3, 10], 4, &host);
    assert_eq!(dropout.draws(), 30, "one cycle: 3 samples × 10 neurons");
    outputs(&dropout, [3, 10], 4, &host);
    assert_eq!(dropout.draws(), 60, "two cycles");
    dropout.reset();
    assert_eq!((dropout.draws(), dropout.step.get()), (0, 0));
}

#[test]
fn per_batch_and_channel_scopes_share_masks_where_they_should() {
    let host = host_device();
    let per_batch = PartitionDropoutConfig::new(3)
        .with_scope(Scope::PerBatch)
        .init();
    for y in outputs(&per_batch, [4, 12], 3, &host) {
        assert!(
            y.chunks(12).all(|row| row == &y[..12]),
            "every sample has the same mask"
        );
    }
    let channel = PartitionDropoutConfig::new(2)
        .with_scope(Scope::Channel)
        .init();
    let ad = host.clone().autodiff();
    let y = channel
        .forward(Tensor::<4>::ones([2, 6, 3, 3], &ad))
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    for plane in y.chunks(9) {
        assert!(
            plane.iter().all(|&v| v == plane[0]),
            "whole channels: {plane:?}"
        );
    }
}

#[test]
fn the_cycle_position_is_saved_and_loaded() {
    let host = host_device();
    let dropout = PartitionDropoutConfig::new(3).with_seed(5).init();
    outputs(&dropout, [2, 8], 4, &host);
    let path =
        std::env::temp_dir().join(format!("mcnn-partition-dropout-{}.bpk", std::process::id()));
    dropout.clone().save_file(&path).unwrap();
    let loaded = PartitionDropoutConfig::new(3)
        .with_seed(5)
        .init()
        .load_file(&path);
    std::fs::remove_file(&path).ok();
    assert_eq!(loaded.step.get(), 4);
    assert_eq!(
        outputs(&loaded, [2, 8], 3, &host),
        outputs(&dropout, [2, 8], 3, &host)
    );
}

#[derive(Module, Debug)]
struct Net {
    linear: Linear,
    dropout: PartitionDropout,
}

#[test]
fn optimizer_steps_keep_the_count_running() {
    let host = host_device();
    let ad = host.autodiff();
    let mut net = Net {
        linear: LinearConfig::new(4, 6).init(&ad),
        dropout: PartitionDropoutConfig::new(3).init(),
    };
    let mut optimizer = AdamConfig::new().init();
    let x = Tensor::<2>::ones([2, 4], &ad);
    for step in 1..=4 {
        let loss = net.dropout.forward(net.linear.forward(x.clone())).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optimizer.step(1e-2, net, grads);
        assert_eq!(net.dropout.step.get(), step);
    }
}

#[test]
#[should_panic(expected = "PartitionDropout: invalid `partitions` = 1: at least 2")]
fn one_partition_is_refused() {
    PartitionDropoutConfig::new(1).init();
}

#[test]
#[should_panic(expected = "invalid `partitions` = 16777217: at most 16777216 (2^24")]
fn more_partitions_than_the_draws_resolve_are_refused() {
    PartitionDropoutConfig::new((1 << 24) + 1).init();
}

#[test]
fn try_init_returns_the_error_and_accepts_the_limits() {
    for partitions in [0, 1, (1 << 24) + 1, usize::MAX] {
        let error = PartitionDropoutConfig::new(partitions)
            .try_init()
            .unwrap_err();
        assert_eq!(error.parameter, "partitions");
        assert_eq!(error.value, partitions.to_string());
    }
    for partitions in [2, 1 << 24] {
        let dropout = PartitionDropoutConfig::new(partitions).try_init().unwrap();
        assert_eq!(dropout.partitions.get(), partitions);
    }
}

#[test]
#[should_panic(expected = "needs a batch axis (rank ≥ 2), got rank 1")]
fn rank_one_input_is_refused() {
    let ad = host_device().autodiff();
    PartitionDropoutConfig::new(2)
        .init()
        .forward(Tensor::<1>::ones([3], &ad));
}

#[test]
#[should_panic(expected = "Scope::Channel takes [batch, channels, height, width], got rank 2")]
fn channel_scope_needs_rank_four() {
    let ad = host_device().autodiff();
    PartitionDropoutConfig::new(2)
        .with_scope(Scope::Channel)
        .init()
        .forward(Tensor::<2>::ones([2, 3], &ad));
}

/// An empty input of the wrong rank is still the wrong rank.
#[test]
#[should_panic(expected = "Scope::Channel takes [batch, channels, height, width], got rank 2")]
fn channel_scope_needs_rank_four_even_when_empty() {
    let ad = host_device().autodiff();
    PartitionDropoutConfig::new(2)
        .with_scope(Scope::Channel)
        .init()
        .forward(Tensor::<2>::ones([0, 3], &ad));
}

#[test]
fn data_survives_masking_exactly() {
    // Kept values are the input times P/(P-1), dropped ones exactly zero.
    let host = host_device();
    let dropout = PartitionDropoutConfig::new(4).init();
    let x = Tensor::<2>::from_data(
        TensorData::new((1..=16).map(|v| v as f32).collect::<Vec<_>>(), [2, 8]),
        &host.clone().autodiff(),
    );
    let y = dropout
        .forward(x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    for (i, v) in y.iter().enumerate() {
        let x = (i + 1) as f32;
        assert!(*v == 0.0 || (*v - x * 4.0 / 3.0).abs() < 1e-5, "{i}: {v}");
    }
}

mod bernoulli {
    use super::*;
    use partition_dropout::{BernoulliDropout, BernoulliDropoutConfig};

    fn zeros_and_mean(dropout: &BernoulliDropout, device: &Device) -> (usize, f32) {
        let y = dropout.forward(Tensor::<2>::ones([50, 200], &device.clone().autodiff()));
        let y = y
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        (
            y.iter().filter(|&&v| v == 0.0).count(),
            y.iter().sum::<f32>() / y.len() as f32,
        )
    }

    #[test]
    fn drops_at_the_configured_rate_and_keeps_the_mean() {
        for_each_backend(|kind, device| {
            // 10 000 elements at t = 0.2: 2000 zeros expected, sd 40.
            let dropout = BernoulliDropoutConfig::new(0.2).with_seed(4).init();
            let (zeros, mean) = zeros_and_mean(&dropout, &device);
            assert!((1800..2200).contains(&zeros), "{kind}: {zeros}");
            assert!((mean - 1.0).abs() < 0.03, "{kind}: mean {mean}");
        });
    }

    #[test]
    fn same_seed_same_masks_and_a_new_mask_every_step() {
        let host = host_device();
        let a = BernoulliDropoutConfig::new(0.5).with_seed(9).init();
        let b = BernoulliDropoutConfig::new(0.5).with_seed(9).init();
        let ad = host.autodiff();
        let x = Tensor::<2>::ones([4, 32], &ad);
        let (a1, b1) = (
            a.forward(x.clone()).into_data(),
            b.forward(x.clone()).into_data(),
        );
        a1.assert_eq(&b1, true);
        assert_ne!(a1, a.forward(x).into_data());
    }

    #[test]
    #[should_panic(expected = "BernoulliDropout: invalid `prob` = 1: 0, or in [2^-24, 1 − 2^-24]")]
    fn prob_one_is_refused() {
        BernoulliDropoutConfig::new(1.0).init();
    }

    /// 0.99999999 rounds to 1.0 in f32: every element would be zeroed.
    #[test]
    #[should_panic(expected = "invalid `prob` = 0.99999999")]
    fn prob_that_rounds_to_one_is_refused() {
        BernoulliDropoutConfig::new(0.99999999).init();
    }

    /// Below 2^-24 every rate drops as often as 2^-24 (a draw of exactly 0): refused, not
    /// silently raised. 0 (no dropout) and the two limits are accepted.
    #[test]
    fn try_init_refuses_rates_off_the_draws_grid() {
        use partition_dropout::{MAX_PROB, MIN_PROB};
        for prob in [1e-9, MIN_PROB / 2.0, -0.1, 1.0, f64::NAN, f64::INFINITY] {
            let error = BernoulliDropoutConfig::new(prob).try_init().unwrap_err();
            assert_eq!(error.parameter, "prob", "{prob}");
        }
        for prob in [0.0, MIN_PROB, 0.5, MAX_PROB] {
            assert_eq!(
                BernoulliDropoutConfig::new(prob).try_init().unwrap().prob,
                prob
            );
        }
    }
}

/// The gradient through the custom backward is the upstream gradient masked like the
/// forward (with a ones input the forward's output *is* the scaled mask), on every backend,
/// from the same host-drawn partition tables: every backend gives the host's masks.
#[test]
fn the_custom_backward_masks_the_gradient_and_backends_agree() {
    let host = host_device();
    host.seed(6);
    let r = Tensor::<2>::random([3, 20], burn::tensor::Distribution::Normal(0.0, 1.0), &host);
    let run = |device: &Device| {
        let dropout = PartitionDropoutConfig::new(4).with_seed(2).init();
        let ad = device.clone().autodiff();
        let x = Tensor::<2>::ones([3, 20], &ad).autodiff().require_grad();
        let before = partition_dropout::backward_passes();
        let y = dropout.forward(x.clone());
        let grads = (y.clone() * r.clone().to_device(&ad)).sum().backward();
        let dx = x.grad(&grads).unwrap().into_data();
        assert!(
            partition_dropout::backward_passes() > before,
            "custom backward did not run"
        );
        (y.into_data(), dx)
    };
    let (y_host, dx_host) = run(&host);
    let expected = (Tensor::<2>::from_data(y_host.clone(), &host) * r.clone()).into_data();
    dx_host.assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(1e-6));
    for_each_backend(|kind, device| {
        let launches = partition_dropout::cube_launches();
        let (y, dx) = run(&device);
        if kind == mcnn_backends::BackendKind::Wgpu {
            assert!(
                partition_dropout::cube_launches() >= launches + 2,
                "the kernel did not run"
            );
        }
        y.assert_approx_eq::<f32>(&y_host, burn::tensor::Tolerance::absolute(1e-6));
        dx.assert_approx_eq::<f32>(&dx_host, burn::tensor::Tolerance::absolute(1e-6));
        eprintln!("   {kind}: masks and gradients agree with the host");
    });
}

/// Central finite differences of `L(x) = Σ dropout(x) ⊙ r` against the custom backward, at
/// step 0 of the cycle (reset before every evaluation, so each sees the same mask). `L` is
/// linear in `x`, so the differences are exact up to rounding.
#[test]
fn the_custom_backward_matches_finite_differences() {
    let host = host_device();
    host.seed(9);
    let x0 = Tensor::<2>::random([2, 12], burn::tensor::Distribution::Normal(0.0, 1.0), &host);
    let r = Tensor::<2>::random([2, 12], burn::tensor::Distribution::Normal(0.0, 1.0), &host);
    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        for mode in [Mode::DropOne, Mode::KeepOne] {
            let dropout = PartitionDropoutConfig::new(3)
                .with_mode(mode)
                .with_seed(4)
                .init();
            let r = r.clone().to_device(&ad);
            let loss = |x: Tensor<2>| -> Tensor<1> {
                dropout.reset();
                (dropout.forward(x) * r.clone()).sum()
            };
            let x = x0.clone().to_device(&ad).autodiff().require_grad();
            let grads = loss(x.clone()).backward();
            let analytic = x.grad(&grads).unwrap().into_data().convert::<f32>();
            let analytic = analytic.try_to_vec::<f32>().unwrap();
            let base = x0
                .clone()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            let h = 1e-2f32;
            for i in 0..base.len() {
                let at = |delta: f32| {
                    let mut values = base.clone();
                    values[i] += delta;
                    let x = Tensor::<2>::from_data(TensorData::new(values, [2, 12]), &ad);
                    loss(x).into_scalar::<f32>()
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (numeric - analytic[i]).abs() < 2e-3 * (1.0 + analytic[i].abs()),
                    "{kind} {mode:?}: element {i}: finite difference {numeric}, backward {}",
                    analytic[i]
                );
            }
        }
    });
}
