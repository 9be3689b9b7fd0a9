//! The CubeCL kernels against the CPU kernels from identical inputs, at a size where every
//! launch spans many cubes and some inputs are read by many edges, none by others: the fan-in
//! op, the direct sparse convolution, the feature-major ops and the column sampler.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, DeviceKind, Distribution, Tensor, TensorData, Tolerance};
use mcnn_backends::host_device;
use mcnn_fan_in::{
    TapGeometry, fan_in, fan_in_conv, fan_in_feature_major, from_feature_major, sample_columns,
    to_feature_major,
};
use mcnn_sequences::counts::Scheme;

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

/// Output, input gradient and weight gradient of `Σ r ⊙ fan_in_conv(x)`.
fn run_conv(
    c: &common::ConvCase,
    geometry: TapGeometry,
    r: &Tensor<4>,
    device: &Device,
) -> [TensorData; 3] {
    let ad = device.clone().autodiff();
    let c = c.to_device(&ad);
    let (x, w) = (
        c.input.autodiff().require_grad(),
        c.weight.autodiff().require_grad(),
    );
    let y = fan_in_conv(x.clone(), w.clone(), c.taps, geometry, Some(c.bias));
    let grads = (y.clone() * r.clone().to_device(&ad)).sum().backward();
    [
        y.into_data(),
        x.grad(&grads).unwrap().into_data(),
        w.grad(&grads).unwrap().into_data(),
    ]
}

#[test]
fn wgpu_convolution_agrees_with_the_cpu_and_repeats_itself() {
    let host = host_device();
    // AlexNet-like channels with a stride and a dilation: many cubes per launch, and taps
    // concentrated on the first channels (long segments in the transposed taps).
    let geometry = TapGeometry::new([3, 3])
        .with_stride([2, 1])
        .with_dilation([1, 2]);
    let mut c = common::conv_case(&host, [5, 24, 13, 14], 40, 29, geometry);
    let skewed: Vec<i64> = (0..40 * 29)
        .map(|e| ((e * e) % 1009 % 216) as i64 / 2)
        .collect();
    c.taps = Tensor::from_data(TensorData::new(skewed, [40, 29]), &host);
    host.seed(3);
    let r = Tensor::<4>::random([5, 40, 6, 10], Distribution::Normal(0.0, 1.0), &host);
    let expected = run_conv(&c, geometry, &r, &host);
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    let first = run_conv(&c, geometry, &r, &gpu);
    for (name, (got, want)) in ["output", "input grad", "weight grad"]
        .iter()
        .zip(first.iter().zip(&expected))
    {
        eprintln!("checking {name}");
        got.assert_approx_eq::<f32>(want, Tolerance::absolute(1e-3));
    }
    let second = run_conv(&c, geometry, &r, &gpu);
    for (a, b) in first.iter().zip(&second) {
        a.assert_eq(b, true);
    }
}

/// Output, input gradient and weight gradient of `Σ r ⊙ rows(fan_in_feature_major(x))`.
fn run_feature_major(c: &common::Case, r: &Tensor<2>, device: &Device) -> [TensorData; 3] {
    let ad = device.clone().autodiff();
    let c = c.to_device(&ad);
    let (x, w) = (
        c.input.autodiff().require_grad(),
        c.weight.autodiff().require_grad(),
    );
    let batch = x.dims()[0];
    let yt = fan_in_feature_major(
        to_feature_major(x.clone()),
        w.clone(),
        c.indices,
        Some(c.bias),
    );
    let y = from_feature_major(yt, batch);
    let grads = (y.clone() * r.clone().to_device(&ad)).sum().backward();
    [
        y.into_data(),
        x.grad(&grads).unwrap().into_data(),
        w.grad(&grads).unwrap().into_data(),
    ]
}

#[test]
fn wgpu_feature_major_agrees_with_the_cpu_and_repeats_itself() {
    let host = host_device();
    // Three blocks, the last partial, and skewed indices, as for the row-major op.
    let mut c = common::case(&host, 150, 300, 257, 17);
    let skewed: Vec<i64> = (0..257 * 17)
        .map(|e| ((e * e) % 1009 % 300) as i64 / 3)
        .collect();
    c.indices = Tensor::from_data(TensorData::new(skewed, [257, 17]), &host);
    host.seed(4);
    let r = Tensor::<2>::random([150, 257], Distribution::Normal(0.0, 1.0), &host);
    let expected = run_feature_major(&c, &r, &host);
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    let first = run_feature_major(&c, &r, &gpu);
    for (name, (got, want)) in ["output", "input grad", "weight grad"]
        .iter()
        .zip(first.iter().zip(&expected))
    {
        eprintln!("checking {name}");
        got.assert_approx_eq::<f32>(want, Tolerance::absolute(1e-3));
    }
    let second = run_feature_major(&c, &r, &gpu);
    for (a, b) in first.iter().zip(&second) {
        a.assert_eq(b, true);
    }
}

/// The column sampler's kernel against the CPU backend's sampler, at the size of a `Linear`
/// weight whose launch spans many cubes (and every column a long loop): identical counts and
/// scales, for both stratified schemes.
#[test]
fn wgpu_column_sampler_agrees_with_the_cpu() {
    let host = host_device();
    host.seed(6);
    let weight = Tensor::<2>::random([1500, 1100], Distribution::Normal(0.0, 0.05), &host);
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    for (scheme, samples) in [(Scheme::Jittered, 375), (Scheme::Systematic, 4000)] {
        let on = |device: &Device| {
            let sample = sample_columns(weight.clone().to_device(device), samples, scheme, 9);
            sample.check().expect("finite weights");
            (sample.counts.into_data(), sample.scales.into_data())
        };
        let (counts, scales) = on(&host);
        let (gpu_counts, gpu_scales) = on(&gpu);
        gpu_counts
            .convert::<i32>()
            .assert_eq(&counts.convert::<i32>(), true);
        gpu_scales.assert_eq(&scales, true);
    }
}

/// The GPU path does not check indices (a read back per call): an index out of range must
/// still never write out of bounds. Its edge is left out of the input gradient, which then
/// equals that of the same edge made harmless (index 0, weight 0). Negative indices too.
#[test]
fn an_index_out_of_range_is_left_out_of_the_gpu_input_gradient() {
    let gpu = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let (batch, d_input, d_output, k) = (70, 40, 30, 3);
    let host = host_device();
    let c = common::case(&host, batch, d_input, d_output, k);
    let indices = c
        .indices
        .to_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    let weights = c.weight.to_data().try_to_vec::<f32>().unwrap();
    for bad in [d_input as i64, d_input as i64 + 1000, -1] {
        // Edge 1 of row 0 and edge 2 of row 29 go out of range.
        let bad_edges = [1, (d_output - 1) * k + 2];
        let (mut out_of_range, mut harmless, mut zeroed) =
            (indices.clone(), indices.clone(), weights.clone());
        for e in bad_edges {
            out_of_range[e] = bad;
            harmless[e] = 0;
            zeroed[e] = 0.0;
        }
        let grad = |indices: Vec<i64>, weights: Vec<f32>| {
            let x = c.input.clone().to_device(&gpu).autodiff().require_grad();
            let indices = Tensor::from_data(TensorData::new(indices, [d_output, k]), &gpu);
            let weight = Tensor::from_data(TensorData::new(weights, [d_output, k]), &gpu);
            let row_major = fan_in(x.clone(), weight.clone(), indices.clone(), None);
            let dx = x.grad(&row_major.sum().backward()).unwrap().into_data();
            let x = c.input.clone().to_device(&gpu).autodiff().require_grad();
            let blocks = fan_in_feature_major(to_feature_major(x.clone()), weight, indices, None);
            let dx_blocks = x.grad(&blocks.sum().backward()).unwrap().into_data();
            (dx, dx_blocks)
        };
        let (dx, dx_blocks) = grad(out_of_range, weights.clone());
        let (expected, expected_blocks) = grad(harmless, zeroed);
        dx.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
        dx_blocks.assert_approx_eq::<f32>(&expected_blocks, Tolerance::absolute(1e-5));
    }
}
