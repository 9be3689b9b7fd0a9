//! The direct sparse convolution as CubeCL kernels. One unit per output element: the units
//! of a cube are neighbouring outputs of one filter, so for each tap they read neighbouring
//! inputs (coalesced at stride 1) with the same weight. The input gradient gathers through
//! the transposed taps (built once per taps tensor, [`cached_transposed_index`]):
//! `dx[b, c, y, x]` visits the `kh · kw` taps of channel `c`, and for each the filters that
//! hold it, in a fixed order.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::Shape;
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;

use super::{addressable, cached_transposed_index, per_element};
use crate::conv::{FanInConvBackend, TapGeometry};
use crate::probe::{self, Path};

/// The input offset of tap `t` (`(c · kh + ky) · kw + kx`) in a sample's `[c, height, width]`.
#[cube]
fn tap_offset(t: usize, height: usize, width: usize, #[comptime] window: TapGeometry) -> usize {
    let (kh, kw) = comptime!((window.kernel_size[0], window.kernel_size[1]));
    let (dh, dw) = comptime!((window.dilation[0], window.dilation[1]));
    let c = t / (kh * kw);
    let ky = (t / kw) % kh;
    let kx = t % kw;
    (c * height + ky * dh) * width + kx * dw
}

/// `output[b, o, oy, ox] = Σ_m weight[o, m] · input[b, tap m at (oy, ox)]`; one unit per
/// output element.
#[cube(launch)]
fn forward_kernel<F: Float, I: Numeric>(
    input: &Tensor<F>,
    weight: &Tensor<F>,
    taps: &Tensor<I>,
    output: &mut Tensor<F>,
    #[comptime] window: TapGeometry,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let pos = ABSOLUTE_POS;
    if pos >= output.len() {
        terminate!();
    }
    let (sh, sw) = comptime!((window.stride[0], window.stride[1]));
    let (filters, rows, cols) = (output.shape(1), output.shape(2), output.shape(3));
    let ox = pos % cols;
    let oy = (pos / cols) % rows;
    let o = (pos / (cols * rows)) % filters;
    let b = pos / (cols * rows * filters);
    let (channels, height, width) = (input.shape(1), input.shape(2), input.shape(3));
    let corner = b * channels * height * width + oy * sh * width + ox * sw;
    let k = weight.shape(1);
    let mut acc = F::new(0.0);
    for m in 0..k {
        let e = o * k + m;
        let t = usize::cast_from(taps[e]);
        acc += weight[e] * input[corner + tap_offset(t, height, width, window)];
    }
    output[pos] = acc;
}

/// `grad_weight[o, m] = Σ_{b, oy, ox} grad_output[b, o, oy, ox] · input[b, tap m at (oy,
/// ox)]`; one unit per tap.
#[cube(launch)]
fn weight_grad_kernel<F: Float, I: Numeric>(
    input: &Tensor<F>,
    grad_output: &Tensor<F>,
    taps: &Tensor<I>,
    grad_weight: &mut Tensor<F>,
    #[comptime] window: TapGeometry,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let e = ABSOLUTE_POS;
    if e >= grad_weight.len() {
        terminate!();
    }
    let (sh, sw) = comptime!((window.stride[0], window.stride[1]));
    let o = e / taps.shape(1);
    let (batch, filters) = (grad_output.shape(0), grad_output.shape(1));
    let (rows, cols) = (grad_output.shape(2), grad_output.shape(3));
    let (channels, height, width) = (input.shape(1), input.shape(2), input.shape(3));
    let offset = tap_offset(usize::cast_from(taps[e]), height, width, window);
    let mut acc = F::new(0.0);
    for b in 0..batch {
        let sample = b * channels * height * width + offset;
        let plane = (b * filters + o) * rows * cols;
        for oy in 0..rows {
            for ox in 0..cols {
                acc +=
                    grad_output[plane + oy * cols + ox] * input[sample + oy * sh * width + ox * sw];
            }
        }
    }
    grad_weight[e] = acc;
}

/// `grad_input[b, c, y, x] = Σ weight[e] · grad_output[b, e / k, oy, ox]` over the taps `(ky,
/// kx)` of channel `c` that reach `(y, x)` from an output `(oy, ox)`, and the edges `e` of
/// each tap (its segment of the transposed index); one unit per input element.
#[cube(launch)]
fn input_grad_kernel<F: Float>(
    grad_output: &Tensor<F>,
    weight: &Tensor<F>,
    offsets: &Tensor<u32>,
    edges: &Tensor<u32>,
    grad_input: &mut Tensor<F>,
    #[comptime] window: TapGeometry,
    #[define(F)] _dtype: ElemType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= grad_input.len() {
        terminate!();
    }
    let (kh, kw) = comptime!((window.kernel_size[0], window.kernel_size[1]));
    let (sh, sw) = comptime!((window.stride[0], window.stride[1]));
    let (dh, dw) = comptime!((window.dilation[0], window.dilation[1]));
    let (channels, height, width) = (
        grad_input.shape(1),
        grad_input.shape(2),
        grad_input.shape(3),
    );
    let x = pos % width;
    let y = (pos / width) % height;
    let c = (pos / (width * height)) % channels;
    let b = pos / (width * height * channels);
    let (filters, rows, cols) = (
        grad_output.shape(1),
        grad_output.shape(2),
        grad_output.shape(3),
    );
    let k = weight.shape(1);
    let mut acc = F::new(0.0);
    for ky in 0..kh {
        for kx in 0..kw {
            let (ry, rx) = (ky * dh, kx * dw);
            if y >= ry && x >= rx {
                let (oy, ox) = ((y - ry) / sh, (x - rx) / sw);
                if (y - ry).is_multiple_of(sh)
                    && (x - rx).is_multiple_of(sw)
                    && oy < rows
                    && ox < cols
                {
                    let t = (c * kh + ky) * kw + kx;
                    let first = usize::cast_from(offsets[t]);
                    let last = usize::cast_from(offsets[t + 1]);
                    for p in first..last {
                        let e = usize::cast_from(edges[p]);
                        let plane = (b * filters + e / k) * rows * cols;
                        acc += weight[e] * grad_output[plane + oy * cols + ox];
                    }
                }
            }
        }
    }
    grad_input[pos] = acc;
}

impl FanInConvBackend for CubeBackend {
    fn fan_in_conv_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeConvForward);
        addressable("fan_in_conv", [&input, &weight, &taps]);
        let in_shape = input.shape();
        let [rows, cols] = geometry
            .output_size([in_shape[2], in_shape[3]])
            .expect("the kernel fits: checked by fan_in_conv");
        launch_edge_kernel!(
            forward_kernel(input, weight, taps, geometry)
                -> Shape::new([in_shape[0], weight.shape()[0], rows, cols]),
            empty if weight.shape()[1] == 0
        )
    }

    fn fan_in_conv_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeConvWeightGrad);
        addressable(
            "fan_in_conv (weight gradient)",
            [&input, &grad_output, &taps],
        );
        launch_edge_kernel!(
            weight_grad_kernel(input, grad_output, taps, geometry) -> taps.shape(),
            empty if grad_output.shape().num_elements() == 0
        )
    }

    fn fan_in_conv_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
        input_size: [usize; 3],
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeConvInputGrad);
        addressable(
            "fan_in_conv (input gradient)",
            [&grad_output, &weight, &taps],
        );
        let (grad_output, weight, taps) = (
            into_contiguous(grad_output),
            into_contiguous(weight),
            into_contiguous(taps),
        );
        let [channels, height, width] = input_size;
        let shape = Shape::new([grad_output.shape()[0], channels, height, width]);
        let no_taps = taps.shape().num_elements() == 0;
        per_element(&grad_output, shape, no_taps, |grad_input, count, dim| {
            let taps_in = channels * geometry.taps_per_channel();
            let (offsets, edges) = cached_transposed_index(&taps, taps_in);
            input_grad_kernel::launch(
                &grad_output.client,
                count,
                dim,
                grad_output.clone().into_tensor_arg(),
                weight.into_tensor_arg(),
                offsets.into_tensor_arg(),
                edges.into_tensor_arg(),
                grad_input.into_tensor_arg(),
                geometry,
                dtype_to_storage_type(grad_output.dtype),
            )
        })
    }
}
