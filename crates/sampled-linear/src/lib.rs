//! Monte Carlo post-training quantization of Burn `Linear` layers.
//!
//! Sampling `N` weight indices with probability `|w_j| / Σ|w|` and counting hits turns every
//! weight into a small signed integer times one scale per neuron (or per layer): quantization
//! and sparsification without retraining. From Mordido, Van Keirsbilck and Keller, *Instant
//! Quantization of Neural Networks using Monte Carlo Methods* (arXiv:1905.12253), section 2
//! of the project's `algorithms.md`.
//!
//! Status: the crate exists so that the workspace has its final shape; `SampledLinear` is being
//! built (project issue 6) on the count samplers of `mcnn-sequences`.
