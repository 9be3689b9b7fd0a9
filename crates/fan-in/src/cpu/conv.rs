//! The direct sparse convolution on the CPU (flex, ndarray): host views of the tensors, every
//! tap turned into an input offset once per call, then the kernels of
//! [`conv_kernels`](super::conv_kernels).

use burn::backend::TensorMetadata;
use burn::backend::tensor::{FloatTensor, IntTensor};

use super::conv_kernels::{self, Filters, Window};
use super::{Bound, HostView, IndexView, dims2, host_f32, host_indices, write_f32};
use crate::conv::TapGeometry;
use crate::probe::{self, Path};

/// The CPU forward of
/// [`FanInConvBackend::fan_in_conv_forward`](crate::FanInConvBackend::fan_in_conv_forward).
pub(crate) fn forward<B: HostView>(
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    taps: IntTensor<B>,
    geometry: TapGeometry,
) -> FloatTensor<B> {
    probe::hit(Path::CpuConvForward);
    let [batch, channels, height, width] = dims4(&input.shape());
    let [out, k] = dims2(&weight.shape());
    let window = Window::new(&geometry, [channels, height, width]);
    let (mut x_copy, mut w_copy) = (None, None);
    let x = host_f32::<B>(&input, &mut x_copy);
    let weights = host_f32::<B>(&weight, &mut w_copy);
    let offsets = tap_offsets::<B>(&taps, &geometry, [channels, height, width]);
    let filters = Filters {
        offsets: &offsets,
        weights,
        out,
        k,
    };
    let y = conv_kernels::forward(x, batch, filters, window);
    let [height_out, width_out] = window.out;
    write_f32::<B, 4>(y, [batch, out, height_out, width_out], &input)
}

/// The CPU weight gradient.
pub(crate) fn weight_grad<B: HostView>(
    input: FloatTensor<B>,
    grad_output: FloatTensor<B>,
    taps: IntTensor<B>,
    geometry: TapGeometry,
) -> FloatTensor<B> {
    probe::hit(Path::CpuConvWeightGrad);
    let [batch, channels, height, width] = dims4(&input.shape());
    let [out, k] = dims2(&taps.shape());
    let window = Window::new(&geometry, [channels, height, width]);
    let (mut x_copy, mut dy_copy) = (None, None);
    let x = host_f32::<B>(&input, &mut x_copy);
    let dy = host_f32::<B>(&grad_output, &mut dy_copy);
    let offsets = tap_offsets::<B>(&taps, &geometry, [channels, height, width]);
    let filters = Filters {
        offsets: &offsets,
        weights: &[],
        out,
        k,
    };
    let dw = conv_kernels::weight_grad(x, dy, batch, filters, window);
    write_f32::<B, 2>(dw, [out, k], &input)
}

/// The CPU input gradient.
pub(crate) fn input_grad<B: HostView>(
    grad_output: FloatTensor<B>,
    weight: FloatTensor<B>,
    taps: IntTensor<B>,
    geometry: TapGeometry,
    input_size: [usize; 3],
) -> FloatTensor<B> {
    probe::hit(Path::CpuConvInputGrad);
    let [batch, ..] = dims4(&grad_output.shape());
    let [out, k] = dims2(&weight.shape());
    let window = Window::new(&geometry, input_size);
    let (mut dy_copy, mut w_copy) = (None, None);
    let dy = host_f32::<B>(&grad_output, &mut dy_copy);
    let weights = host_f32::<B>(&weight, &mut w_copy);
    let offsets = tap_offsets::<B>(&taps, &geometry, input_size);
    let filters = Filters {
        offsets: &offsets,
        weights,
        out,
        k,
    };
    let dx = conv_kernels::input_grad(dy, batch, filters, window);
    let [channels, height, width] = input_size;
    write_f32::<B, 4>(dx, [batch, channels, height, width], &grad_output)
}

/// Where each tap reads in a sample's flattened input, relative to the output position; every
/// tap checked to lie in `0..c_in · kh · kw` first.
fn tap_offsets<B: HostView>(
    taps: &IntTensor<B>,
    geometry: &TapGeometry,
    [channels, height, width]: [usize; 3],
) -> Vec<usize> {
    let bound = Bound {
        size: channels * geometry.taps_per_channel(),
        what: "c_in · kh · kw, the filter's taps",
    };
    let mut copy = None;
    on_indices!(host_indices::<B>(taps, bound, &mut copy), |taps| {
        taps.iter()
            .map(|&t| geometry.tap_offset(t as usize, [height, width]))
            .collect()
    })
}

fn dims4(shape: &burn::tensor::Shape) -> [usize; 4] {
    assert_eq!(
        shape.num_dims(),
        4,
        "the sparse convolution takes rank-4 tensors, got {shape:?}"
    );
    [shape[0], shape[1], shape[2], shape[3]]
}

impl Window {
    /// The window of `geometry` over a padded input `[channels, height, width]`.
    fn new(geometry: &TapGeometry, [channels, height, width]: [usize; 3]) -> Self {
        Self {
            in_plane: channels * height * width,
            row: geometry.stride[0] * width,
            col: geometry.stride[1],
            out: geometry
                .output_size([height, width])
                .expect("the kernel fits: checked by fan_in_conv"),
        }
    }
}
