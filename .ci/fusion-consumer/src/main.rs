//! Uses every mcnn layer on a wgpu device with fusion on; only compiled by CI.

use burn::tensor::{Device, DeviceKind, Tensor};
use mcnn::models::LeNet5Config;

fn main() {
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let model = LeNet5Config::new().init(&device);
    let logits = model.forward(Tensor::zeros([1, 1, 28, 28], &device));
    println!("{:?}", logits.dims());
}
