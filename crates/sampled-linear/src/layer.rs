//! `SampledLinear`: a `Linear` layer after Monte Carlo quantization, stored compactly (the
//! packed non-zero counts of every output neuron and one scale per neuron) and computed with
//! the integers.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::module::Module;
//! use burn::nn::LinearConfig;
//! use burn::tensor::{Device, Distribution, Tensor};
//! use sampled_linear::{Budget, SampledLinear, SampledLinearConfig, SamplingConfig};
//!
//! let device = Device::flex();
//! let dense = LinearConfig::new(784, 300).init(&device);
//! // One sample per weight on average (K = 1), jittered, per neuron.
//! let config = SamplingConfig::new(Budget::Amount(1.0)).with_seed(7);
//! let (sampled, report) = SampledLinear::from_linear(&dense, &config, "fc1").unwrap();
//! assert!(report.nonzero_fraction() < 1.0);
//! let x = Tensor::<2>::random([8, 784], Distribution::Normal(0.0, 1.0), &device);
//! let y = sampled.forward(x.clone());
//! assert_eq!(y.dims(), [8, 300]);
//!
//! // Its configuration and record alone rebuild it: no dense layer, no sampling.
//! let reloaded = sampled.config().init(&device).load_record(sampled.clone().into_record());
//! reloaded.forward(x).into_data().assert_eq(&y.into_data(), true);
//! # }
//! ```

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mcnn_fan_in::fan_in;

use crate::compact_rows::{CompactRows, Form};
use crate::config::SamplingConfig;
use crate::error::SampledLinearError;
use crate::method::Method;
use crate::packed::{PackedLayout, SparseRows};
use crate::report::{LayerReport, StoredSize};
use crate::sample::SampledWeights;
use crate::weights::output_major;

/// Which kernel a sampled layer's forward runs.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// By density and size: the dense kernel when the widest row keeps at least
    /// [`DENSE_FROM`](Kernel::DENSE_FROM) of the inputs or the layer has fewer than
    /// [`SPARSE_FROM_WEIGHTS`](Kernel::SPARSE_FROM_WEIGHTS) weights, else the sparse one.
    Auto,
    /// The fan-in op over the stored non-zeros: a cost proportional to `batch · d_output · k`.
    Sparse,
    /// A dense matrix product with the materialised integer counts (the scales applied to
    /// the output): the dense layer's cost, whatever the density.
    Dense,
}

impl Kernel {
    /// The fraction of the inputs (of the widest row) from which [`Kernel::Auto`] takes the
    /// dense kernel: where the fan-in op, which computes every row at the widest row's `k`,
    /// stops being faster than Burn's matrix product on flex. For a 784 → 300 layer at batch
    /// 256 the sparse kernel costs 0.58 of the dense one at 25% non-zero and 0.95 at 46%
    /// (random weights, `cargo bench -p sampled-linear --bench sampled_linear`); the trained
    /// MLP's rows are more uneven, and at 42% non-zero its widest rows make it 1.2× (docs/RESULTS.md).
    pub const DENSE_FROM: f64 = 0.45;

    /// The number of weights below which [`Kernel::Auto`] takes the dense kernel whatever the
    /// density: the fan-in op's fixed cost per call (transposes into and out of its layout,
    /// thread wake-ups) outweighs a small product (a 300 → 10 output layer is 1.3× slower
    /// sparse at 42% non-zero in `compress_mnist`).
    pub const SPARSE_FROM_WEIGHTS: usize = 65_536;

    /// Whether this kernel runs the sparse op for `rows` rows of `k` non-zeros (the widest)
    /// out of `d_input`.
    pub fn is_sparse(self, k: usize, d_input: usize, rows: usize) -> bool {
        self.is_sparse_below(Self::DENSE_FROM, k, d_input, rows)
    }

    /// [`is_sparse`](Self::is_sparse) with [`Kernel::Auto`] switching to the dense kernel from
    /// `dense_from` of the inputs instead of [`DENSE_FROM`](Self::DENSE_FROM) (a training step,
    /// which pays more around the sparse op, switches earlier).
    pub fn is_sparse_below(self, dense_from: f64, k: usize, d_input: usize, rows: usize) -> bool {
        self.is_sparse_by(dense_from, Self::SPARSE_FROM_WEIGHTS, k, d_input, rows)
    }

    /// [`is_sparse`](Self::is_sparse) with [`Kernel::Auto`]'s two thresholds given: the dense
    /// kernel from `dense_from` of the inputs, or below `sparse_from_weights` weights (a
    /// sparse op without a fixed cost per call, as the direct sparse convolution, takes 0).
    pub fn is_sparse_by(
        self,
        dense_from: f64,
        sparse_from_weights: usize,
        k: usize,
        d_input: usize,
        rows: usize,
    ) -> bool {
        match self {
            Self::Auto => {
                (k as f64) < dense_from * d_input as f64 && d_input * rows >= sparse_from_weights
            }
            Self::Sparse => true,
            Self::Dense => false,
        }
    }
}

/// Configuration of a [`SampledLinear`]: the shapes of its record, so that a saved layer loads
/// without its dense original. Made by [`SampledLinear::config`]; saved beside the record.
#[derive(Config, Debug)]
pub struct SampledLinearConfig {
    /// The packed counts: `d_input`, `d_output`, non-zeros, bits.
    pub layout: PackedLayout,
    /// If a bias is added.
    #[config(default = true)]
    pub bias: bool,
    /// The kernel of the forward.
    #[config(default = "Kernel::Auto")]
    pub kernel: Kernel,
}

/// A linear layer whose weights are small signed integers times one scale per output neuron,
/// made from a trained `Linear` by importance sampling, without retraining:
/// `y[.., o] = scales[o] · Σ_j q[o,j] · x[.., j] + bias[o]`.
///
/// Mordido, Van Keirsbilck and Keller, *Instant Quantization of Neural Networks using Monte
/// Carlo Methods* (arXiv:1905.12253); section 2 of `docs/algorithms.md`.
///
/// # Storage
///
/// The record holds the non-zero counts packed into a stream of bits ([`CompactRows`]: a
/// sign bit and `|q| − 1` each, the columns as a bitmap, fixed-width indices or Rice-coded
/// gaps, whichever is smallest), one `f32` scale per neuron and the `f32` bias. Its
/// [`config`](Self::config) holds the shapes; `config().init(device)` then loading the record
/// rebuilds the layer in a fresh process. `d_input` and the non-zeros are recorded as sizes
/// too, so a record of another layer is refused at load time.
///
/// # Forward
///
/// By density ([`Kernel`]): the fan-in op over the stored non-zeros (custom forward and
/// backward, CPU and CubeCL) at a cost proportional to `batch · d_output · k`, `k` the widest
/// row; or a dense product with the materialised counts. Either way the integer counts are
/// multiplied first and the scales applied to the output, so both equal the dense layer with
/// weights `scales[o] · q[o, j]` ([`dense_weight`](Self::dense_weight)) up to the order of
/// the float summation. The scales and the bias are parameters (fine-tunable); the counts are
/// not.
///
/// Made by [`SampledLinear::from_linear`], [`SampledLinear::from_sampled`], or
/// [`SampledLinearConfig::init`] and a record.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct SampledLinear {
    /// The non-zero counts of every output neuron, packed.
    pub rows: CompactRows,
    /// One scale per output neuron, `[d_output]` (all equal when sampled per layer).
    pub scales: Param<Tensor<1>>,
    /// The bias, `[d_output]`, kept in full precision.
    pub bias: Option<Param<Tensor<1>>>,
    /// The kernel of the forward (configuration, not recorded).
    #[module(skip)]
    pub kernel: Kernel,
}

impl SampledLinearConfig {
    /// An empty layer of this configuration on `device`, awaiting its record: its forward
    /// panics until a record is loaded.
    pub fn init(&self, device: &Device) -> SampledLinear {
        let d_output = self.layout.d_output;
        SampledLinear {
            rows: CompactRows::empty(self.layout.clone(), device),
            scales: Param::from_tensor(Tensor::zeros([d_output], device)),
            bias: self
                .bias
                .then(|| Param::from_tensor(Tensor::zeros([d_output], device))),
            kernel: self.kernel,
        }
    }
}

impl SampledLinear {
    /// Samples a trained `linear` as `config` says; `layer` names it in errors and in the
    /// report. The bias is kept as it is.
    ///
    /// # Errors
    /// As [`SampledWeights::sample`]: a bad budget, or a NaN or infinite weight (naming
    /// `layer`).
    pub fn from_linear(
        linear: &Linear,
        config: &SamplingConfig,
        layer: &str,
    ) -> Result<(Self, LayerReport), SampledLinearError> {
        let weight = linear.weight.val();
        let device = weight.device();
        let (rows, d_output, d_input) = output_major(&weight);
        let sampled = SampledWeights::sample(&rows, d_output, d_input, config, layer)?;
        let bias = linear.bias.as_ref().map(Param::val);
        let made = Self::from_sampled(&sampled, bias, &device);
        let report = sampled.report_with(layer, Method::sampled(config), &made.rows.layout);
        Ok((made, report))
    }

    /// The layer of given sampled weights, with an optional `bias` of shape `[d_output]`.
    ///
    /// # Panics
    /// If the bias has another shape.
    pub fn from_sampled(
        sampled: &SampledWeights,
        bias: Option<Tensor<1>>,
        device: &Device,
    ) -> Self {
        let (d_output, d_input) = (sampled.d_output, sampled.d_input);
        if let Some(bias) = &bias {
            assert_eq!(
                bias.dims(),
                [d_output],
                "SampledLinear: bias of shape {:?} for d_output = {d_output}",
                bias.dims()
            );
        }
        let rows = SparseRows::from_dense(&sampled.q, d_output, d_input);
        let scales = Tensor::from_data(TensorData::new(sampled.scales.clone(), [d_output]), device);
        Self {
            rows: CompactRows::new(rows, d_input, device),
            scales: Param::from_tensor(scales),
            bias: bias.map(Param::from_tensor),
            kernel: Kernel::Auto,
        }
    }

    /// The configuration that rebuilds this layer (empty) for its record.
    pub fn config(&self) -> SampledLinearConfig {
        SampledLinearConfig::new(self.rows.layout.clone())
            .with_bias(self.bias.is_some())
            .with_kernel(self.kernel)
    }

    /// The same layer with another kernel.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    ///
    /// # Panics
    /// On an input of another width, and on a layer built from its configuration that has
    /// not loaded its record.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let d_input = input.dims()[D - 1];
        assert_eq!(
            d_input,
            self.d_input(),
            "SampledLinear: the input's last axis is {d_input}, the layer takes d_input = {}",
            self.d_input()
        );
        let device = input.device();
        let sparse = self
            .kernel
            .is_sparse(self.fan_in(), d_input, self.d_output());
        let output = match sparse {
            true => {
                let (indices, counts) = self.rows.tensors(Form::Padded, &device, |_| 0);
                fan_in(input, counts, indices.expect("padded form"), None)
            }
            false => {
                let (_, counts) = self.rows.tensors(Form::DenseTransposed, &device, |_| 0);
                input.matmul(counts.unsqueeze())
            }
        };
        let output = output * self.scales.val().unsqueeze();
        match &self.bias {
            Some(bias) => output + bias.val().unsqueeze(),
            None => output,
        }
    }

    /// The size of the input features.
    pub fn d_input(&self) -> usize {
        self.rows.layout.d_input
    }

    /// The size of the output features.
    pub fn d_output(&self) -> usize {
        self.rows.layout.d_output
    }

    /// The number of weights the widest output reads (`k` of the sparse kernel).
    pub fn fan_in(&self) -> usize {
        self.rows.widest()
    }

    /// The stored counts in the fan-in op's padded form: the inputs read, `[d_output, k]`
    /// (padding reads input 0), and their signed counts (0 in padding slots).
    pub fn indices_and_counts(&self) -> (Tensor<2, Int>, Tensor<2, Int>) {
        let device = self.scales.device();
        let (indices, counts) = self.rows.tensors(Form::Padded, &device, |_| 0);
        (indices.expect("padded form"), counts.int())
    }

    /// The materialised weight `scales[o] · q[o, j]` in Burn's `Linear` layout,
    /// `[d_input, d_output]`.
    pub fn dense_weight(&self) -> Tensor<2> {
        let device = self.scales.device();
        let (_, counts) = self.rows.tensors(Form::DenseTransposed, &device, |_| 0);
        counts * self.scales.val().unsqueeze()
    }

    /// Bytes of the record's tensors: the packed counts, the scales and the bias.
    pub fn stored_bytes(&self) -> usize {
        self.stored_size().stored_bytes
    }

    /// Its size as stored, against the dense layer.
    pub fn stored_size(&self) -> StoredSize {
        StoredSize::of_packed(&self.rows.layout, self.bias.is_some())
    }
}

impl ModuleDisplay for SampledLinear {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let layout = &self.rows.layout;
        content
            .add("d_input", &layout.d_input)
            .add("d_output", &layout.d_output)
            .add("nonzeros", &layout.nonzeros)
            .add(
                "bits_per_nonzero",
                &format!("{:.2}", layout.bits_per_nonzero()),
            )
            .add("stored_bytes", &self.stored_bytes())
            .add("bias", &self.bias.is_some())
            .optional()
    }
}
