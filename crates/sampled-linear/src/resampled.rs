//! `ResampledLinear`: training with weights re-sampled at every step, the DropConnect
//! relation of the slides.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::tensor::{Device, Distribution, Tensor};
//! use sampled_linear::{Budget, ResampledLinearConfig, SamplingConfig};
//!
//! let device = Device::flex().autodiff();
//! // Every training step draws N = ⌈0.25 · 64⌉ = 16 samples per neuron from |w|.
//! let config = ResampledLinearConfig::new(64, 10, SamplingConfig::new(Budget::Amount(0.25)));
//! let layer = config.init(&device);
//! let x = Tensor::<2>::random([8, 64], Distribution::Normal(0.0, 1.0), &device);
//! let loss = layer.forward(x).powi_scalar(2).mean();
//! let grads = loss.backward(); // reaches only the sampled weights
//! # }
//! ```

use std::sync::{Arc, Mutex};

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use mcnn_backends::StepCounter;
use mcnn_fan_in::{fan_in, pack_rows};

use crate::config::SamplingConfig;
use crate::packed::{SparseRows, layout};
use crate::report::StoredSize;
use crate::sample::SampledWeights;
use crate::weights::output_major;

/// Configuration of a [`ResampledLinear`].
#[derive(Config, Debug)]
pub struct ResampledLinearConfig {
    /// The size of the input features.
    pub d_input: usize,
    /// The size of the output features.
    pub d_output: usize,
    /// How each training step samples the weights (its seed is the first step's).
    pub sampling: SamplingConfig,
    /// If a bias should be added.
    #[config(default = true)]
    pub bias: bool,
}

/// A linear layer trained through Monte Carlo samples of its own weights: every training
/// forward draws `N` samples per neuron (or per layer) from `|w| / Σ|w|` of the current float
/// weights and computes `y[.., o] = Σ_j w[o,j] · f[o,j] · x[.., j] + bias[o]` over the sampled
/// entries only, with `f[o,j] = c_j S / (N |w_j|)` (so `w · f` is the estimate `(S/N) · q`,
/// unbiased). The gradient reaches the sampled weights alone, scaled by `f`: DropConnect with
/// importance-sampled, unbiased masks. The forward pass costs `N` multiply-adds per neuron
/// instead of `d_input` (through the fan-in op).
///
/// At inference (a device without autodiff) it is the dense layer, the estimator's
/// expectation. Mordido, Van Keirsbilck and Keller (arXiv:1905.12253) and the slides'
/// relation to DropConnect; section 2 of `docs/algorithms.md`.
///
/// Step `s` (counted per layer, shared by clones, saved with the record) samples with the seed
/// `sampling.seed + s`, so a training resumed from a checkpoint draws what it would have
/// drawn. Each training step reads the weights back to the host to sample them.
#[derive(Module, Debug)]
pub struct ResampledLinear {
    /// The float weights and bias that training updates (Burn's layout, `[d_input, d_output]`).
    pub linear: Linear,
    /// How each training step samples the weights.
    #[module(skip)]
    pub sampling: SamplingConfig,
    /// Training steps so far (recorded).
    pub step: StepCounter,
    /// The counts `q` (`[d_output, d_input]`) of the last training step's sample, shared by
    /// clones.
    #[module(skip)]
    last_counts: Arc<Mutex<Option<Arc<Vec<i32>>>>>,
}

impl ResampledLinearConfig {
    /// Initializes the layer on `device` (Burn's `Linear` initialization).
    ///
    /// # Panics
    /// On a bad sampling budget, naming it.
    pub fn init(&self, device: &Device) -> ResampledLinear {
        let linear = LinearConfig::new(self.d_input, self.d_output)
            .with_bias(self.bias)
            .init(device);
        ResampledLinear::from_linear(linear, self.sampling.clone())
    }
}

impl ResampledLinear {
    /// Trains an existing `linear` (e.g. a pretrained one) through re-sampled weights.
    ///
    /// # Panics
    /// On a bad sampling budget, naming it.
    pub fn from_linear(linear: Linear, sampling: SamplingConfig) -> Self {
        if let Err(error) = sampling.check() {
            panic!("ResampledLinear: {error}");
        }
        Self {
            linear,
            sampling,
            step: StepCounter::default(),
            last_counts: Arc::default(),
        }
    }

    /// Applies the layer: sampled in training (autodiff device), dense at inference.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if !input.device().is_autodiff() {
            return self.linear.forward(input);
        }
        let step = self.step.advance();
        let (indices, factors) = self.sample(step);
        // The live weights at the sampled entries: autodiff sends the gradient to them alone.
        let selected = self
            .linear
            .weight
            .val()
            .transpose()
            .gather(1, indices.clone());
        fan_in(
            input,
            selected * factors,
            indices,
            self.linear.bias.as_ref().map(Param::val),
        )
    }

    /// Training steps so far.
    pub fn steps(&self) -> u64 {
        self.step.get()
    }

    /// The size of the last training step's sample as a [`SampledLinear`](crate::SampledLinear)
    /// would store it (`None` before the first training step): its non-zero fraction and bits
    /// per weight are what the training metrics report.
    pub fn last_sample(&self) -> Option<StoredSize> {
        let counts = self.last_counts.lock().expect("last sample lock").clone()?;
        let [d_input, d_output] = self.linear.weight.lazy_shape().dims();
        let rows = SparseRows::from_dense(&counts, d_output, d_input);
        Some(StoredSize::of_packed(
            &layout(&rows, d_input),
            self.linear.bias.is_some(),
        ))
    }

    /// The sampled entries of step `step` and their factors `f = scale · q / w`, both
    /// `[d_output, k]` (padding: index 0, factor 0).
    fn sample(&self, step: u64) -> (Tensor<2, Int>, Tensor<2>) {
        let weight = self.linear.weight.val();
        let device = weight.device();
        let (rows, d_output, d_input) = output_major(&weight);
        let config = self
            .sampling
            .clone()
            .with_seed(self.sampling.seed.wrapping_add(step));
        let sampled = SampledWeights::sample(&rows, d_output, d_input, &config, "ResampledLinear")
            .unwrap_or_else(|error| panic!("{error}"));
        // q ≠ 0 only where w ≠ 0, so the factor is finite (and positive: q has w's sign).
        let (indices, factors, k) = pack_rows(d_output, d_input, |o, j| {
            let q = sampled.q[o * d_input + j];
            (q != 0).then(|| sampled.scales[o] * q as f32 / rows[o * d_input + j])
        });
        // Kept for `last_sample`; sized only when asked.
        *self.last_counts.lock().expect("last sample lock") = Some(Arc::new(sampled.q));
        (
            Tensor::from_data(TensorData::new(indices, [d_output, k]), &device),
            Tensor::from_data(TensorData::new(factors, [d_output, k]), &device),
        )
    }
}
