//! Exact prefix sums of `|w|` in fixed point, and their map to sample positions.
//!
//! Each `|w_i|` becomes `x_i = |w_i| · 2^E` (exact: a power of two times an `f32`), with
//! `E` chosen so that `X = Σ x_i = S · 2^E` lies in `[2^49, 2^50)` (from the `f64`
//! estimate of `S` of the first pass; any estimate within a factor `1 ± 2^-20` does).
//! `x_i` is split into its nearest integer `hi_i` and the rest rounded to units of
//! `2^-40`, `lo_i`; both are summed in exact integer arithmetic (a 64-bit and a
//! normalised signed 64-bit accumulator, together `Z = Σ (hi_i 2^40 + lo_i)`). The
//! prefix value handed on is `Y_j = ⌊Z_j / 2^28⌋`, about `2^62 · P_j`, and the total
//! `Y = Y_n` is the same sum carried to the end, so `Y_j = Y` exactly from the last
//! non-zero weight on. A sample position is `T_j = N · Y_j / Y`, computed as
//! `⌊Y_j · R / 2^s⌋` in units of `2^-32` samples with one 64-bit multiplier `R`.
//!
//! Error, with `n` weights and `P_j` the exact prefix sums of `|w| / S`: `lo_i` is off
//! by at most `2^-41`, so `Y_j` is within `(j + 1) 2^-29 + 1` of `2^12 X_j`; the ratio
//! `Y_j / Y` is within `n 2^-89 + 2^-60` of `P_j`; `R` and the final floor add at most
//! `5 · 2^-32` samples. So `|T_j − N P_j| ≤ τ = N (n 2^-89 + 2^-60) + 2^-29` samples:
//! `τ < 2^-28` for `N, n ≤ 2^24`, `τ < 2^-25` at the limits `N < 2^31`, `n ≤ 2^32`.

/// Weights per block of the blocked passes.
pub(super) const BLOCK: usize = 256;

/// Fraction bits of `lo_i`.
const LO_BITS: u32 = 40;

/// `Y = ⌊Z / 2^Y_SHIFT⌋`: `Y` in units of `2^-12` of `x`.
const Y_SHIFT: u32 = 28;

/// `2^52`: adding it to `0 ≤ x < 2^52` leaves `round(x)` in the mantissa bits.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// `1.5 · 2^52`: the same for `|y| < 2^51`, signed.
const ONE_AND_HALF_52: f64 = 6_755_399_441_055_744.0;

/// The fixed-point form of one group of weights: its scale `2^E` and exact total.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fixed {
    /// `2^E`.
    pow: f64,
    /// `Z_n`, exact.
    z_total: i128,
    /// `Y = ⌊Z_n / 2^28⌋`, in `[2^60, 2^63)`.
    pub(super) total: u64,
}

/// `|w| · 2^E` split into `(hi, lo)`: the nearest integer and the rest in units of
/// `2^-40`, rounded. Branch-free and vectorisable (no `f64 → u64` conversion, which
/// must saturate).
#[inline(always)]
fn encode(w: f32, pow: f64) -> (u64, i64) {
    // Exact: `|w|` has 24 significant bits and `pow` is a power of two; x < 2^51.
    let x = f64::from(w.abs()) * pow;
    let shifted = x + TWO_52;
    let hi = shifted.to_bits() - TWO_52.to_bits();
    // Both subtractions are exact: `shifted − 2^52` is the integer `hi`, and `x − hi`
    // has at most the bits of `x` below its integer part.
    let rest = (x - (shifted - TWO_52)) * (1u64 << LO_BITS) as f64;
    let lo = (rest + ONE_AND_HALF_52)
        .to_bits()
        .wrapping_sub(ONE_AND_HALF_52.to_bits()) as i64;
    (hi, lo)
}

impl Fixed {
    /// The encoding of `weights` for a sum estimate `sum_estimate > 0` (finite, within a
    /// factor `1 ± 2^-20` of `Σ|w|`): one vectorised pass for the exact total.
    pub(super) fn new(weights: &[f32], sum_estimate: f64) -> Self {
        // E = 49 − exponent(S), so that S · 2^E ∈ [2^49, 2^50). S ≥ 2^-149 and
        // S < 2^160, so 2^E is a normal f64.
        let exponent = ((sum_estimate.to_bits() >> 52) & 0x7ff) as i64 - 1023;
        let pow = f64::from_bits(((49 - exponent + 1023) as u64) << 52);
        // Per chunk of 4096, Σ lo ≤ 2^12 · 2^39 and Σ hi < 2^51 fit in 64 bits; the
        // chunk sums are added up in 128 bits.
        let mut z_total = 0i128;
        for chunk in weights.chunks(4096) {
            let (mut hi_sum, mut lo_sum) = (0u64, 0i64);
            for &w in chunk {
                let (hi, lo) = encode(w, pow);
                hi_sum += hi;
                lo_sum += lo;
            }
            z_total += (i128::from(hi_sum) << LO_BITS) + i128::from(lo_sum);
        }
        Self {
            pow,
            z_total,
            total: (z_total >> Y_SHIFT) as u64,
        }
    }

    /// `Σ|w|` as the encoding has it (within `n 2^-90 + 2^-53` of the exact sum,
    /// relatively): the `S` of the distribution actually sampled.
    pub(super) fn sum_abs(&self) -> f64 {
        self.z_total as f64 / (1u64 << LO_BITS) as f64 / self.pow
    }
}

/// The prefix sums carried from one block to the next.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Prefix {
    hi: u64,
    /// In `[0, 2^40)` between blocks: whole units are moved to `hi`.
    lo: i64,
}

impl Prefix {
    /// `Y_j` for the next `weights` (at most [`BLOCK`] of them), written to `y`.
    #[inline(always)]
    pub(super) fn block(&mut self, weights: &[f32], fixed: &Fixed, y: &mut [u64]) {
        let len = weights.len();
        let (mut hi, mut lo) = ([0u64; BLOCK], [0i64; BLOCK]);
        for ((h, l), &w) in hi[..len].iter_mut().zip(&mut lo[..len]).zip(weights) {
            (*h, *l) = encode(w, fixed.pow);
        }
        // Two independent 1-cycle dependency chains; the rest is per weight. Within a
        // block |lo| < 2^40 + 256 · 2^39.
        let (mut h, mut l) = (self.hi, self.lo);
        for ((yj, &a), &b) in y.iter_mut().zip(&hi[..len]).zip(&lo[..len]) {
            h += a;
            l += b;
            // ⌊(h 2^40 + l) / 2^28⌋, non-negative as a prefix of non-negative terms.
            *yj = (h << (LO_BITS - Y_SHIFT)).wrapping_add_signed(l >> Y_SHIFT);
        }
        self.hi = h.wrapping_add_signed(l >> LO_BITS);
        self.lo = l & ((1 << LO_BITS) - 1);
    }
}

/// `Y_j ↦ T_j = N Y_j / Y` in units of `2^-32` samples.
#[derive(Clone, Copy, Debug)]
pub(super) struct ToSamples {
    multiplier: u64,
    shift: u32,
}

impl ToSamples {
    /// The map for `samples < 2^31` samples and total `Y ≥ 2^60`.
    pub(super) fn new(samples: usize, total: u64) -> Self {
        // N 2^96 / Y < 2^127 / 2^60: at most 3 bits too many for 64.
        let exact = ((samples as u128) << 96) / u128::from(total);
        let excess = (128 - exact.leading_zeros()).saturating_sub(64);
        Self {
            multiplier: (exact >> excess) as u64,
            shift: 64 - excess,
        }
    }

    /// `⌊Y_j R / 2^s⌋`: at most `5 · 2^-32` samples below `N Y_j / Y`, never above, so
    /// at most `N · 2^32` (`Y_j < 2^63`, `R < 2^64`: the product fits in 128 bits).
    #[inline(always)]
    pub(super) fn t32(&self, y: u64) -> u64 {
        ((u128::from(y) * u128::from(self.multiplier)) >> self.shift) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_splits_exactly() {
        let pow = 2f64.powi(30);
        for w in [
            0.0f32,
            -0.0,
            1.0,
            -3.25,
            1e-7,
            0.1,
            123.456,
            f32::MIN_POSITIVE,
        ] {
            let (hi, lo) = encode(w, pow);
            let x = f64::from(w.abs()) * pow;
            let back = hi as f64 + lo as f64 / 2f64.powi(40);
            assert!((back - x).abs() <= 2f64.powi(-41), "{w}: {back} vs {x}");
            assert!(lo.unsigned_abs() <= 1 << 39);
        }
    }

    #[test]
    fn prefix_ends_at_the_total_and_maps_to_n() {
        let w: Vec<f32> = (0..10_000)
            .map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 1e-3)
            .collect();
        let estimate: f64 = w.iter().map(|x| f64::from(x.abs())).sum();
        let fixed = Fixed::new(&w, estimate);
        assert!((fixed.sum_abs() - estimate).abs() < 1e-12 * estimate);
        assert!((1 << 60..1 << 63).contains(&fixed.total));
        let mut prefix = Prefix::default();
        let mut y = [0u64; BLOCK];
        let mut last = 0;
        for block in w.chunks(BLOCK) {
            prefix.block(block, &fixed, &mut y[..block.len()]);
            assert!(y[..block.len()].iter().all(|&v| v >= last));
            last = y[block.len() - 1];
        }
        assert_eq!(last, fixed.total);
        for n in [1usize, 1000, (1 << 31) - 1] {
            let map = ToSamples::new(n, fixed.total);
            let end = map.t32(fixed.total);
            assert!(
                end <= (n as u64) << 32 && ((n as u64) << 32) - end <= 5,
                "N = {n}"
            );
        }
    }
}
