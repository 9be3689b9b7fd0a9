//! `SampledConv2d`: a `Conv2d` after Monte Carlo quantization, stored as the sampled taps of
//! every filter, their small signed integers and one scale per filter.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::module::Module;
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
//! let y = sampled.forward(x.clone());
//! assert_eq!(y.dims(), [2, 16, 28, 28]);
//!
//! // Its configuration and record alone rebuild it.
//! let reloaded = sampled.config().init(&device).load_record(sampled.clone().into_record());
//! reloaded.forward(x).into_data().assert_eq(&y.into_data(), true);
//! # }
//! ```

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};
use mcnn_backends::RecordedSize;
use mcnn_fan_in::{TapGeometry, fan_in_conv};
use sampled_linear::packed::{PackedLayout, SparseRows};
use sampled_linear::{
    CompactRows, Form, Kernel, LayerReport, Method, SampledLinearError, SampledWeights,
    SamplingConfig, StoredSize,
};

/// The geometry of a convolution: everything of a `Conv2d` but its weights.
#[derive(Config, Debug, PartialEq)]
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

    /// The filters' shape in `Conv2d`'s layout, `[c_out, c_in / groups, kh, kw]`.
    pub fn weight_dims(&self) -> [usize; 4] {
        let [kh, kw] = self.kernel_size;
        [self.channels_out, self.channels_in / self.groups, kh, kw]
    }

    /// Checks that the kernel size, stride and dilation are at least 1 on both axes, and that
    /// `groups` is at least 1 and divides both channel counts.
    ///
    /// # Errors
    /// A message naming the parameter, its value and what is allowed.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("kernel_size", self.kernel_size),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            if value.contains(&0) {
                return Err(format!("{name} = {value:?}: both at least 1"));
            }
        }
        if self.groups == 0
            || !self.channels_in.is_multiple_of(self.groups)
            || !self.channels_out.is_multiple_of(self.groups)
        {
            return Err(format!(
                "groups = {} for {} input and {} output channels: at least 1, dividing both",
                self.groups, self.channels_in, self.channels_out
            ));
        }
        Ok(())
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

/// Configuration of a [`SampledConv2d`]: its geometry and the shapes of its record, so that a
/// saved layer loads without its dense original. Made by [`SampledConv2d::config`].
#[derive(Config, Debug)]
pub struct SampledConv2dConfig {
    /// Channels, kernel, stride, dilation, groups and padding.
    pub geometry: ConvGeometry,
    /// The packed counts: a row per filter of `channels_in / groups · kh · kw` taps.
    pub layout: PackedLayout,
    /// If a bias is added.
    #[config(default = true)]
    pub bias: bool,
    /// The kernel of the forward.
    #[config(default = "Kernel::Auto")]
    pub kernel: Kernel,
}

/// A convolution whose filters are small signed integers times one scale per filter, made
/// from a trained `Conv2d` by importance sampling without retraining: each filter (all its
/// `c_in / groups · kh · kw` taps) is one distribution, or the whole layer is (per-layer
/// granularity). Mordido, Van Keirsbilck and Keller, *Instant Quantization of Neural
/// Networks using Monte Carlo Methods* (arXiv:1905.12253); section 3 of `docs/algorithms.md`.
///
/// The record holds the non-zero counts of every filter packed ([`CompactRows`], as
/// `SampledLinear`'s), one `f32` scale per filter and the bias; `channels_in` and the kernel
/// size are recorded as sizes, so a record of another convolution is refused at load time.
/// [`config`](Self::config) rebuilds the layer for its record.
///
/// [`forward`](Self::forward) runs, by density ([`Kernel`]), either only the sampled taps
/// (the direct sparse convolution `fan_in_conv` of `mcnn-fan-in`: every output reads its
/// filter's `k` taps straight from the input, no patches materialised, custom forward and
/// backward on CPU and CubeCL, at a cost proportional to `batch · positions · c_out · k`), or
/// Burn's dense convolution with the materialised counts ([`is_sparse`](Self::is_sparse)
/// says which). The scales multiply the sparse path's weights and the dense path's output.
/// [`forward_reference`](Self::forward_reference) is the dense convolution with the
/// materialised weights `scale · q`; all agree up to the order of the float summation.
///
/// Made by [`SampledConv2d::from_conv2d`], [`SampledConv2d::from_sampled`], or
/// [`SampledConv2dConfig::init`] and a record.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct SampledConv2d {
    /// The non-zero counts of every filter, packed: columns are taps `channel · kh · kw + ky ·
    /// kw + kx` within the filter's group.
    pub rows: CompactRows,
    /// One scale per filter, `[c_out]` (all equal when sampled per layer).
    pub scales: Param<Tensor<1>>,
    /// The bias, `[c_out]`, kept in full precision.
    pub bias: Option<Param<Tensor<1>>>,
    /// Input channels (recorded, checked at load time).
    pub channels_in: RecordedSize,
    /// Kernel height and width (recorded, checked at load time).
    pub kernel_size: [RecordedSize; 2],
    /// Stride, dilation, groups and padding: configuration, not recorded (as in `Conv2d`).
    #[module(skip)]
    pub geometry: ConvGeometry,
    /// The kernel of the forward (configuration, not recorded).
    #[module(skip)]
    pub kernel: Kernel,
}

impl SampledConv2dConfig {
    /// An empty layer of this configuration on `device`, awaiting its record.
    ///
    /// # Panics
    /// If the geometry is invalid ([`ConvGeometry::check`]: a kernel size, stride or dilation
    /// of 0, or `groups` 0 or not dividing the channels), or the layout's rows are not the
    /// geometry's filters and taps.
    pub fn init(&self, device: &Device) -> SampledConv2d {
        let geometry = &self.geometry;
        if let Err(message) = geometry.check() {
            panic!("SampledConv2dConfig: {message}");
        }
        assert_eq!(
            (self.layout.d_output, self.layout.d_input),
            (geometry.channels_out, geometry.taps()),
            "SampledConv2dConfig: a layout of {} rows of {} for {} filters of {} taps",
            self.layout.d_output,
            self.layout.d_input,
            geometry.channels_out,
            geometry.taps()
        );
        let c_out = geometry.channels_out;
        SampledConv2d {
            rows: CompactRows::empty(self.layout.clone(), device),
            scales: Param::from_tensor(Tensor::zeros([c_out], device)),
            bias: self
                .bias
                .then(|| Param::from_tensor(Tensor::zeros([c_out], device))),
            channels_in: RecordedSize::new(geometry.channels_in),
            kernel_size: geometry.kernel_size.map(RecordedSize::new),
            geometry: geometry.clone(),
            kernel: self.kernel,
        }
    }
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
        let rows = mcnn_backends::host_values(weight);
        let sampled =
            SampledWeights::sample(&rows, geometry.channels_out, geometry.taps(), config, layer)?;
        let bias = conv.bias.as_ref().map(Param::val);
        let made = Self::from_sampled(&sampled, &geometry, bias, &device);
        let report = sampled.report_with(layer, Method::sampled(config), &made.rows.layout);
        Ok((made, report))
    }

    /// The layer of given sampled filters (`d_output` = output channels, `d_input` = taps per
    /// filter), with an optional `bias` of shape `[c_out]`.
    ///
    /// # Panics
    /// If the geometry is invalid ([`ConvGeometry::check`]), `sampled` does not have its
    /// shape, or the bias has another shape.
    pub fn from_sampled(
        sampled: &SampledWeights,
        geometry: &ConvGeometry,
        bias: Option<Tensor<1>>,
        device: &Device,
    ) -> Self {
        if let Err(message) = geometry.check() {
            panic!("SampledConv2d: {message}");
        }
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
        let rows = SparseRows::from_dense(&sampled.q, c_out, taps);
        let scales = Tensor::from_data(TensorData::new(sampled.scales.clone(), [c_out]), device);
        Self {
            rows: CompactRows::new(rows, taps, device),
            scales: Param::from_tensor(scales),
            bias: bias.map(Param::from_tensor),
            channels_in: RecordedSize::new(geometry.channels_in),
            kernel_size: geometry.kernel_size.map(RecordedSize::new),
            geometry: geometry.clone(),
            kernel: Kernel::Auto,
        }
    }

    /// The configuration that rebuilds this layer (empty) for its record.
    pub fn config(&self) -> SampledConv2dConfig {
        SampledConv2dConfig::new(self.geometry.clone(), self.rows.layout.clone())
            .with_bias(self.bias.is_some())
            .with_kernel(self.kernel)
    }

    /// The same layer with another kernel.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The geometry of the layer.
    pub fn geometry(&self) -> ConvGeometry {
        self.geometry.clone()
    }

    /// Applies the layer, through the sampled taps only or the dense convolution (see the
    /// type's docs).
    ///
    /// # Shapes
    /// - input: `[batch, channels_in, height, width]`
    /// - output: `[batch, channels_out, height_out, width_out]`, as `Conv2d`'s
    ///
    /// # Panics
    /// On an input of other channels or smaller than the dilated kernel, and on a layer built
    /// from its configuration that has not loaded its record.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let bias = self.bias.as_ref().map(Param::val);
        if self.is_sparse() {
            return self.forward_sparse(input, bias);
        }
        let (input, _) = self.padded(input);
        let (_, counts) = self.rows.tensors(Form::Dense, &input.device(), |_| 0);
        let output = conv2d(input, self.shaped(counts), None, self.options());
        let output = output * self.scales.val().reshape([1, -1, 1, 1]);
        match bias {
            Some(bias) => output + bias.reshape([1, -1, 1, 1]),
            None => output,
        }
    }

    /// Whether [`forward`](Self::forward) runs the sparse path: always for [`Kernel::Sparse`],
    /// never for [`Kernel::Dense`], and for [`Kernel::Auto`] while the widest filter reads
    /// fewer than [`DENSE_FROM`](Self::DENSE_FROM) of its taps.
    pub fn is_sparse(&self) -> bool {
        let (taps, filters) = (self.geometry.taps(), self.geometry.channels_out);
        self.kernel
            .is_sparse_by(Self::DENSE_FROM, 0, self.fan_in(), taps, filters)
    }

    /// The fraction of a filter's taps (of the widest filter) from which [`Kernel::Auto`]
    /// takes Burn's dense convolution. On flex the direct sparse convolution costs 0.82 of
    /// `Conv2d` with 47% of the taps in the widest filter and 0.99–1.37 with 73% on an
    /// AlexNet-style layer (128 → 192, 3×3, 8×8, batch 32), 0.50–0.57 with 75% on LeNet's
    /// conv2 (`cargo bench -p sampled-conv --bench sampled_conv`, docs/RESULTS.md); it has no
    /// fixed cost per call, so small layers take it too.
    pub const DENSE_FROM: f64 = 0.6;

    /// The sparse path: the direct sparse convolution of the padded input with the counts
    /// times their filter's scale, each output reading only its filter's sampled taps.
    fn forward_sparse(&self, input: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
        let (input, _) = self.padded(input);
        // Taps of filter o index its group's channels: shift them to the group's taps.
        let (c_out, group_taps) = (self.geometry.channels_out, self.geometry.taps());
        let per_group = c_out / self.geometry.groups;
        let (taps, counts) = self.rows.tensors(Form::Padded, &input.device(), |o| {
            o / per_group * group_taps
        });
        // Scaling the `[c_out, k]` weights costs less than scaling the output.
        let weights = counts * self.scales.val().unsqueeze_dim(1);
        let window = TapGeometry::new(self.geometry.kernel_size)
            .with_stride(self.geometry.stride)
            .with_dilation(self.geometry.dilation);
        fan_in_conv(input, weights, taps.expect("padded form"), window, bias)
    }

    /// The same convolution, dense, with the materialised weights ([`dense_weight`](Self::dense_weight)):
    /// the reference the other paths are tested against.
    ///
    /// # Shapes
    /// As [`forward`](Self::forward).
    pub fn forward_reference(&self, input: Tensor<4>) -> Tensor<4> {
        let (input, _) = self.padded(input);
        conv2d(
            input,
            self.dense_weight(),
            self.bias.as_ref().map(Param::val),
            self.options(),
        )
    }

    /// Burn's convolution options for the padded input.
    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new_with_padding(
            self.geometry.stride,
            [(0, 0), (0, 0)],
            self.geometry.dilation,
            self.geometry.groups,
        )
    }

    /// `[c_out, taps]` as `Conv2d`'s weight layout, `[c_out, c_in / groups, kh, kw]`.
    fn shaped(&self, rows: Tensor<2>) -> Tensor<4> {
        rows.reshape(self.geometry.weight_dims())
    }

    /// The materialised weight `scales[o] · q[o, tap]` in `Conv2d`'s layout,
    /// `[c_out, c_in / groups, kh, kw]`.
    pub fn dense_weight(&self) -> Tensor<4> {
        let (_, counts) = self.rows.tensors(Form::Dense, &self.scales.device(), |_| 0);
        self.shaped(counts * self.scales.val().unsqueeze_dim(1))
    }

    /// The number of taps the widest filter reads (`k` of the sparse kernel).
    pub fn fan_in(&self) -> usize {
        self.rows.widest()
    }

    /// Bytes of the record's tensors: the packed counts, the scales and the bias.
    pub fn stored_bytes(&self) -> usize {
        self.stored_size().stored_bytes
    }

    /// Its size as stored, against the dense convolution (filters times taps).
    pub fn stored_size(&self) -> StoredSize {
        StoredSize::of_packed(&self.rows.layout, self.bias.is_some())
    }

    /// The input, zero-padded as `Conv2d` pads it, and the output's height and width.
    ///
    /// # Panics
    /// If the input's channels are not `channels_in`, or the (dilated) kernel does not fit.
    fn padded(&self, input: Tensor<4>) -> (Tensor<4>, [usize; 2]) {
        let [_, channels, height, width] = input.dims();
        let g = &self.geometry;
        assert_eq!(
            channels, g.channels_in,
            "SampledConv2d: the input has {channels} channels, the layer takes {}",
            g.channels_in
        );
        let ((top, bottom), (left, right)) = g.padding_pairs(height, width);
        let size = [height + top + bottom, width + left + right];
        let out = [0, 1].map(|a| {
            let span = g.dilation[a] * (g.kernel_size[a] - 1) + 1;
            assert!(
                size[a] >= span,
                "SampledConv2d: an input of {height}×{width} (padded {}×{}) is smaller than the \
                 dilated kernel {span} along axis {a}",
                size[0],
                size[1]
            );
            (size[a] - span) / g.stride[a] + 1
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
        let g = &self.geometry;
        content
            .add("ch_in", &g.channels_in)
            .add("ch_out", &g.channels_out)
            .add("kernel_size", &format!("{:?}", g.kernel_size))
            .add("stride", &format!("{:?}", g.stride))
            .add("groups", &g.groups)
            .add("nonzeros", &self.rows.layout.nonzeros)
            .add(
                "bits_per_nonzero",
                &format!("{:.2}", self.rows.layout.bits_per_nonzero()),
            )
            .add("stored_bytes", &self.stored_bytes())
            .add("bias", &self.bias.is_some())
            .optional()
    }
}
