//! `ResampledLinear`: dense at inference, the sampled estimate in training (a new sample
//! every step), gradients on the sampled entries only, on every compiled backend.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Distribution, Tensor, Tolerance};
use mcnn_backends::{for_each_backend, host_device};
use mcnn_fan_in::probe::{self, Path};
use sampled_linear::{
    Budget, Kernel, ResampledLinear, ResampledLinearConfig, SampledWeights, SamplingConfig,
    input_major_tensor, output_major,
};

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// The host layer's weights and bias as trainable parameters on `ad`, from step 0.
fn trainable_on(
    layer: &ResampledLinear,
    sampling: &SamplingConfig,
    ad: &Device,
) -> ResampledLinear {
    let bias = layer
        .linear
        .bias
        .as_ref()
        .map(|b| Param::from_tensor(b.val().to_device(ad).autodiff()));
    ResampledLinear::from_linear(
        Linear {
            weight: Param::from_tensor(layer.linear.weight.val().to_device(ad).autodiff()),
            bias,
        },
        sampling.clone(),
    )
}

#[test]
fn dense_at_inference() {
    let host = host_device();
    host.seed(1);
    let layer =
        ResampledLinearConfig::new(12, 5, SamplingConfig::new(Budget::Amount(0.5))).init(&host);
    let x = Tensor::<2>::random([3, 12], Distribution::Normal(0.0, 1.0), &host);
    layer
        .forward(x.clone())
        .into_data()
        .assert_eq(&layer.linear.forward(x).into_data(), true);
    assert_eq!(layer.steps(), 0, "inference does not advance the samples");
}

/// Step `s` computes the dense product with the materialised estimate `scale · q` of seed
/// `seed + s`; its gradient is `f ⊙ (xᵀ dy)` on the sampled entries and 0 elsewhere: with
/// either kernel (the fan-in op, or the product with the masked weights).
#[test]
fn training_steps_use_fresh_samples_and_send_gradients_to_them_alone() {
    for kernel in [Kernel::Sparse, Kernel::Dense] {
        steps_match_the_materialised_estimate(kernel);
    }
}

fn steps_match_the_materialised_estimate(kernel: Kernel) {
    let host = host_device();
    host.seed(2);
    let sampling = SamplingConfig::new(Budget::Amount(0.3)).with_seed(40);
    let layer = ResampledLinearConfig::new(20, 6, sampling.clone()).init(&host);
    let layer = mcnn_backends::materialize(layer);
    let x = Tensor::<2>::random([4, 20], Distribution::Normal(0.0, 1.0), &host);
    let r = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &host);
    let (rows, d_output, d_input) = output_major(&layer.linear.weight.val());
    let bias = layer.linear.bias.as_ref().unwrap().val();

    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let trained = trainable_on(&layer, &sampling, &ad).with_kernel(kernel);
        let mut previous = None;
        for step in 0..2u64 {
            let expected = SampledWeights::sample(
                &rows,
                d_output,
                d_input,
                &sampling.clone().with_seed(40 + step),
                "x",
            )
            .unwrap();
            let estimate = input_major_tensor(&expected.dequantize(), d_output, d_input, &host);
            let want = x.clone().matmul(estimate) + bias.clone().unsqueeze();

            let xs = x.clone().to_device(&ad).autodiff();
            let path = if kind.is_cpu() {
                Path::CpuForward
            } else {
                Path::CubeForward
            };
            let sampler = Path::CubeColumnSampler;
            let (before, backward_before, sampler_before) = (
                probe::count(path),
                probe::count(Path::AutodiffBackward),
                probe::count(sampler),
            );
            let y = trained.forward(xs.clone());
            let grads = (y.clone() * r.clone().to_device(&ad)).sum().backward();
            y.into_data()
                .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-4));
            // The probes count for the whole process: only a positive count proves a path.
            if kernel == Kernel::Sparse {
                assert!(
                    probe::count(path) > before,
                    "{kind}: the fan-in kernel did not run"
                );
                assert!(
                    probe::count(Path::AutodiffBackward) > backward_before,
                    "{kind}: no custom backward"
                );
            } else if !kind.is_cpu() {
                // The dense kernel samples on the GPU, where the weights are.
                assert!(
                    probe::count(sampler) > sampler_before,
                    "{kind}: the device sampler did not run"
                );
            }
            let nonzeros = expected.q.iter().filter(|&&q| q != 0).count();
            assert_eq!(trained.last_sample().unwrap().nonzeros, nonzeros, "{kind}");

            // Expected weight gradient, Burn's layout [in, out]: f[o,j] · Σ_b x[b,j] r[b,o].
            let xr = values(x.clone().transpose().matmul(r.clone()));
            let mut want_grad = vec![0.0f32; d_input * d_output];
            for o in 0..d_output {
                for j in 0..d_input {
                    let q = expected.q[o * d_input + j];
                    if q != 0 {
                        let f = expected.scales[o] * q as f32 / rows[o * d_input + j];
                        want_grad[j * d_output + o] = f * xr[j * d_output + o];
                    }
                }
            }
            let grad = trained.linear.weight.grad(&grads).unwrap();
            let grad = grad
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{kind} {kernel:?} step {step}: gradient {i}: {g} vs {w}"
                );
            }
            assert!(
                previous.as_ref() != Some(&expected.q),
                "{kind}: step {step} repeated the samples"
            );
            previous = Some(expected.q);
        }
        assert_eq!(trained.steps(), 2);
    });
}

#[test]
fn the_training_output_is_unbiased_over_steps() {
    for kernel in [Kernel::Sparse, Kernel::Dense] {
        output_is_unbiased(kernel);
    }
}

fn output_is_unbiased(kernel: Kernel) {
    let host = host_device();
    host.seed(3);
    let ad = host.clone().autodiff();
    let layer = ResampledLinearConfig::new(10, 4, SamplingConfig::new(Budget::PerNeuron(3)))
        .with_kernel(kernel)
        .init(&ad);
    let x = Tensor::<2>::random([2, 10], Distribution::Normal(0.0, 1.0), &ad);
    let exact = layer.linear.forward(x.clone());
    let steps = 400;
    let mut mean = exact.zeros_like();
    for _ in 0..steps {
        mean = mean + layer.forward(x.clone()) / steps as f32;
    }
    let error = (mean - exact.clone()).abs().max().into_scalar::<f32>();
    let size = exact.abs().max().into_scalar::<f32>();
    assert!(
        error < 0.1 * size,
        "{kernel:?}: mean error {error} against outputs of size {size}"
    );
}

#[test]
#[should_panic(expected = "invalid `budget` = PerNeuron(0)")]
fn a_zero_budget_is_refused_at_init() {
    ResampledLinearConfig::new(4, 2, SamplingConfig::new(Budget::PerNeuron(0)))
        .init(&host_device());
}

/// The step is recorded: a layer loaded from a checkpoint taken after two steps draws the
/// samples of step 2 next, as the original does.
#[test]
fn the_step_is_saved_and_training_resumes_with_the_next_samples() {
    use burn::module::Module;
    let host = host_device();
    host.seed(3);
    let config = ResampledLinearConfig::new(10, 4, SamplingConfig::new(Budget::Amount(0.5)));
    let layer = config.init(&host);
    let ad = host.clone().autodiff();
    let trained = layer.fork(&ad);
    let x = Tensor::<2>::random([2, 10], Distribution::Normal(0.0, 1.0), &ad);
    for _ in 0..2 {
        let _ = trained.forward(x.clone());
    }
    let record = trained.clone().into_record();
    let resumed = config.init(&host).load_record(record).fork(&ad);
    assert_eq!(resumed.steps(), 2);
    values(resumed.forward(x.clone()))
        .iter()
        .zip(values(trained.forward(x)))
        .for_each(|(a, b)| assert_eq!(*a, b));
}

/// `Kernel::Auto` trains a large layer through the fan-in op when every row keeps less than
/// `SPARSE_BELOW` of its inputs.
#[test]
fn auto_takes_the_fan_in_op_for_a_sparse_sample_of_a_large_layer() {
    let ad = host_device().autodiff();
    // 512 × 128 weights (Kernel::SPARSE_FROM_WEIGHTS), at most 8 of 512 inputs per row.
    let layer =
        ResampledLinearConfig::new(512, 128, SamplingConfig::new(Budget::PerNeuron(8))).init(&ad);
    const { assert!(8.0 < ResampledLinear::SPARSE_BELOW * 512.0) };
    let x = Tensor::<2>::random([2, 512], Distribution::Normal(0.0, 1.0), &ad);
    let before = probe::count(Path::CpuForward);
    let _ = layer.forward(x);
    assert!(
        probe::count(Path::CpuForward) > before,
        "the fan-in op did not run"
    );
}

/// A NaN weight stops a training step with the weight named, whichever path samples it.
#[test]
fn a_non_finite_weight_is_named_in_training() {
    for kernel in [Kernel::Dense, Kernel::Sparse] {
        for_each_backend(|kind, device| {
            let ad = device.autodiff();
            let layer = ResampledLinearConfig::new(6, 3, SamplingConfig::new(Budget::Amount(0.5)))
                .with_kernel(kernel)
                .init(&ad);
            let mut w = values(layer.linear.weight.val());
            w[2 * 3 + 1] = f32::NAN; // input 2, output 1
            let weight = Tensor::<2>::from_data(burn::tensor::TensorData::new(w, [6, 3]), &ad);
            let layer = ResampledLinear::from_linear(
                Linear {
                    weight: Param::from_tensor(weight),
                    bias: None,
                },
                SamplingConfig::new(Budget::Amount(0.5)),
            )
            .with_kernel(kernel);
            let x = Tensor::<2>::ones([1, 6], &ad);
            let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                layer.forward(x);
            }))
            .expect_err("a NaN weight must stop the step");
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(
                message.contains("input 2 to output 1 is NaN"),
                "{kind} {kernel:?}: {message}"
            );
        });
    }
}

/// `Kernel::Auto` on a layer large enough for the fan-in op, with `N` above its threshold: on a
/// GPU the step samples on the device and reads back the widest row to choose the kernel. The
/// output is the estimate of the host's sample, whichever kernel it chose.
#[test]
fn auto_on_a_large_layer_computes_the_host_estimate() {
    let host = host_device();
    host.seed(8);
    let sampling = SamplingConfig::new(Budget::PerNeuron(64)).with_seed(21);
    let layer = mcnn_backends::materialize(
        ResampledLinearConfig::new(512, 128, sampling.clone()).init(&host),
    );
    const { assert!(64.0 >= ResampledLinear::SPARSE_BELOW * 512.0) };
    let (rows, d_output, d_input) = output_major(&layer.linear.weight.val());
    let expected = SampledWeights::sample(&rows, d_output, d_input, &sampling, "x").unwrap();
    let x = Tensor::<2>::random([3, 512], Distribution::Normal(0.0, 1.0), &host);
    let bias = layer.linear.bias.as_ref().unwrap().val();
    let want = x.clone().matmul(input_major_tensor(
        &expected.dequantize(),
        d_output,
        d_input,
        &host,
    )) + bias.clone().unsqueeze();
    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let trained = trainable_on(&layer, &sampling, &ad);
        let sampled_before = probe::count(Path::CubeColumnSampler);
        let y = trained.forward(x.clone().to_device(&ad).autodiff());
        y.into_data()
            .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(1e-3));
        if !kind.is_cpu() {
            assert!(
                probe::count(Path::CubeColumnSampler) > sampled_before,
                "{kind}: not sampled on the device"
            );
        }
        let nonzeros = expected.q.iter().filter(|&&q| q != 0).count();
        assert_eq!(trained.last_sample().unwrap().nonzeros, nonzeros, "{kind}");
    });
}
