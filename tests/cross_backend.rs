//! The same model, from the same weights, on every compiled backend: forward passes and the
//! first training steps agree with the host backend.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData, Tolerance};
use mcnn::backends::{for_each_backend, fork_identical, host_device};
use mcnn::models::{LeNet5, LeNet5Config};

fn inputs(host: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    host.seed(3);
    let images = Tensor::random([8, 1, 28, 28], Distribution::Normal(0.0, 1.0), host);
    let targets = Tensor::from_data(TensorData::new((0..8i64).collect(), [8]), host);
    (images, targets)
}

fn model(host: &Device) -> LeNet5 {
    host.seed(11);
    LeNet5Config::new().init(host)
}

#[test]
fn lenet_forward_agrees_with_the_host() {
    let host = host_device();
    let model = model(&host);
    let (images, _) = inputs(&host);
    let expected = fork_identical(&model, &host)
        .forward(images.clone())
        .into_data();
    for_each_backend(|kind, device| {
        let model = fork_identical(&model, &device);
        let logits = model.forward(images.clone().to_device(&device)).into_data();
        logits.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-4));
        eprintln!("   {kind}: forward agrees");
    });
}

/// Losses of three Adam steps on one batch.
fn losses(model: LeNet5, images: Tensor<4>, targets: Tensor<1, Int>, device: &Device) -> Vec<f32> {
    let device = device.clone().autodiff();
    let mut model = model.fork(&device).train();
    let images = images.to_device(&device);
    let targets = targets.to_device(&device);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    (0..3)
        .map(|_| {
            let loss = loss_fn.forward(model.forward(images.clone()), targets.clone());
            let value = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(1e-3, model.clone(), grads);
            value
        })
        .collect()
}

#[test]
fn first_training_steps_agree_with_the_host() {
    let host = host_device();
    let model = model(&host);
    let (images, targets) = inputs(&host);
    let expected = losses(
        fork_identical(&model, &host),
        images.clone(),
        targets.clone(),
        &host,
    );
    assert!(
        expected[2] < expected[0],
        "the loss goes down: {expected:?}"
    );
    for_each_backend(|kind, device| {
        let got = losses(
            fork_identical(&model, &device),
            images.clone(),
            targets.clone(),
            &device,
        );
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                (g - e).abs() < 1e-4,
                "{kind}: losses {got:?} vs host {expected:?}"
            );
        }
    });
}
