//! Partition dropout for Burn.
//!
//! Instead of drawing one uniform number per neuron per training step (Bernoulli dropout),
//! each neuron is assigned once per cycle to one of `P` partitions, and the partitions are
//! dropped in turn over the next `P` steps: one random number per neuron per `P` steps, every
//! neuron dropped exactly once per cycle, and a lower variance of the trained accuracy.
//! From Gamboa and Keller, *Monte Carlo methods and neural networks* (NVIDIA), section 1 of
//! the project's `algorithms.md`.
//!
//! Status (project issue 5): the assignment of neurons to partitions ([`assignment`]), the
//! step counter saved with the record, and the layer with its mask built from plain Burn ops
//! and the LFSR-driven Bernoulli baseline are done and tested. Still to come: the custom
//! forward/backward op that recomputes the mask instead of keeping it alive (CPU and CubeCL)
//! and the variance experiment.

pub mod assignment;
mod bernoulli;
mod dropout;
mod step_counter;

pub use assignment::{Assignment, assign};
pub use bernoulli::{BernoulliDropout, BernoulliDropoutConfig};
pub use dropout::{Mode, PartitionDropout, PartitionDropoutConfig, Scope};
pub use step_counter::StepCounter;
