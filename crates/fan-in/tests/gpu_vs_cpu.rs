//! The CubeCL kernels against the CPU kernels from identical inputs, at a size where every
//! launch spans many cubes and some inputs are read by many edges, none by others.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, DeviceKind, Distribution, Tensor, TensorData, Tolerance};
use mcnn_backends::host_device;
use mcnn_fan_in::fan_in;

/// Forward output, input gradient and weight gradient of `Σ r ⊙ fan_in(x)`.
fn run(c: &common::Case, r: &Tensor<2>, device: &Device) -> [TensorData; 3] {
    let ad = device.clone().autodiff();
    let c = c.to_device(&ad);
    let (x, w) = (
        c.input.autodiff().require_grad(),
        c.weight.autodiff().require_grad(),
    );
    let y = fan_in(x.clone(), w.clone(), c.indices, Some(c.bias));
    let grads = (y.clone() * r.clone().to_device(&ad)).sum().backward();
    [
        y.into_data(),
        x.grad(&grads).unwrap().into_data(),
        w.grad(&grads).unwrap().into_data(),
    ]
}

#[test]
fn wgpu_agrees_with_the_cpu_and_repeats_itself() {
    let host = host_device();
    // Indices concentrated on the first inputs: long segments in the transposed index.
    let mut c = common::case(&host, 33, 300, 257, 17);
    let skewed: Vec<i64> = (0..257 * 17)
        .map(|e| ((e * e) % 1009 % 300) as i64 / 3)
        .collect();
    c.indices = Tensor::from_data(TensorData::new(skewed, [257, 17]), &host);
    host.seed(2);
    let r = Tensor::<2>::random([33, 257], Distribution::Normal(0.0, 1.0), &host);
    let expected = run(&c, &r, &host);
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    let first = run(&c, &r, &gpu);
    for (name, (got, want)) in ["output", "input grad", "weight grad"]
        .iter()
        .zip(first.iter().zip(&expected))
    {
        eprintln!("checking {name}");
        got.assert_approx_eq::<f32>(want, Tolerance::absolute(1e-3));
    }
    // The transposed index is built with atomics; sorting its segments makes the sums exact
    // repeats.
    let second = run(&c, &r, &gpu);
    for (a, b) in first.iter().zip(&second) {
        a.assert_eq(b, true);
    }
}
