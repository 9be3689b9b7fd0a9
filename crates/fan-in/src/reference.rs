//! The fan-in op from plain Burn tensor ops: the independent expectation the tests compare
//! the custom kernels with. It allocates the `[batch, out, k]` intermediate the custom op
//! avoids, and Burn's own autodiff differentiates it.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

use crate::TapGeometry;

/// `y[b, o] = Σ_k weight[o,k] · input[b, indices[o,k]]` by `select`, a product and a sum.
///
/// # Shapes
/// - input: `[batch, in]`, weight and indices: `[out, k]`, output: `[batch, out]`.
pub fn fan_in_reference(input: Tensor<2>, weight: Tensor<2>, indices: Tensor<2, Int>) -> Tensor<2> {
    let [batch, _] = input.dims();
    let [out, k] = weight.dims();
    if batch * out * k == 0 {
        // Empty sums: Burn's reductions do not take zero-size axes everywhere.
        return Tensor::zeros([batch, out], &input.device());
    }
    let gathered = input
        .select(1, indices.reshape([out * k]))
        .reshape([batch, out, k]);
    (gathered * weight.unsqueeze_dim::<3>(0))
        .sum_dim(2)
        .reshape([batch, out])
}

/// The dense `[out, d_input]` weight matrix of a fan-in layer: each `weight[o,k]` added at
/// column `indices[o,k]` of row `o` (duplicate indices add up). `input · denseᵀ` is the
/// fan-in op.
pub fn dense_weight(weight: Tensor<2>, indices: Tensor<2, Int>, d_input: usize) -> Tensor<2> {
    let [out, _] = weight.dims();
    Tensor::zeros([out, d_input], &weight.device()).scatter(
        1,
        indices,
        weight,
        IndexingUpdateOp::Add,
    )
}

/// The direct sparse convolution by Burn's dense `conv2d`, with the filters materialised:
/// `weight[o,m]` added at tap `taps[o,m]` of a `[c_out, c_in, kh, kw]` kernel.
///
/// # Shapes
/// As [`fan_in_conv`](crate::fan_in_conv): input `[batch, c_in, height, width]`, weight and
/// taps `[c_out, k]`, output `[batch, c_out, height_out, width_out]`.
pub fn fan_in_conv_reference(
    input: Tensor<4>,
    weight: Tensor<2>,
    taps: Tensor<2, Int>,
    geometry: TapGeometry,
) -> Tensor<4> {
    let [_, channels, ..] = input.dims();
    let [out, _] = weight.dims();
    let [kh, kw] = geometry.kernel_size;
    let kernel = dense_weight(weight, taps, channels * kh * kw).reshape([out, channels, kh, kw]);
    let options = ConvOptions::new(geometry.stride, [0, 0], geometry.dilation, 1);
    conv2d(input, kernel, None, options)
}
