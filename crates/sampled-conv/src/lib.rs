//! Monte Carlo post-training quantization of Burn `Conv2d` layers.
//!
//! The importance sampling of `sampled-linear`, applied to one filter (all `c_in·kh·kw` taps of
//! an output channel) at a time. From Mordido, Van Keirsbilck and Keller, *Instant
//! Quantization of Neural Networks using Monte Carlo Methods* (arXiv:1905.12253), section 3 of
//! the project's `algorithms.md`.
//!
//! Status: the crate exists so that the workspace has its final shape; `SampledConv2d` is being
//! built (project issue 7).
