//! Partition dropout for Burn.
//!
//! Instead of drawing one uniform number per neuron per training step (Bernoulli dropout),
//! each neuron is assigned once per cycle to one of `P` partitions, and the partitions are
//! dropped in turn over the next `P` steps: one random number per neuron per `P` steps, every
//! neuron dropped exactly once per cycle, and a lower variance of the trained accuracy.
//! From Gamboa and Keller, *Monte Carlo methods and neural networks* (NVIDIA), section 1 of
//! `docs/algorithms.md`.
//!
//! Status (project issue 5): the assignments of neurons to partitions ([`assignment`]), the
//! step counter saved with the record, the layer with its custom masking op (a backward that
//! rebuilds the mask from the cycle's partition table; CPU and CubeCL) and the LFSR-driven
//! Bernoulli baseline are done and tested; the variance experiment E1 is
//! `examples/partition_dropout_variance.rs` (results in `docs/RESULTS.md`).

#![allow(deprecated)]
// NdArray is deprecated upstream in favour of Flex; we keep serving it.
// Without a backend feature the crate is its API only, and its implementations go unused.
#![cfg_attr(
    not(any(feature = "flex", feature = "ndarray", feature = "wgpu")),
    allow(unused)
)]

pub mod assignment;
mod bernoulli;
mod dropout;
mod mask_op;

pub use assignment::{Assignment, MAX_PARTITIONS, assign};
pub use bernoulli::{BernoulliDropout, BernoulliDropoutConfig, MAX_PROB, MIN_PROB};
pub use dropout::{Mode, PartitionDropout, PartitionDropoutConfig, Scope};
pub use mask_op::PartitionMaskBackend;
#[doc(hidden)] // counters for tests that prove the custom op ran; not part of the API
pub use mask_op::{backward_passes, cube_launches};
/// A bad configuration of a dropout layer: the parameter, its value and what is allowed (the
/// workspace's parameter error, [`mcnn_backends::ParamError`]).
pub use mcnn_backends::ParamError as DropoutError;
pub use mcnn_backends::StepCounter;
