//! Inputs shared by the integration tests, generated on the host so every backend sees the
//! same numbers.
#![allow(dead_code)]

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use mcnn_fan_in::TapGeometry;

/// A small layer with duplicate indices in some rows and every input used at least once.
pub struct Case {
    pub input: Tensor<2>,
    pub weight: Tensor<2>,
    pub indices: Tensor<2, Int>,
    pub bias: Tensor<1>,
    pub d_input: usize,
}

pub fn case(host: &Device, batch: usize, d_input: usize, d_output: usize, k: usize) -> Case {
    host.seed(17);
    // Row o reads (o·7 + m·3) mod d_input for m in 0..k, and its first index twice when
    // k > 2: duplicates must add up.
    let indices: Vec<i64> = (0..d_output)
        .flat_map(|o| {
            (0..k)
                .map(move |m| if m == k - 1 && k > 2 { 0 } else { m })
                .map(move |m| ((o * 7 + m * 3) % d_input) as i64)
        })
        .collect();
    Case {
        input: Tensor::random([batch, d_input], Distribution::Normal(0.0, 1.0), host),
        weight: Tensor::random([d_output, k], Distribution::Normal(0.0, 1.0), host),
        indices: Tensor::from_data(TensorData::new(indices, [d_output, k]), host),
        bias: Tensor::random([d_output], Distribution::Normal(0.0, 1.0), host),
        d_input,
    }
}

impl Case {
    pub fn to_device(&self, device: &Device) -> Case {
        Case {
            input: self.input.clone().to_device(device),
            weight: self.weight.clone().to_device(device),
            indices: self.indices.clone().to_device(device),
            bias: self.bias.clone().to_device(device),
            d_input: self.d_input,
        }
    }
}

/// A sparse convolution: input `[batch, c_in, height, width]`, `filters` filters of `k` taps.
pub struct ConvCase {
    pub input: Tensor<4>,
    pub weight: Tensor<2>,
    pub taps: Tensor<2, Int>,
    pub bias: Tensor<1>,
}

/// Filter `o` reads taps `(o·7 + m·5) mod (c_in·kh·kw)`, and its first tap twice when
/// `k > 2`.
pub fn conv_case(
    host: &Device,
    input: [usize; 4],
    filters: usize,
    k: usize,
    geometry: TapGeometry,
) -> ConvCase {
    host.seed(23);
    let taps_in = input[1] * geometry.taps_per_channel();
    let taps: Vec<i64> = (0..filters)
        .flat_map(|o| {
            (0..k)
                .map(move |m| if m == k - 1 && k > 2 { 0 } else { m })
                .map(move |m| ((o * 7 + m * 5) % taps_in) as i64)
        })
        .collect();
    ConvCase {
        input: Tensor::random(input, Distribution::Normal(0.0, 1.0), host),
        weight: Tensor::random([filters, k], Distribution::Normal(0.0, 1.0), host),
        taps: Tensor::from_data(TensorData::new(taps, [filters, k]), host),
        bias: Tensor::random([filters], Distribution::Normal(0.0, 1.0), host),
    }
}

impl ConvCase {
    pub fn to_device(&self, device: &Device) -> ConvCase {
        ConvCase {
            input: self.input.clone().to_device(device),
            weight: self.weight.clone().to_device(device),
            taps: self.taps.clone().to_device(device),
            bias: self.bias.clone().to_device(device),
        }
    }
}

/// The central difference `(L(v + h·e_at) − L(v − h·e_at)) / 2h` of a loss `rebuild` of the
/// values `values` with entry `at` moved by ±`h`.
pub fn central_difference(
    values: &TensorData,
    at: usize,
    h: f32,
    rebuild: &dyn Fn(TensorData) -> f64,
) -> f64 {
    let mut v = values.try_to_vec::<f32>().unwrap();
    let base = v[at];
    v[at] = base + h;
    let up = rebuild(TensorData::new(v.clone(), values.shape().clone()));
    v[at] = base - h;
    let down = rebuild(TensorData::new(v, values.shape().clone()));
    (up - down) / (2.0 * h as f64)
}
