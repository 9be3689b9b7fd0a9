//! `SampledLinear`: a `Linear` layer after Monte Carlo quantization, stored as the indices of
//! its non-zero weights, their small signed integers and one scale per output neuron.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::nn::LinearConfig;
//! use burn::tensor::{Device, Distribution, Tensor};
//! use sampled_linear::{Budget, SampledLinear, SamplingConfig};
//!
//! let device = Device::flex();
//! let dense = LinearConfig::new(784, 300).init(&device);
//! // One sample per weight on average (K = 1), jittered, per neuron.
//! let config = SamplingConfig::new(Budget::Amount(1.0)).with_seed(7);
//! let (sampled, report) = SampledLinear::from_linear(&dense, &config, "fc1").unwrap();
//! assert!(report.nonzero_fraction() < 1.0);
//! let x = Tensor::<2>::random([8, 784], Distribution::Normal(0.0, 1.0), &device);
//! assert_eq!(sampled.forward(x).dims(), [8, 300]);
//! # }
//! ```

use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param, ParamId};
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mcnn_fan_in::{dense_weight, fan_in, pack_rows};

use crate::config::SamplingConfig;
use crate::error::SampledLinearError;
use crate::report::LayerReport;
use crate::sample::SampledWeights;
use crate::weights::output_major;

/// A linear layer whose weights are small signed integers times one scale per output neuron,
/// made from a trained `Linear` by importance sampling, without retraining: `y[.., o] =
/// scales[o] · Σ_k counts[o,k] · x[.., indices[o,k]] + bias[o]`.
///
/// Mordido, Van Keirsbilck and Keller, *Instant Quantization of Neural Networks using Monte
/// Carlo Methods* (arXiv:1905.12253); section 2 of the project's `algorithms.md`.
///
/// Only the sampled weights are stored and computed, through the fan-in op
/// ([`mcnn_fan_in::fan_in`]), at a cost proportional to `batch · d_output · k` with `k` the
/// largest number of non-zero weights of a neuron; shorter rows are padded with count 0.
/// The kernel multiplies by `scales[o] · counts[o,k]`, the same `f32` values as the
/// materialised dense weight ([`SampledLinear::dense_weight`]), so the output equals the dense
/// layer's up to the order of the float summation.
///
/// The indices and counts are integer parameters: saved with the record, skipped by
/// optimizers. Made by [`SampledLinear::from_linear`] or [`SampledLinear::from_sampled`].
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct SampledLinear {
    /// The input of each stored weight, `[d_output, k]`.
    pub indices: Param<Tensor<2, Int>>,
    /// The signed integer of each stored weight, `[d_output, k]` (0 in padding slots).
    pub counts: Param<Tensor<2, Int>>,
    /// One scale per output neuron, `[d_output]` (all equal when sampled per layer).
    pub scales: Param<Tensor<1>>,
    /// The bias, `[d_output]`, kept in full precision.
    pub bias: Option<Param<Tensor<1>>>,
    /// The size of the input features.
    pub d_input: usize,
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
        let report = sampled.report(layer, &config.describe());
        let bias = linear.bias.as_ref().map(Param::val);
        Ok((Self::from_sampled(&sampled, bias, &device), report))
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
        let (indices, counts, k) = pack_rows(d_output, d_input, |o, j| {
            let q = sampled.q[o * d_input + j];
            (q != 0).then_some(q as i64)
        });
        let int = |values: Vec<i64>| {
            let tensor = Tensor::from_data(TensorData::new(values, [d_output, k]), device);
            Param::initialized(ParamId::new(), tensor)
        };
        let scales = Tensor::from_data(TensorData::new(sampled.scales.clone(), [d_output]), device);
        Self {
            indices: int(indices),
            counts: int(counts),
            scales: Param::from_tensor(scales),
            bias: bias.map(Param::from_tensor),
            d_input,
        }
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let d_input = input.dims()[D - 1];
        assert_eq!(
            d_input, self.d_input,
            "SampledLinear: the input's last axis is {d_input}, the layer takes d_input = {}",
            self.d_input
        );
        fan_in(
            input,
            self.edge_weights(),
            self.indices.val(),
            self.bias.as_ref().map(Param::val),
        )
    }

    /// The number of weights each output reads (`k`, padding included).
    pub fn fan_in(&self) -> usize {
        self.indices.dims()[1]
    }

    /// The materialised weight `scales[o] · q[o, j]` in Burn's `Linear` layout,
    /// `[d_input, d_output]`.
    pub fn dense_weight(&self) -> Tensor<2> {
        dense_weight(self.edge_weights(), self.indices.val(), self.d_input).transpose()
    }

    /// `scales[o] · counts[o, k]`, `[d_output, k]`.
    fn edge_weights(&self) -> Tensor<2> {
        self.counts.val().float() * self.scales.val().unsqueeze_dim(1)
    }
}

impl ModuleDisplay for SampledLinear {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let [d_output, k] = self.indices.dims();
        content
            .add("d_input", &self.d_input)
            .add("d_output", &d_output)
            .add("fan_in", &k)
            .add("bias", &self.bias.is_some())
            .optional()
    }
}
