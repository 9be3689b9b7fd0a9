//! The backend extension: three ops, one trait, one impl per backend kind.

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, backend_extension};
#[cfg(feature = "wgpu")]
use burn::tensor::Shape;

/// The fan-in sparse op as a Burn backend extension.
///
/// Output neuron `o` reads `k` inputs `indices[o, 0..k]` with weights `weight[o, 0..k]`:
///
/// ```text
/// y[b, o]  = Σ_k weight[o,k] · x[b, indices[o,k]]
/// dw[o, k] = Σ_b dy[b,o] · x[b, indices[o,k]]
/// dx[b, j] = Σ_{(o,k): indices[o,k] = j} weight[o,k] · dy[b,o]
/// ```
///
/// Every method costs `O(batch · out · k)`, never `O(batch · out · in)`. The CPU backends
/// (flex, ndarray) run the feature-major CPU kernels of this crate, the CubeCL backend its GPU
/// kernels (through Fusion when Burn's fusion is on); `Autodiff` adds the backward pass. Callers use [`fan_in`](crate::fan_in), which validates shapes first: these methods
/// assume `input: [batch, in]`, `weight, indices: [out, k]`.
#[backend_extension(
    Autodiff,
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu")
)]
pub trait FanInBackend: Backend {
    /// `y[b, o] = Σ_k weight[o,k] · input[b, indices[o,k]]`, shape `[batch, out]`.
    #[fusion(dtype = input, shape = forward_shape(input, weight))]
    fn fan_in_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The weight gradient `dw[o, k] = Σ_b grad_output[b,o] · input[b, indices[o,k]]`,
    /// shape `[out, k]` (the shape of `indices`).
    #[fusion(dtype = input, shape = indices)]
    fn fan_in_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The input gradient `dx[b, j] = Σ_{indices[o,k] = j} weight[o,k] · grad_output[b,o]`,
    /// shape `[batch, in_features]`.
    #[fusion(dtype = grad_output, shape = input_grad_shape(grad_output, in_features))]
    fn fan_in_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
        in_features: usize,
    ) -> FloatTensor<Self>;
}

/// `[batch, in] × [out, k] → [batch, out]`.
#[cfg(feature = "wgpu")]
pub(crate) fn forward_shape(input: &Shape, weight: &Shape) -> Shape {
    Shape::new([input[0], weight[0]])
}

/// `[batch, out] → [batch, in_features]`.
#[cfg(feature = "wgpu")]
pub(crate) fn input_grad_shape(grad_output: &Shape, in_features: &usize) -> Shape {
    Shape::new([grad_output[0], *in_features])
}

/// The CPU backends share one implementation.
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_fan_in {
    ($backend:ty) => {
        impl FanInBackend for $backend {
            fn fan_in_forward(
                input: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                indices: IntTensor<Self>,
            ) -> FloatTensor<Self> {
                crate::cpu::forward::<Self>(input, weight, indices)
            }

            fn fan_in_weight_grad(
                input: FloatTensor<Self>,
                grad_output: FloatTensor<Self>,
                indices: IntTensor<Self>,
            ) -> FloatTensor<Self> {
                crate::cpu::weight_grad::<Self>(input, grad_output, indices)
            }

            fn fan_in_input_grad(
                grad_output: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                indices: IntTensor<Self>,
                in_features: usize,
            ) -> FloatTensor<Self> {
                crate::cpu::input_grad::<Self>(grad_output, weight, indices, in_features)
            }
        }
    };
}

#[cfg(feature = "flex")]
cpu_fan_in!(burn::backend::Flex);

#[cfg(feature = "ndarray")]
cpu_fan_in!(burn::backend::NdArray);
