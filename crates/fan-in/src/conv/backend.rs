//! The direct sparse convolution as a backend extension: three ops, one impl per backend kind.

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, backend_extension};
#[cfg(feature = "wgpu")]
use burn::tensor::Shape;

use super::TapGeometry;

/// The direct sparse convolution as a Burn backend extension. Filter `o` reads its `k` taps
/// `taps[o, m] = (c · kh + ky) · kw + kx` with weights `weight[o, m]`; with `x` the input
/// (already padded) and `p(oy, ox, m)` the input position tap `m` reads for output `(oy, ox)`
/// ([`TapGeometry`]):
///
/// ```text
/// y[b, o, oy, ox] = Σ_m weight[o,m] · x[b, p(oy, ox, m)]
/// dw[o, m]        = Σ_{b, oy, ox} dy[b, o, oy, ox] · x[b, p(oy, ox, m)]
/// dx[b, c, y, x]  = Σ_{(o, m, oy, ox): p(oy, ox, m) = (c, y, x)} weight[o,m] · dy[b, o, oy, ox]
/// ```
///
/// The forward and the weight gradient cost `O(batch · out · k · positions)`, never
/// `O(… · c_in · kh · kw)`; so does the input gradient on the CPU, while the GPU's also visits
/// the `kh · kw` kernel positions of every input element (`O(batch · c_in · height · width ·
/// kh · kw)` more, small beside the gather where `out · k ≳ c_in · kh · kw`). The CPU backends (flex, ndarray) run register-tiled CPU kernels, the CubeCL backend GPU
/// kernels (through Fusion when Burn's fusion is on); `Autodiff` adds the backward pass.
/// Callers use [`fan_in_conv`](crate::fan_in_conv), which validates shapes first: these
/// methods assume `input: [batch, c_in, height, width]` large enough for the window,
/// `weight, taps: [out, k]` and every tap in `0..c_in · kh · kw`.
#[backend_extension(
    Autodiff,
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu")
)]
pub trait FanInConvBackend: Backend {
    /// `y[b, o, oy, ox]`, shape `[batch, out, height_out, width_out]`.
    #[fusion(dtype = input, shape = forward_shape(input, weight, geometry))]
    fn fan_in_conv_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
    ) -> FloatTensor<Self>;

    /// The weight gradient `dw[o, m]`, shape `[out, k]` (the shape of `taps`).
    #[fusion(dtype = input, shape = taps)]
    fn fan_in_conv_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
    ) -> FloatTensor<Self>;

    /// The input gradient `dx[b, c, y, x]`, shape `[batch, c_in, height, width]` with
    /// `input_size = [c_in, height, width]`.
    #[fusion(dtype = grad_output, shape = input_grad_shape(grad_output, input_size))]
    fn fan_in_conv_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
        input_size: [usize; 3],
    ) -> FloatTensor<Self>;
}

/// `[batch, c_in, h, w] × [out, k] → [batch, out, h_out, w_out]`.
#[cfg(feature = "wgpu")]
pub(crate) fn forward_shape(input: &Shape, weight: &Shape, geometry: &TapGeometry) -> Shape {
    let [h, w] = geometry
        .output_size([input[2], input[3]])
        .expect("checked by fan_in_conv");
    Shape::new([input[0], weight[0], h, w])
}

/// `[batch, out, h_out, w_out] → [batch, c_in, h, w]`.
#[cfg(feature = "wgpu")]
pub(crate) fn input_grad_shape(grad_output: &Shape, input_size: &[usize; 3]) -> Shape {
    let [c, h, w] = *input_size;
    Shape::new([grad_output[0], c, h, w])
}

/// The CPU backends share one implementation.
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_fan_in_conv {
    ($backend:ty) => {
        impl FanInConvBackend for $backend {
            fn fan_in_conv_forward(
                input: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                taps: IntTensor<Self>,
                geometry: TapGeometry,
            ) -> FloatTensor<Self> {
                crate::cpu::conv::forward::<Self>(input, weight, taps, geometry)
            }

            fn fan_in_conv_weight_grad(
                input: FloatTensor<Self>,
                grad_output: FloatTensor<Self>,
                taps: IntTensor<Self>,
                geometry: TapGeometry,
            ) -> FloatTensor<Self> {
                crate::cpu::conv::weight_grad::<Self>(input, grad_output, taps, geometry)
            }

            fn fan_in_conv_input_grad(
                grad_output: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                taps: IntTensor<Self>,
                geometry: TapGeometry,
                input_size: [usize; 3],
            ) -> FloatTensor<Self> {
                crate::cpu::conv::input_grad::<Self>(
                    grad_output,
                    weight,
                    taps,
                    geometry,
                    input_size,
                )
            }
        }
    };
}

#[cfg(feature = "flex")]
cpu_fan_in_conv!(burn::backend::Flex);

#[cfg(feature = "ndarray")]
cpu_fan_in_conv!(burn::backend::NdArray);
