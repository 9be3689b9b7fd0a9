//! Partition dropout for Burn.
//!
//! Instead of drawing one uniform number per neuron per training step (Bernoulli dropout),
//! each neuron is assigned once per cycle to one of `P` partitions, and the partitions are
//! dropped in turn over the next `P` steps: one random number per neuron per `P` steps, every
//! neuron dropped exactly once per cycle, and a lower variance of the trained accuracy.
//! From Gamboa and Keller, *Monte Carlo methods and neural networks* (NVIDIA), section 1 of
//! the project's `algorithms.md`.
//!
//! Status: the crate exists so that the workspace has its final shape; the layer itself
//! (`PartitionDropout`, with a custom forward and backward that recompute the mask) is being
//! built (project issue 5). The random sources it will use live in `mcnn-sequences`.
