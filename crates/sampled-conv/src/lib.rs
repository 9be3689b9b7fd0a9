//! Monte Carlo post-training quantization of Burn `Conv2d` layers.
//!
//! The importance sampling of `sampled-linear`, applied to one filter (all `c_in·kh·kw` taps of
//! an output channel) at a time, or to the whole layer. From Mordido, Van Keirsbilck and
//! Keller, *Instant Quantization of Neural Networks using Monte Carlo Methods*
//! (arXiv:1905.12253), section 3 of `docs/algorithms.md`.
//!
//! - [`SampledConv2d`]: the compact layer (taps + integers + scales), computed by the direct
//!   sparse convolution of `mcnn-fan-in` (each output reads only its filter's sampled taps); [`SampledConv2d::from_conv2d`] makes it from a trained
//!   `Conv2d`, [`SampledConv2d::forward_reference`] is the dense convolution it must equal.
//! - Whole models: `sampled_linear::sample_weights` and `sampled_linear::apply_baseline` with
//!   `LayerKind::ALL` sample (or prune, round) every `Conv2d` filter and `Linear` neuron in
//!   place, with a report per layer; `sampled_linear::compress` makes the compact layers.
//!
//! Budgets, granularities, schemes and seeds are `sampled-linear`'s [`SamplingConfig`]; for a
//! `Conv2d` a "neuron" is a filter and `d_input` its number of taps.
#![cfg_attr(
    not(any(feature = "flex", feature = "ndarray", feature = "wgpu")),
    allow(unused)
)]

mod conv2d_layer;
mod layer;

pub use conv2d_layer::Conv2dLayer;
pub use layer::{ConvGeometry, SampledConv2d, SampledConv2dConfig};
pub use sampled_linear::{
    Budget, Granularity, Kernel, LayerReport, SamplingConfig, SamplingScheme,
};
