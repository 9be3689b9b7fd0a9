//! The GPU's transposed index is built once per indices tensor: the second backward pass
//! through the same indices finds it, new indices build their own, and the gradients stay
//! those of the CPU. (Alone in its test binary: the build counter is process-wide.)
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, DeviceKind, Int, Tensor, TensorData, Tolerance};
use mcnn_backends::host_device;
use mcnn_fan_in::fan_in;
use mcnn_fan_in::probe::{self, Path};

/// The input gradient of `Σ fan_in(x)` with `indices` (on `device`, with autodiff), and how
/// many transposed indices the GPU built for it.
fn input_grad(c: &common::Case, indices: &Tensor<2, Int>, device: &Device) -> (TensorData, u64) {
    let before = probe::count(Path::CubeTransposedIndex);
    let ad = device.clone().autodiff();
    let x = c.input.clone().to_device(&ad).autodiff().require_grad();
    let y = fan_in(
        x.clone(),
        c.weight.clone().to_device(&ad),
        indices.clone(),
        None,
    );
    let dx = x.grad(&y.sum().backward()).unwrap().into_data();
    (dx, probe::count(Path::CubeTransposedIndex) - before)
}

#[test]
fn the_transposed_index_is_built_once_per_indices_tensor() {
    let host = host_device();
    let c = common::case(&host, 9, 40, 30, 5);
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    let indices = c.indices.clone().to_device(&gpu.clone().autodiff());
    let host_indices = c.indices.clone().to_device(&host.clone().autodiff());
    let (expected, _) = input_grad(&c, &host_indices, &host);

    let (first, built) = input_grad(&c, &indices, &gpu);
    assert_eq!(built, 1, "the first backward builds the index");
    first.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-4));
    let (second, built) = input_grad(&c, &indices, &gpu);
    assert_eq!(built, 0, "the second finds it");
    second.assert_eq(&first, true);

    // Other indices (a new tensor, here the same values shifted) build their own.
    let shifted = (indices.clone() + 1).remainder_scalar(40);
    let (host_shifted, _) = input_grad(&c, &(host_indices + 1).remainder_scalar(40), &host);
    let (got, built) = input_grad(&c, &shifted, &gpu);
    assert_eq!(built, 1);
    got.assert_approx_eq::<f32>(&host_shifted, Tolerance::absolute(1e-4));
    // The first indices are still found, and still right.
    let (again, built) = input_grad(&c, &indices, &gpu);
    assert_eq!(built, 0);
    again.assert_eq(&first, true);
}
