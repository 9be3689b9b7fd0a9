//! The feature-major ops as a backend extension.

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, backend_extension};
#[cfg(feature = "wgpu")]
use burn::tensor::Shape;

/// The fan-in op on feature-major activations `[blocks, features, LANES]` (see
/// [`fan_in_feature_major`](crate::fan_in_feature_major)), and the conversions from and to
/// row-major `[batch, features]`:
///
/// ```text
/// xt[n, j, l]      = x[n·LANES + l, j]  (0 past the batch)
/// yt[n, o, l]      = Σ_k weight[o,k] · xt[n, indices[o,k], l]
/// dw[o, k]         = Σ_{n, l} dyt[n, o, l] · xt[n, indices[o,k], l]
/// dxt[n, j, l]     = Σ_{indices[o,k] = j} weight[o,k] · dyt[n, o, l]
/// ```
///
/// The CPU backends run the feature-major kernels of this crate without their transposes,
/// the CubeCL backend kernels whose neighbouring invocations are neighbouring samples;
/// `Autodiff` adds the backward passes. Callers use the functions of
/// [`feature_major`](crate::feature_major), which validate shapes first.
#[backend_extension(
    Autodiff,
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu")
)]
pub trait FeatureMajorBackend: Backend {
    /// `[batch, features] → [blocks, features, LANES]`, lanes past the batch zero.
    #[fusion(dtype = input, shape = blocks_shape(input))]
    fn feature_major_from_rows(input: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `[blocks, features, LANES] → [batch, features]`, the first `batch` lanes.
    #[fusion(dtype = input, shape = rows_shape(input, batch))]
    fn feature_major_to_rows(input: FloatTensor<Self>, batch: usize) -> FloatTensor<Self>;

    /// `yt[n, o, l]`, shape `[blocks, out, LANES]`.
    #[fusion(dtype = input, shape = forward_shape(input, weight))]
    fn feature_major_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `dw[o, k]`, shape `[out, k]` (the shape of `indices`).
    #[fusion(dtype = input, shape = indices)]
    fn feature_major_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `dxt[n, j, l]`, shape `[blocks, in_features, LANES]`.
    #[fusion(dtype = grad_output, shape = input_grad_shape(grad_output, in_features))]
    fn feature_major_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
        in_features: usize,
    ) -> FloatTensor<Self>;
}

#[cfg(feature = "wgpu")]
fn blocks_shape(input: &Shape) -> Shape {
    Shape::new([input[0].div_ceil(super::LANES), input[1], super::LANES])
}

#[cfg(feature = "wgpu")]
fn rows_shape(input: &Shape, batch: &usize) -> Shape {
    Shape::new([*batch, input[1]])
}

#[cfg(feature = "wgpu")]
fn forward_shape(input: &Shape, weight: &Shape) -> Shape {
    Shape::new([input[0], weight[0], super::LANES])
}

#[cfg(feature = "wgpu")]
fn input_grad_shape(grad_output: &Shape, in_features: &usize) -> Shape {
    Shape::new([grad_output[0], *in_features, super::LANES])
}

/// The CPU backends share one implementation.
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_feature_major {
    ($backend:ty) => {
        impl FeatureMajorBackend for $backend {
            fn feature_major_from_rows(input: FloatTensor<Self>) -> FloatTensor<Self> {
                crate::cpu::feature_major::from_rows::<Self>(input)
            }

            fn feature_major_to_rows(input: FloatTensor<Self>, batch: usize) -> FloatTensor<Self> {
                crate::cpu::feature_major::to_rows::<Self>(input, batch)
            }

            fn feature_major_forward(
                input: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                indices: IntTensor<Self>,
            ) -> FloatTensor<Self> {
                crate::cpu::feature_major::forward::<Self>(input, weight, indices)
            }

            fn feature_major_weight_grad(
                input: FloatTensor<Self>,
                grad_output: FloatTensor<Self>,
                indices: IntTensor<Self>,
            ) -> FloatTensor<Self> {
                crate::cpu::feature_major::weight_grad::<Self>(input, grad_output, indices)
            }

            fn feature_major_input_grad(
                grad_output: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                indices: IntTensor<Self>,
                in_features: usize,
            ) -> FloatTensor<Self> {
                crate::cpu::feature_major::input_grad::<Self>(
                    grad_output,
                    weight,
                    indices,
                    in_features,
                )
            }
        }
    };
}

#[cfg(feature = "flex")]
cpu_feature_major!(burn::backend::Flex);

#[cfg(feature = "ndarray")]
cpu_feature_major!(burn::backend::NdArray);
