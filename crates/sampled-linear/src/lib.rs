//! Monte Carlo post-training quantization of Burn `Linear` layers.
//!
//! Sampling `N` weight indices with probability `|w_j| / Σ|w|` and counting hits turns every
//! weight into a small signed integer times one scale per neuron (or per layer): quantization
//! and sparsification without retraining. From Mordido, Van Keirsbilck and Keller, *Instant
//! Quantization of Neural Networks using Monte Carlo Methods* (arXiv:1905.12253), section 2
//! of `docs/algorithms.md`.
//!
//! - [`SamplingConfig`]: budget ([`Budget`]: a sampling amount `K`, `N = ⌈K·n⌉`, or a fixed
//!   number per neuron), [`Granularity`], [`SamplingScheme`] and seed.
//! - [`SampledLinear`]: the compact layer (indices + integers + scales), computed through
//!   the fan-in op; [`SampledLinear::from_linear`] makes it from a trained `Linear`.
//! - [`sample_weights`]: every `Linear` (and `Conv2d`: [`LayerKind`]) of a model, or those a
//!   filter selects, sampled in place with a [`LayerReport`] per layer; [`map_weights`] is
//!   the mapper behind it, which the `sampled-conv` crate builds on.
//! - [`ResampledLinear`]: training with the weights re-sampled at every step (DropConnect
//!   with importance-sampled masks); dense at inference.
//! - [`sample_activations`]: the same sampling for non-negative activations (MCQ), per
//!   example, so that a sampled layer computes an integer dot product times two scales.
//! - [`Baseline`] and [`apply_baseline`]: magnitude and random pruning, TWN ternary
//!   thresholding and uniform rounding, to compare with at equal sparsity or bits.
//!
//! Weights keep Burn's layout at the API (`Linear` stores `[d_input, d_output]`); sampling
//! works on output-major rows, one distribution per output neuron ([`output_major`]).
#![cfg_attr(
    not(any(feature = "flex", feature = "ndarray", feature = "wgpu")),
    allow(unused)
)]

/// Burn, for the `Module` impls that [`dense_or_sampled_module!`] writes in other crates.
#[doc(hidden)]
pub use burn as __burn;

mod activation;
mod baseline;
mod baselines;
mod compact_rows;
pub mod compress;
mod config;
mod error;
mod layer;
mod mapper;
mod method;
pub mod packed;
mod report;
mod resampled;
mod sample;
mod weights;

pub use activation::sample_activations;
pub use baseline::Baseline;
pub use baselines::apply_baseline;
pub use compact_rows::{CompactRows, Form};
pub use compress::{
    CompactLayout, Compressible, CompressibleLayer, CompressionPlan, LayerSelection, LinearLayer,
    compress, compressible_layers,
};
pub use config::{Budget, Granularity, SamplingConfig, SamplingScheme};
pub use error::SampledLinearError;
pub use layer::{Kernel, SampledLinear, SampledLinearConfig};
pub use mapper::{LayerKind, LayerRows, map_weights, sample_weights};
pub use method::Method;
pub use report::{LayerReport, StoredSize, WeightStats};
pub use resampled::{ResampledLinear, ResampledLinearConfig};
pub use sample::SampledWeights;
pub use weights::{input_major_tensor, output_major};
