//! 32-bit fixed-point fractions `x · 2^-32` as floats in `[0, 1)`.
//!
//! Every generator of the crate produces `u32` fractions; these conversions never round
//! up to `1.0`, which a plain `x as f32 / 2^32` does for `x ≥ 2^32 − 2^7`.
//!
//! ```
//! use mcnn_sequences::unit::{to_f32, to_f64};
//! assert_eq!(to_f64(0x8000_0000), 0.5);
//! assert!(to_f32(u32::MAX) < 1.0);
//! ```

/// `x · 2^-32` exactly, in `[0, 1 − 2^-32]`.
#[inline]
pub fn to_f64(x: u32) -> f64 {
    f64::from(x) * (1.0 / 4_294_967_296.0)
}

/// The top 24 bits of `x` as `f32`, exactly: `⌊x / 2^8⌋ · 2^-24`, in `[0, 1 − 2^-24]`.
#[inline]
pub fn to_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// The largest `f64` below 1, `1 − 2^-53`: the clamp for samples that must stay in `[0, 1)`.
pub const ONE_MINUS_EPSILON_F64: f64 = 1.0 - f64::EPSILON / 2.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_stay_below_one() {
        assert_eq!(to_f64(0), 0.0);
        assert_eq!(to_f32(0), 0.0);
        assert!(to_f64(u32::MAX) < 1.0);
        assert_eq!(to_f32(u32::MAX), 1.0 - 1.0 / 16_777_216.0);
        assert_eq!(ONE_MINUS_EPSILON_F64.next_up(), 1.0);
    }
}
