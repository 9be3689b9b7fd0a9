//! Radical inverses: the van der Corput sequence in base 2 and its analogues in other
//! bases (the one-dimensional Halton sequences).
//!
//! The radical inverse `φ_b(i)` mirrors the base-`b` digits of `i` at the radix point:
//! `i = Σ d_k b^k` gives `φ_b(i) = Σ d_k b^(−k−1)`. In base 2 it is a bit reversal, and
//! every aligned block of `2^m` consecutive indices hits every interval `[k/2^m,
//! (k+1)/2^m)` once — the stratification that low-discrepancy sampling relies on.
//!
//! ```
//! use mcnn_sequences::radical_inverse::{radical_inverse, van_der_corput};
//!
//! assert_eq!(van_der_corput(1), 0x8000_0000); // 0.5
//! assert_eq!(van_der_corput(6), 0x6000_0000); // 6 = 110₂ → 0.011₂ = 0.375
//! assert_eq!(radical_inverse(3, 5).unwrap(), 7.0 / 9.0); // 5 = 12₃ → 0.21₃
//! ```

use crate::error::SamplingError;
use crate::unit;

/// `φ_2(index)` as a 32-bit fraction (`value · 2^-32`): the bits of `index` reversed.
#[inline]
pub const fn van_der_corput(index: u32) -> u32 {
    index.reverse_bits()
}

/// `φ_2(index)` as an `f64` in `[0, 1)`, exact.
#[inline]
pub fn van_der_corput_f64(index: u32) -> f64 {
    unit::to_f64(van_der_corput(index))
}

/// The radical inverse `φ_base(index)` in `[0, 1)`.
///
/// The digits are mirrored exactly in 128-bit integers, then the fraction
/// `mirrored / base^digits` is formed in `f64` (two conversions and a division, each
/// rounded; numerator and denominator are first truncated to 64 bits when
/// `base^digits ≥ 2^64`). The result is within `3 · 2^-53` of the exact value
/// relatively while `base^digits < 2^64`, and within `2^-51` absolutely always, but not
/// necessarily the correctly rounded `f64`; it is clamped below 1.
///
/// # Errors
/// [`SamplingError::InvalidBase`] for `base < 2`.
pub fn radical_inverse(base: u32, index: u64) -> Result<f64, SamplingError> {
    if base < 2 {
        return Err(SamplingError::InvalidBase { base });
    }
    let b = u128::from(base);
    let (mut i, mut mirrored, mut denominator) = (u128::from(index), 0u128, 1u128);
    while i > 0 {
        mirrored = mirrored * b + i % b;
        denominator *= b;
        i /= b;
    }
    // index < 2^64 has at most 64 digits in base 2 and fewer in larger bases, and
    // denominator = base^digits ≤ base · index < 2^96: no overflow.
    let value = if denominator < 1u128 << 64 {
        mirrored as f64 / denominator as f64
    } else {
        // Both may exceed 2^53; scale down without losing the ratio beyond rounding.
        let shift = 128 - denominator.leading_zeros() - 64;
        (mirrored >> shift) as f64 / (denominator >> shift) as f64
    };
    Ok(value.min(unit::ONE_MINUS_EPSILON_F64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_two_matches_bit_reversal() {
        for i in [0u32, 1, 2, 3, 12345, u32::MAX] {
            let expected = van_der_corput_f64(i);
            assert_eq!(radical_inverse(2, u64::from(i)).unwrap(), expected);
        }
    }

    #[test]
    fn small_bases_by_hand() {
        // base 3: 1 → 1/3, 2 → 2/3, 3 = 10₃ → 1/9, 4 = 11₃ → 4/9
        let expected = [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0 / 9.0, 4.0 / 9.0];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(radical_inverse(3, i as u64).unwrap(), *e);
        }
        // base 5: 7 = 12₅ → 0.21₅ = 2/5 + 1/25 = 11/25
        assert_eq!(radical_inverse(5, 7).unwrap(), 11.0 / 25.0);
        // base 10 reads decimal digits backwards
        assert_eq!(radical_inverse(10, 1234).unwrap(), 0.4321);
    }

    #[test]
    fn blocks_stratify_in_every_small_base() {
        for base in [2u32, 3, 5, 7] {
            let block = u64::from(base).pow(3);
            for start in [0, block, 5 * block] {
                let mut hit = vec![false; block as usize];
                for i in start..start + block {
                    let x = radical_inverse(base, i).unwrap();
                    // Points k/b^3 are exact rationals that round either way in f64.
                    let cell = (x * block as f64 + 1e-9).floor() as usize;
                    assert!(!hit[cell], "base {base}: cell {cell} hit twice");
                    hit[cell] = true;
                }
            }
        }
    }

    #[test]
    fn huge_indices_stay_below_one() {
        for base in [2, 3, 7, 1000, u32::MAX] {
            let x = radical_inverse(base, u64::MAX).unwrap();
            assert!((0.0..1.0).contains(&x), "base {base}: {x}");
        }
    }

    #[test]
    fn bases_below_two_are_refused() {
        assert_eq!(
            radical_inverse(0, 1),
            Err(SamplingError::InvalidBase { base: 0 })
        );
        assert_eq!(
            radical_inverse(1, 1),
            Err(SamplingError::InvalidBase { base: 1 })
        );
    }
}
