//! `SampledConv2d`: a `Conv2d` after Monte Carlo quantization, stored as the sampled taps of
//! every filter, their small signed integers and one scale per filter.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::nn::conv::Conv2dConfig;
//! use burn::tensor::{Device, Distribution, Tensor};
//! use sampled_conv::SampledConv2d;
//! use sampled_linear::{Budget, SamplingConfig};
//!
//! let device = Device::flex();
//! let dense = Conv2dConfig::new([3, 16], [5, 5]).init(&device);
//! // Half a sample per tap on average (K = 0.5), jittered, per filter.
//! let config = SamplingConfig::new(Budget::Amount(0.5)).with_seed(7);
//! let (sampled, report) = SampledConv2d::from_conv2d(&dense, &config, "conv1").unwrap();
//! assert!(report.nonzero_fraction() < 0.5);
//! let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &device);
//! assert_eq!(sampled.forward(x).dims(), [2, 16, 28, 28]);
//! # }
//! ```

use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param, ParamId};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Int, Tensor, TensorData};
use mcnn_fan_in::{dense_weight, fan_in, pack_rows};
use sampled_linear::{LayerReport, SampledLinearError, SampledWeights, SamplingConfig};

/// The geometry of a convolution: everything of a `Conv2d` but its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGeometry {
    /// Input channels (all groups).
    pub channels_in: usize,
    /// Output channels: one filter each.
    pub channels_out: usize,
    /// Kernel height and width.
    pub kernel_size: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Groups: filter `o` sees the input channels of group `o / (channels_out / groups)`.
    pub groups: usize,
    /// Padding, as `Conv2d` has it.
    pub padding: PaddingConfig2d,
}

impl ConvGeometry {
    /// The geometry of a Burn `Conv2d`.
    pub fn of(conv: &Conv2d) -> Self {
        let [channels_out, group_in, kh, kw] = conv.weight.dims();
        Self {
            channels_in: group_in * conv.groups,
            channels_out,
            kernel_size: [kh, kw],
            stride: conv.stride,
            dilation: conv.dilation,
            groups: conv.groups,
            padding: conv.padding.clone(),
        }
    }

    /// Taps of one filter: `channels_in / groups · kh · kw`.
    pub fn taps(&self) -> usize {
        self.channels_in / self.groups * self.kernel_size[0] * self.kernel_size[1]
    }

    /// `((top, bottom), (left, right))` for an input of `height × width`, as `Conv2d` pads.
    fn padding_pairs(&self, height: usize, width: usize) -> ((usize, usize), (usize, usize)) {
        // Burn's "same": the output is ⌈size / stride⌉ and the kernel (not dilated) fits.
        let same = |kernel: usize, stride: usize, size: usize| {
            let out = size.div_ceil(stride);
            let total = if out > 0 {
                ((out - 1) * stride + kernel).saturating_sub(size)
            } else {
                0
            };
            (total / 2, total - total / 2)
        };
        match self.padding {
            PaddingConfig2d::Valid => ((0, 0), (0, 0)),
            PaddingConfig2d::Same => (
                same(self.kernel_size[0], self.stride[0], height),
                same(self.kernel_size[1], self.stride[1], width),
            ),
            PaddingConfig2d::Explicit(top, left, bottom, right) => ((top, bottom), (left, right)),
        }
    }
}

/// A convolution whose filters are small signed integers times one scale per filter, made
/// from a trained `Conv2d` by importance sampling without retraining: each filter (all its
/// `c_in / groups · kh · kw` taps) is one distribution, or the whole layer is (per-layer
/// granularity). Mordido, Van Keirsbilck and Keller, *Instant Quantization of Neural
/// Networks using Monte Carlo Methods* (arXiv:1905.12253); section 3 of the project's
/// `algorithms.md`.
///
/// [`forward`](Self::forward) computes only the sampled taps: it gathers the input's patches
/// (`[batch, positions, c_in · kh · kw]`, one `select`) and applies the fan-in op of
/// `mcnn-fan-in` (custom forward and backward, CPU and CubeCL), at a cost proportional to
/// `batch · positions · c_out · k`, plus the gather's `batch · positions · c_in · kh · kw`.
/// [`forward_reference`](Self::forward_reference) is the dense convolution with the
/// materialised weights `scale · q`; both agree up to the order of the float summation.
///
/// Made by [`SampledConv2d::from_conv2d`] or [`SampledConv2d::from_sampled`].
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct SampledConv2d {
    /// The input feature of each stored tap, `[c_out, k]`: `channel · kh · kw + ky · kw + kx`
    /// over all input channels (the group's offset included).
    pub indices: Param<Tensor<2, Int>>,
    /// The signed integer of each stored tap, `[c_out, k]` (0 in padding slots).
    pub counts: Param<Tensor<2, Int>>,
    /// One scale per filter, `[c_out]` (all equal when sampled per layer).
    pub scales: Param<Tensor<1>>,
    /// The bias, `[c_out]`, kept in full precision.
    pub bias: Option<Param<Tensor<1>>>,
    /// Input channels.
    pub channels_in: usize,
    /// Kernel height and width.
    pub kernel_size: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Groups.
    pub groups: usize,
    /// Padding (not saved in the record, as in Burn's `Conv2d`).
    #[module(skip)]
    pub padding: PaddingConfig2d,
}

impl SampledConv2d {
    /// Samples a trained `conv` as `config` says; `layer` names it in errors and in the
    /// report. The bias is kept as it is.
    ///
    /// # Errors
    /// As [`SampledWeights::sample`]: a bad budget, or a NaN or infinite weight (naming
    /// `layer`, the filter and the tap).
    pub fn from_conv2d(
        conv: &Conv2d,
        config: &SamplingConfig,
        layer: &str,
    ) -> Result<(Self, LayerReport), SampledLinearError> {
        let geometry = ConvGeometry::of(conv);
        let weight = conv.weight.val();
        let device = weight.device();
        let rows = weight
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 after convert");
        let sampled =
            SampledWeights::sample(&rows, geometry.channels_out, geometry.taps(), config, layer)?;
        let report = sampled.report(layer, &config.describe());
        let bias = conv.bias.as_ref().map(Param::val);
        Ok((
            Self::from_sampled(&sampled, &geometry, bias, &device),
            report,
        ))
    }

    /// The layer of given sampled filters (`d_output` = output channels, `d_input` = taps per
    /// filter), with an optional `bias` of shape `[c_out]`.
    ///
    /// # Panics
    /// If `sampled` does not have the geometry's shape, or the bias has another shape.
    pub fn from_sampled(
        sampled: &SampledWeights,
        geometry: &ConvGeometry,
        bias: Option<Tensor<1>>,
        device: &Device,
    ) -> Self {
        let (c_out, taps) = (geometry.channels_out, geometry.taps());
        assert_eq!(
            (sampled.d_output, sampled.d_input),
            (c_out, taps),
            "SampledConv2d: sampled weights of {} × {} for {c_out} filters of {taps} taps",
            sampled.d_output,
            sampled.d_input
        );
        if let Some(bias) = &bias {
            assert_eq!(
                bias.dims(),
                [c_out],
                "SampledConv2d: bias of shape {:?} for {c_out} output channels",
                bias.dims()
            );
        }
        let per_group = c_out / geometry.groups;
        let (mut indices, counts, k) = pack_rows(c_out, taps, |o, j| {
            let q = sampled.q[o * taps + j];
            (q != 0).then_some(q as i64)
        });
        // Taps of filter o index its group's channels: shift them to the group's features.
        for (o, row) in indices.chunks_mut(k).enumerate() {
            let offset = (o / per_group * taps) as i64;
            row.iter_mut().for_each(|j| *j += offset);
        }
        let int = |values: Vec<i64>| {
            let tensor = Tensor::from_data(TensorData::new(values, [c_out, k]), device);
            Param::initialized(ParamId::new(), tensor)
        };
        let scales = Tensor::from_data(TensorData::new(sampled.scales.clone(), [c_out]), device);
        Self {
            indices: int(indices),
            counts: int(counts),
            scales: Param::from_tensor(scales),
            bias: bias.map(Param::from_tensor),
            channels_in: geometry.channels_in,
            kernel_size: geometry.kernel_size,
            stride: geometry.stride,
            dilation: geometry.dilation,
            groups: geometry.groups,
            padding: geometry.padding.clone(),
        }
    }

    /// The geometry of the layer.
    pub fn geometry(&self) -> ConvGeometry {
        ConvGeometry {
            channels_in: self.channels_in,
            channels_out: self.indices.dims()[0],
            kernel_size: self.kernel_size,
            stride: self.stride,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding.clone(),
        }
    }

    /// Applies the layer through the sampled taps only (unfold, then the fan-in op).
    ///
    /// # Shapes
    /// - input: `[batch, channels_in, height, width]`
    /// - output: `[batch, channels_out, height_out, width_out]`, as `Conv2d`'s
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let (input, [height_out, width_out]) = self.padded(input);
        let [batch, channels, height, width] = input.dims();
        let taps = channels * self.kernel_size[0] * self.kernel_size[1];
        let positions = height_out * width_out;
        // The patches [batch, positions, c_in·kh·kw] by one gather from the padded input:
        // its cost is the patches' size (Burn's `unfold4d` is a convolution with one-hot
        // kernels, `taps` times more work).
        let indices = self.patch_indices([channels, height, width], [height_out, width_out]);
        let indices = Tensor::<1, Int>::from_data(
            TensorData::new(indices, [positions * taps]),
            &input.device(),
        );
        let patches = input
            .reshape([batch, channels * height * width])
            .select(1, indices)
            .reshape([batch, positions, taps]);
        let output = fan_in(
            patches,
            self.edge_weights(),
            self.indices.val(),
            self.bias.as_ref().map(Param::val),
        );
        let c_out = self.indices.dims()[0];
        output
            .swap_dims(1, 2)
            .reshape([batch, c_out, height_out, width_out])
    }

    /// For every output position (row-major) and tap (`channel · kh · kw + ky · kw + kx`), the
    /// index of the input value it reads in the flattened padded input `[channels, height,
    /// width]`.
    fn patch_indices(&self, [channels, height, width]: [usize; 3], out: [usize; 2]) -> Vec<i64> {
        let [kh, kw] = self.kernel_size;
        let mut indices = Vec::with_capacity(out[0] * out[1] * channels * kh * kw);
        for oy in 0..out[0] {
            for ox in 0..out[1] {
                let (y0, x0) = (oy * self.stride[0], ox * self.stride[1]);
                for c in 0..channels {
                    for ky in 0..kh {
                        let y = y0 + ky * self.dilation[0];
                        for kx in 0..kw {
                            let x = x0 + kx * self.dilation[1];
                            indices.push(((c * height + y) * width + x) as i64);
                        }
                    }
                }
            }
        }
        indices
    }

    /// The same convolution, dense, with the materialised weights ([`dense_weight`](Self::dense_weight)):
    /// the reference the sparse path is tested against.
    ///
    /// # Shapes
    /// As [`forward`](Self::forward).
    pub fn forward_reference(&self, input: Tensor<4>) -> Tensor<4> {
        let (input, _) = self.padded(input);
        let options = ConvOptions::new_with_padding(
            self.stride,
            [(0, 0), (0, 0)],
            self.dilation,
            self.groups,
        );
        conv2d(
            input,
            self.dense_weight(),
            self.bias.as_ref().map(Param::val),
            options,
        )
    }

    /// The materialised weight `scales[o] · q[o, tap]` in `Conv2d`'s layout,
    /// `[c_out, c_in / groups, kh, kw]`.
    pub fn dense_weight(&self) -> Tensor<4> {
        let geometry = self.geometry();
        let (c_out, taps, groups) = (geometry.channels_out, geometry.taps(), self.groups);
        let all = dense_weight(self.edge_weights(), self.indices.val(), groups * taps);
        let own = if groups == 1 {
            all
        } else {
            // Every filter keeps the columns of its own group.
            let per_group = c_out / groups;
            let group: Vec<i64> = (0..c_out)
                .flat_map(|o| std::iter::repeat_n((o / per_group) as i64, taps))
                .collect();
            let group = Tensor::<3, Int>::from_data(
                TensorData::new(group, [c_out, 1, taps]),
                &all.device(),
            );
            all.reshape([c_out, groups, taps])
                .gather(1, group)
                .reshape([c_out, taps])
        };
        let [kh, kw] = self.kernel_size;
        own.reshape([c_out, self.channels_in / groups, kh, kw])
    }

    /// The number of taps each filter reads (`k`, padding included).
    pub fn fan_in(&self) -> usize {
        self.indices.dims()[1]
    }

    /// `scales[o] · counts[o, k]`, `[c_out, k]`.
    fn edge_weights(&self) -> Tensor<2> {
        self.counts.val().float() * self.scales.val().unsqueeze_dim(1)
    }

    /// The input, zero-padded as `Conv2d` pads it, and the output's height and width.
    ///
    /// # Panics
    /// If the input's channels are not `channels_in`, or the (dilated) kernel does not fit.
    fn padded(&self, input: Tensor<4>) -> (Tensor<4>, [usize; 2]) {
        let [_, channels, height, width] = input.dims();
        assert_eq!(
            channels, self.channels_in,
            "SampledConv2d: the input has {channels} channels, the layer takes {}",
            self.channels_in
        );
        let ((top, bottom), (left, right)) = self.geometry().padding_pairs(height, width);
        let size = [height + top + bottom, width + left + right];
        let out = [0, 1].map(|a| {
            let span = self.dilation[a] * (self.kernel_size[a] - 1) + 1;
            assert!(
                size[a] >= span,
                "SampledConv2d: an input of {height}×{width} (padded {}×{}) is smaller than the \
                 dilated kernel {span} along axis {a}",
                size[0],
                size[1]
            );
            (size[a] - span) / self.stride[a] + 1
        });
        let input = if top + bottom + left + right > 0 {
            input.pad((left, right, top, bottom), PadMode::Constant(0.0))
        } else {
            input
        };
        (input, out)
    }
}

impl ModuleDisplay for SampledConv2d {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let [c_out, k] = self.indices.dims();
        content
            .add("ch_in", &self.channels_in)
            .add("ch_out", &c_out)
            .add("kernel_size", &format!("{:?}", self.kernel_size))
            .add("stride", &format!("{:?}", self.stride))
            .add("groups", &self.groups)
            .add("fan_in", &k)
            .add("bias", &self.bias.is_some())
            .optional()
    }
}
