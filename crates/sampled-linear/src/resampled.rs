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
use burn::tensor::module::linear;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mcnn_backends::StepCounter;
use mcnn_fan_in::{fan_in, pack_rows, runs_column_kernel, sample_columns, transpose};
use mcnn_sequences::counts::Scheme;
use rayon::prelude::*;

use crate::config::{Granularity, SamplingConfig};
use crate::layer::Kernel;
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
    /// The kernel of the training forward ([`Kernel::Auto`]: the fan-in op when the sample is
    /// sparse enough to pay, else a matrix product with the masked weights).
    #[config(default = "Kernel::Auto")]
    pub kernel: Kernel,
}

/// A linear layer trained through Monte Carlo samples of its own weights: every training
/// forward draws `N` samples per neuron (or per layer) from `|w| / Σ|w|` of the current float
/// weights and computes `y[.., o] = Σ_j w[o,j] · f[o,j] · x[.., j] + bias[o]` over the sampled
/// entries only, with `f[o,j] = c_j S / (N |w_j|)` (so `w · f` is the estimate `(S/N) · q`,
/// unbiased). The gradient reaches the sampled weights alone, scaled by `f`: DropConnect with
/// importance-sampled, unbiased masks. Where the sample is sparse ([`Kernel`]), the forward
/// costs one multiply-add per sampled entry instead of `d_input` per neuron (through the
/// fan-in op); where it keeps most of the weights, it is the dense product with the weights
/// times the mask `f` (the same result and gradient at the dense layer's cost).
///
/// At inference (a device without autodiff) it is the dense layer, the estimator's
/// expectation. Mordido, Van Keirsbilck and Keller (arXiv:1905.12253) and the slides'
/// relation to DropConnect; section 2 of `docs/algorithms.md`.
///
/// Step `s` (counted per layer, shared by clones, saved with the record) samples with the seed
/// `sampling.seed + s`, so a training resumed from a checkpoint draws what it would have
/// drawn. On a GPU ([`runs_column_kernel`]), per-neuron jittered or systematic sampling (the
/// default) with the dense kernel samples the weights where they are ([`sample_columns`]),
/// reading back one status per neuron (and, under [`Kernel::Auto`] unless `N` alone settles
/// the kernel, the widest neuron's non-zeros); the CPU backends, the sparse kernel, per-layer
/// sampling and the sorting schemes read the weights to the host and sample them there. Both
/// give the same counts.
#[derive(Module, Debug)]
pub struct ResampledLinear {
    /// The float weights and bias that training updates (Burn's layout, `[d_input, d_output]`).
    pub linear: Linear,
    /// How each training step samples the weights.
    #[module(skip)]
    pub sampling: SamplingConfig,
    /// The kernel of the training forward.
    #[module(skip)]
    pub kernel: Kernel,
    /// Training steps so far (recorded).
    pub step: StepCounter,
    /// The counts of the last training step's sample, shared by clones.
    #[module(skip)]
    last_counts: Arc<Mutex<Option<LastCounts>>>,
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
        ResampledLinear::from_linear(linear, self.sampling.clone()).with_kernel(self.kernel)
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
            kernel: Kernel::Auto,
            step: StepCounter::default(),
            last_counts: Arc::default(),
        }
    }

    /// The layer computing its training forward with `kernel`.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
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
        let weight = self.linear.weight.val();
        let bias = self.linear.bias.as_ref().map(Param::val);
        if let Some(output) = self.forward_sampled_on_device(&input, &weight, bias.clone(), step) {
            return output;
        }
        let sample = self.sample(&weight, step);
        // The live weights at the sampled entries, times f: autodiff sends the gradient to the
        // sampled entries alone.
        let output = if self.is_sparse(&sample) {
            let (indices, positions, factors) = sample.packed(&weight.device());
            let [d_input, d_output] = weight.dims();
            let selected = weight
                .reshape([d_input * d_output])
                .gather(0, positions)
                .reshape(factors.dims());
            fan_in(input, selected * factors, indices, bias)
        } else {
            let mask = sample.mask(&weight.device());
            linear(input, weight * mask, bias)
        };
        // Kept for `last_sample`; sized only when asked.
        *self.last_counts.lock().expect("last sample lock") =
            Some(LastCounts::Host(Arc::new(sample.q)));
        output
    }

    /// The training forward with the weights sampled on the GPU ([`sample_columns`]: no copy
    /// of them to the host) and the product with the masked weights, when the device runs the
    /// sampler's kernel ([`runs_column_kernel`]), the sampling allows it (per neuron, jittered
    /// or systematic) and the step takes the dense kernel ([`Kernel::Dense`], or
    /// [`Kernel::Auto`] when the widest column keeps at least
    /// [`SPARSE_BELOW`](Self::SPARSE_BELOW) of the inputs: unless `N` alone settles it, one
    /// number, the widest column's non-zeros, is read back). The same counts as the host path;
    /// the factors, output and gradients equal to rounding (the GPU divides `scale · q / w`).
    /// `None` where the host path runs.
    fn forward_sampled_on_device<const D: usize>(
        &self,
        input: &Tensor<D>,
        weight: &Tensor<2>,
        bias: Option<Tensor<1>>,
        step: u64,
    ) -> Option<Tensor<D>> {
        let scheme = match (self.sampling.scheme.scheme(), self.sampling.granularity) {
            (Some(scheme @ (Scheme::Jittered | Scheme::Systematic)), Granularity::PerNeuron) => {
                scheme
            }
            _ => return None,
        };
        if self.kernel == Kernel::Sparse {
            return None;
        }
        let [d_input, d_output] = weight.dims();
        let samples = self
            .sampling
            .samples(d_input, d_output)
            .unwrap_or_else(|error| panic!("ResampledLinear: {error}"));
        // No row keeps more than min(N, d_input) inputs: when that bound already takes the
        // fan-in op, so does the sample, which the host path draws and packs.
        let sparse = |widest: usize| {
            self.kernel
                .is_sparse_below(Self::SPARSE_BELOW, widest.max(1), d_input, d_output)
        };
        // On the CPU backends the weights are in host memory already, and the host path is
        // faster there: it computes the factors in one fused pass where the mask from the
        // counts takes five Burn ops over the weights, and the sampling alone costs about as
        // much either way (`cargo bench -p mcnn-fan-in --bench column_sampler`, RESULTS). A GPU
        // without 64-bit integers and floats cannot run the kernel.
        if sparse(samples.min(d_input)) || !runs_column_kernel(&weight.device()) {
            return None;
        }
        let seed = self.sampling.seed.wrapping_add(step);
        let sample = sample_columns(weight.clone(), samples, scheme, seed);
        if sample.check().is_err() {
            // The host sampler names the weight (output and input) as it always has.
            self.sample(weight, step);
            unreachable!("the host sampler refuses what the device sampler refused");
        }
        let kept = sample.counts.clone().not_equal_elem(0);
        // Otherwise only the widest row decides (one number read back).
        if sparse(1) {
            let widest = kept.clone().int().sum_dim(0).max().into_scalar::<i64>() as usize;
            if sparse(widest) {
                return None;
            }
        }
        // f = scale · q / w where q ≠ 0, else 0 (q ≠ 0 only where w ≠ 0), from the values.
        let factors = (sample.counts.clone().float() * sample.scales.unsqueeze_dim(0))
            / weight.clone().detach();
        let mask = factors.mask_fill(kept.bool_not(), 0.0);
        *self.last_counts.lock().expect("last sample lock") =
            Some(LastCounts::Device(Box::new(sample.counts)));
        Some(linear(input.clone(), weight.clone() * mask, bias))
    }

    /// The widest row's fraction of the inputs below which [`Kernel::Auto`] trains through
    /// the fan-in op. Lower than [`Kernel::DENSE_FROM`] at inference: the sparse step also
    /// gathers the sampled weights and scatters their gradient. On flex (MLP 784-300-10, batch
    /// 64, `examples/resampled_training.rs --kernel`) the two kernels were even at K = 0.05
    /// (about 5% of the inputs) and the dense one faster from K = 0.1 on (docs/RESULTS.md).
    pub const SPARSE_BELOW: f64 = 0.1;

    /// Whether this step runs the fan-in op (else the product with the masked weights).
    fn is_sparse(&self, sample: &StepSample) -> bool {
        self.kernel.is_sparse_below(
            Self::SPARSE_BELOW,
            sample.widest,
            sample.d_input,
            sample.d_output,
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
        let counts = match counts {
            LastCounts::Host(q) => q,
            LastCounts::Device(q) => Arc::new(mcnn_backends::host_ints(q.transpose())),
        };
        let rows = SparseRows::from_dense(&counts, d_output, d_input);
        Some(StoredSize::of_packed(
            &layout(&rows, d_input),
            self.linear.bias.is_some(),
        ))
    }

    /// The sample of step `step`, drawn from the current weights on the host.
    fn sample(&self, weight: &Tensor<2>, step: u64) -> StepSample {
        let (rows, d_output, d_input) = output_major(weight);
        let config = self
            .sampling
            .clone()
            .with_seed(self.sampling.seed.wrapping_add(step));
        let (q, scales) =
            SampledWeights::draw(&rows, d_output, d_input, &config, "ResampledLinear")
                .unwrap_or_else(|error| panic!("{error}"));
        // f = scale · q / w, 0 where q = 0. q ≠ 0 only where w ≠ 0, so a kept f is finite (and
        // positive: q has w's sign). A select over whole rows, which vectorises.
        let mut factors = vec![0.0f32; q.len()];
        let widest = factors
            .par_chunks_mut(d_input)
            .zip(q.par_chunks(d_input))
            .zip(rows.par_chunks(d_input))
            .zip(scales.par_iter())
            .map(|(((factors, q), w), &scale)| {
                for ((f, &q), &w) in factors.iter_mut().zip(q).zip(w) {
                    let kept = scale * q as f32 / w;
                    *f = if q == 0 { 0.0 } else { kept };
                }
                q.iter().filter(|&&q| q != 0).count()
            })
            .max()
            .unwrap_or(0)
            .max(1);
        StepSample {
            q,
            factors,
            d_output,
            d_input,
            widest,
        }
    }
}

/// The counts of a training step's sample, where it was drawn.
#[derive(Clone, Debug)]
enum LastCounts {
    /// Output-major `[d_output, d_input]`, on the host.
    Host(Arc<Vec<i32>>),
    /// Burn's layout `[d_input, d_output]`, on the weights' device (read when asked).
    Device(Box<Tensor<2, Int>>),
}

/// One training step's sample: the counts `q` and the factors `f = scale · q / w` (0 where
/// `q = 0`), both output-major `[d_output, d_input]`, and the most non-zeros in a row.
struct StepSample {
    q: Vec<i32>,
    factors: Vec<f32>,
    d_output: usize,
    d_input: usize,
    widest: usize,
}

impl StepSample {
    /// The fan-in form, all `[d_output, k]`: the sampled inputs, their positions in Burn's
    /// flattened `[d_input, d_output]` weight, and their factors (padding: input 0, factor 0).
    fn packed(&self, device: &Device) -> (Tensor<2, Int>, Tensor<1, Int>, Tensor<2>) {
        let (d_output, d_input) = (self.d_output, self.d_input);
        let (indices, factors, k) = pack_rows(
            d_output,
            d_input,
            |o, j| self.q[o * d_input + j] != 0,
            |o, j| self.factors[o * d_input + j],
        );
        let positions: Vec<i64> = indices
            .chunks(k)
            .enumerate()
            .flat_map(|(o, row)| row.iter().map(move |&j| j * d_output as i64 + o as i64))
            .collect();
        (
            Tensor::from_data(TensorData::new(indices, [d_output, k]), device),
            Tensor::from_data(TensorData::new(positions, [d_output * k]), device),
            Tensor::from_data(TensorData::new(factors, [d_output, k]), device),
        )
    }

    /// The factors as a dense mask in Burn's `Linear` layout, `[d_input, d_output]`.
    fn mask(&self, device: &Device) -> Tensor<2> {
        let mask = transpose(&self.factors, self.d_output, self.d_input);
        Tensor::from_data(TensorData::new(mask, [self.d_input, self.d_output]), device)
    }
}
