//! The direct sparse convolution: the fan-in op whose inputs are the taps of a sliding
//! window. Each output reads only its filter's sampled taps from the input; no patches (no
//! im2col) are materialised.
//!
//! ```text
//! y[b, o, oy, ox] = Σ_m weight[o,m] · x[b, c, oy·sy + ky·dy, ox·sx + kx·dx]
//!                   where taps[o,m] = (c·kh + ky)·kw + kx
//! ```

mod autodiff;
mod backend;
mod function;
mod geometry;

pub use backend::FanInConvBackend;
pub use function::{fan_in_conv, try_fan_in_conv};
pub use geometry::TapGeometry;
