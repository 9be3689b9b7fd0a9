//! Chained fan-in layers in the feature-major layout: activations as blocks of
//! [`LANES`] samples, `[blocks, features, LANES]`, the layout the CPU kernels compute in.
//!
//! The row-major [`fan_in`](crate::fan_in) transposes its input into this layout and its
//! output back at every call (and again in the backward pass). A network of fan-in layers (a
//! path network) converts once on the way in ([`to_feature_major`]) and once on the way out
//! ([`from_feature_major`]) and runs [`fan_in_feature_major`] in between; elementwise ops
//! (activations) apply to the blocks as they are. The backward pass then keeps each layer's
//! feature-major input for its weight gradient and gets its output gradient feature-major,
//! with no transposes. On the GPU neighbouring invocations are neighbouring samples, so every
//! read of the activations is coalesced.
//!
//! The lanes of the last block past the batch are zero on the way in. Layers may make them
//! non-zero (a bias), but no lane mixes with another and [`from_feature_major`] drops them,
//! so their gradient is zero and they reach no weight gradient.

mod autodiff;
mod backend;
mod function;
pub(crate) mod shapes;

pub use backend::FeatureMajorBackend;
pub use function::{
    fan_in_feature_major, from_feature_major, to_feature_major, try_fan_in_feature_major,
};

/// Samples per block of the feature-major layout.
pub const LANES: usize = 64;
