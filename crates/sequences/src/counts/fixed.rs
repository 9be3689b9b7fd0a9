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
pub(super) const LO_BITS: u32 = 40;

/// `Y = ⌊Z / 2^Y_SHIFT⌋`: `Y` in units of `2^-12` of `x`.
pub(super) const Y_SHIFT: u32 = 28;

/// `2^52`: adding it to `0 ≤ x < 2^52` leaves `round(x)` in the mantissa bits.
pub(super) const TWO_52: f64 = 4_503_599_627_370_496.0;

/// `1.5 · 2^52`: the same for `|y| < 2^51`, signed.
pub(super) const ONE_AND_HALF_52: f64 = 6_755_399_441_055_744.0;

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
pub(super) fn encode(w: f32, pow: f64) -> (u64, i64) {
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
    #[inline(always)]
    pub(super) fn new(weights: &[f32], sum_estimate: f64) -> Self {
        let pow = Self::pow_for(sum_estimate);
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
            z_total += Self::z_of(hi_sum, lo_sum);
        }
        Self::from_z_total(pow, z_total)
    }

    /// `2^E` for a sum estimate: `E = 49 − exponent(S)`, so that `S · 2^E ∈ [2^49, 2^50)`.
    /// `S ≥ 2^-149` and `S < 2^160`, so `2^E` is a normal `f64`.
    #[inline(always)]
    pub(super) fn pow_for(sum_estimate: f64) -> f64 {
        let exponent = ((sum_estimate.to_bits() >> 52) & 0x7ff) as i64 - 1023;
        f64::from_bits(((49 - exponent + 1023) as u64) << 52)
    }

    /// `Σ (hi_i 2^40 + lo_i)` from the sums of the `hi` and of the `lo` of [`encode`].
    #[inline(always)]
    pub(super) fn z_of(hi_sum: u64, lo_sum: i64) -> i128 {
        (i128::from(hi_sum) << LO_BITS) + i128::from(lo_sum)
    }

    /// The encoding with scale `pow` whose exact total is `z_total` (integer sums are the
    /// same in any order, so a caller may add the terms up as it likes).
    pub(super) fn from_z_total(pow: f64, z_total: i128) -> Self {
        Self {
            pow,
            z_total,
            total: (z_total >> Y_SHIFT) as u64,
        }
    }

    /// `2^E`.
    pub(super) fn pow(&self) -> f64 {
        self.pow
    }

    /// `Σ|w|` as the encoding has it (within `n 2^-90 + 2^-53` of the exact sum,
    /// relatively): the `S` of the distribution actually sampled.
    pub(super) fn sum_abs(&self) -> f64 {
        self.z_total as f64 / (1u64 << LO_BITS) as f64 / self.pow
    }
}

/// The prefix sums carried from one block to the next.
#[derive(Clone, Debug)]
pub(super) struct Prefix {
    carry: Carry,
    /// Scratch for the encoded block, kept here so that it is not zeroed per block.
    hi_block: [u64; BLOCK],
    lo_block: [i64; BLOCK],
}

/// The sums so far.
#[derive(Clone, Copy, Debug, Default)]
struct Carry {
    hi: u64,
    /// In `[0, 2^40)` between blocks: whole units are moved to `hi`.
    lo: i64,
}

/// One step of the prefix sums for a single group (e.g. one column): adds `(hi, lo)` to
/// the running sums `(h, l)`, keeps `l` in `[0, 2^40)`, and returns `Y_j = ⌊Z_j / 2^28⌋`,
/// the same value as [`Prefix::block`] gives (`Z_j` is one exact integer however it is
/// split between `h` and `l`).
///
/// Unsigned arithmetic only (AVX2 has no 64-bit arithmetic shift): with `l ∈ [0, 2^40)`
/// and `|lo| ≤ 2^39`, `l + lo + 2^40` is positive, so its logical shifts are the floors
/// of `(l + lo) / 2^k` plus `2^(40 − k)`.
#[inline(always)]
pub(super) fn prefix_step(h: &mut u64, l: &mut u64, hi: u64, lo: i64) -> u64 {
    let hs = h.wrapping_add(hi);
    let ls = l.wrapping_add_signed(lo);
    let biased = ls.wrapping_add(1 << LO_BITS);
    let y = (hs << (LO_BITS - Y_SHIFT))
        .wrapping_add(biased >> Y_SHIFT)
        .wrapping_sub(1 << (LO_BITS - Y_SHIFT));
    *h = hs.wrapping_add(biased >> LO_BITS).wrapping_sub(1);
    *l = ls & ((1 << LO_BITS) - 1);
    y
}

/// The high 64 bits of `v · r` from four 32 × 32 → 64 products (which vectorise, where a
/// 128-bit product does not): the same value as `(v as u128 * r as u128) >> 64`.
#[inline(always)]
pub(super) fn high_product(v: u64, r: u64) -> u64 {
    const LOW: u64 = 0xffff_ffff;
    let (vl, vh, rl, rh) = (v & LOW, v >> 32, r & LOW, r >> 32);
    let (ll, lh, hl, hh) = (vl * rl, vl * rh, vh * rl, vh * rh);
    let mid = (ll >> 32) + (lh & LOW) + (hl & LOW);
    hh + (mid >> 32) + (lh >> 32) + (hl >> 32)
}

impl Carry {
    /// The running sums of `hi` and `lo` from `self` on, as `Y_j` in `y`.
    #[inline(always)]
    fn sums(&mut self, hi: &[u64], lo: &[i64], y: &mut [u64]) {
        // Two independent 1-cycle dependency chains; the rest is per weight. Within a
        // block |lo| < 2^40 + 256 · 2^39.
        let (mut h, mut l) = (self.hi, self.lo);
        for ((yj, &a), &b) in y.iter_mut().zip(hi).zip(lo) {
            h += a;
            l += b;
            // ⌊(h 2^40 + l) / 2^28⌋, non-negative as a prefix of non-negative terms.
            *yj = (h << (LO_BITS - Y_SHIFT)).wrapping_add_signed(l >> Y_SHIFT);
        }
        self.hi = h.wrapping_add_signed(l >> LO_BITS);
        self.lo = l & ((1 << LO_BITS) - 1);
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self {
            carry: Carry::default(),
            hi_block: [0; BLOCK],
            lo_block: [0; BLOCK],
        }
    }
}

impl Prefix {
    /// `Y_j` for the next `weights` (at most [`BLOCK`] of them), written to `y`.
    #[inline(always)]
    pub(super) fn block(&mut self, weights: &[f32], fixed: &Fixed, y: &mut [u64]) {
        let len = weights.len();
        encode_block(weights, fixed, &mut self.hi_block, &mut self.lo_block);
        self.carry
            .sums(&self.hi_block[..len], &self.lo_block[..len], &mut y[..len]);
    }

    /// [`Prefix::block`] with AVX2: the running sums four lanes at a time (an
    /// in-register prefix sum plus the carry from the previous four), the same
    /// integers as the scalar sums.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub(super) fn block_avx2(&mut self, weights: &[f32], fixed: &Fixed, y: &mut [u64]) {
        use std::arch::x86_64::*;
        let len = weights.len().min(BLOCK);
        let y = &mut y[..len];
        let whole = len - len % 4;
        encode_block(
            &weights[..len],
            fixed,
            &mut self.hi_block,
            &mut self.lo_block,
        );
        let zero = _mm256_setzero_si256();
        // Lanes (a, b, c, d) ↦ (0, a, b, c) and (0, 0, a, b).
        let up1 = |v| {
            _mm256_blend_epi32::<0b0000_0011>(_mm256_permute4x64_epi64::<0b10_01_00_00>(v), zero)
        };
        let up2 = |v| {
            _mm256_blend_epi32::<0b0000_1111>(_mm256_permute4x64_epi64::<0b01_00_00_00>(v), zero)
        };
        let mut h = _mm256_set1_epi64x(self.carry.hi as i64);
        let mut l = _mm256_set1_epi64x(self.carry.lo);
        // l >> 28 (arithmetic) as ((l + 2^62) >> 28) − 2^34, exact for |l| < 2^62.
        let bias = _mm256_set1_epi64x(1 << 62);
        let unbias = _mm256_set1_epi64x(1 << (62 - Y_SHIFT));
        for i in (0..whole).step_by(4) {
            // SAFETY: i + 4 ≤ whole ≤ len ≤ the length of the blocks and of `y`.
            unsafe {
                let a = _mm256_loadu_si256(self.hi_block.as_ptr().add(i).cast());
                let b = _mm256_loadu_si256(self.lo_block.as_ptr().add(i).cast());
                // In-register prefix sums; the carry chain is one add per four lanes.
                let a = _mm256_add_epi64(a, up1(a));
                let b = _mm256_add_epi64(b, up1(b));
                let a = _mm256_add_epi64(a, up2(a));
                let b = _mm256_add_epi64(b, up2(b));
                let hv = _mm256_add_epi64(h, a);
                let lv = _mm256_add_epi64(l, b);
                h = _mm256_add_epi64(h, _mm256_permute4x64_epi64::<0b11_11_11_11>(a));
                l = _mm256_add_epi64(l, _mm256_permute4x64_epi64::<0b11_11_11_11>(b));
                let yv = _mm256_add_epi64(
                    _mm256_slli_epi64::<{ (LO_BITS - Y_SHIFT) as i32 }>(hv),
                    _mm256_sub_epi64(
                        _mm256_srli_epi64::<{ Y_SHIFT as i32 }>(_mm256_add_epi64(lv, bias)),
                        unbias,
                    ),
                );
                _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), yv);
            }
        }
        self.carry.hi = _mm256_extract_epi64::<0>(h) as u64;
        self.carry.lo = _mm256_extract_epi64::<0>(l);
        // The tail, which also moves whole units of lo to hi.
        let (hi, lo) = (&self.hi_block[whole..len], &self.lo_block[whole..len]);
        self.carry.sums(hi, lo, &mut y[whole..]);
    }
}

/// `encode` of each weight (at most [`BLOCK`]) into `hi` and `lo`.
#[inline(always)]
fn encode_block(weights: &[f32], fixed: &Fixed, hi: &mut [u64; BLOCK], lo: &mut [i64; BLOCK]) {
    let len = weights.len();
    for ((h, l), &w) in hi[..len].iter_mut().zip(&mut lo[..len]).zip(weights) {
        (*h, *l) = encode(w, fixed.pow);
    }
}

/// `Y_j ↦ T_j = N Y_j / Y` in units of `2^-32` samples.
#[derive(Clone, Copy, Debug)]
pub(super) struct ToSamples {
    multiplier: u64,
    /// `64 − s`: `⌊Y_j R / 2^s⌋ = ⌊(Y_j 2^(64−s)) R / 2^64⌋`, and `Y_j 2^(64−s)` fits
    /// in 64 bits (see [`ToSamples::new`]), so one 64×64 → high-64 multiply suffices.
    pre_shift: u32,
}

impl ToSamples {
    /// The map for `samples < 2^31` samples and total `Y ≥ 2^60`.
    pub(super) fn new(samples: usize, total: u64) -> Self {
        // N 2^96 / Y < 2^127 / 2^60: at most 3 bits too many for 64.
        let exact = ((samples as u128) << 96) / u128::from(total);
        let excess = (128 - exact.leading_zeros()).saturating_sub(64);
        // With e = excess, exact ≥ 2^(63+e), so 2^e ≤ exact / 2^63 and, for every
        // Y_j ≤ Y, Y_j 2^e ≤ Y · exact / 2^63 ≤ N 2^33 < 2^64: the pre-shift is exact.
        Self {
            multiplier: (exact >> excess) as u64,
            pre_shift: excess,
        }
    }

    /// `⌊Y_j R / 2^s⌋`: at most `5 · 2^-32` samples below `N Y_j / Y`, never above, so
    /// at most `N · 2^32` (`Y_j < 2^63`, `R < 2^64`: the product fits in 128 bits).
    #[inline(always)]
    pub(super) fn t32(&self, y: u64) -> u64 {
        ((u128::from(y << self.pre_shift) * u128::from(self.multiplier)) >> 64) as u64
    }

    /// `(R, 64 − s)`: [`ToSamples::t32`]`(y)` is [`high_product`]`(y << (64 − s), R)`.
    pub(super) fn parts(&self) -> (u64, u32) {
        (self.multiplier, self.pre_shift)
    }

    /// [`ToSamples::t32`] of each `y`, split into `⌊T⌋` (`k`) and its 32 fraction bits.
    #[inline(always)]
    pub(super) fn split_block(&self, y: &[u64], k: &mut [u32], frac: &mut [u32]) {
        for ((kj, fj), &yj) in k.iter_mut().zip(frac.iter_mut()).zip(y) {
            let t = self.t32(yj);
            *kj = (t >> 32) as u32;
            *fj = t as u32;
        }
    }

    /// [`ToSamples::split_block`] with AVX2: the high 64 bits of the 128-bit product
    /// from four exact 32 × 32 → 64 products (`vpmuludq`), four lanes at a time. No
    /// term overflows: `mid < 3 · 2^32`, and the result is at most `N 2^32 < 2^63`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub(super) fn split_block_avx2(&self, y: &[u64], k: &mut [u32], frac: &mut [u32]) {
        use std::arch::x86_64::*;
        let len = y.len().min(k.len()).min(frac.len());
        let whole = len - len % 4;
        let shift = _mm_cvtsi32_si128(self.pre_shift as i32);
        let r = self.multiplier;
        let rl = _mm256_set1_epi64x((r & 0xffff_ffff) as i64);
        let rh = _mm256_set1_epi64x((r >> 32) as i64);
        let low = _mm256_set1_epi64x(0xffff_ffff);
        // Low dwords (the fractions) to the lower half, high dwords (⌊T⌋) to the upper.
        let gather = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        for i in (0..whole).step_by(4) {
            // SAFETY: i + 4 ≤ whole ≤ the length of every slice; unaligned accesses.
            unsafe {
                let v = _mm256_loadu_si256(y.as_ptr().add(i).cast());
                let v = _mm256_sll_epi64(v, shift);
                let vh = _mm256_srli_epi64::<32>(v);
                let ll = _mm256_mul_epu32(v, rl);
                let lh = _mm256_mul_epu32(v, rh);
                let hl = _mm256_mul_epu32(vh, rl);
                let hh = _mm256_mul_epu32(vh, rh);
                let mid = _mm256_add_epi64(
                    _mm256_srli_epi64::<32>(ll),
                    _mm256_add_epi64(_mm256_and_si256(lh, low), _mm256_and_si256(hl, low)),
                );
                let t = _mm256_add_epi64(
                    _mm256_add_epi64(hh, _mm256_srli_epi64::<32>(mid)),
                    _mm256_add_epi64(_mm256_srli_epi64::<32>(lh), _mm256_srli_epi64::<32>(hl)),
                );
                let packed = _mm256_permutevar8x32_epi32(t, gather);
                _mm_storeu_si128(
                    frac.as_mut_ptr().add(i).cast(),
                    _mm256_castsi256_si128(packed),
                );
                _mm_storeu_si128(
                    k.as_mut_ptr().add(i).cast(),
                    _mm256_extracti128_si256::<1>(packed),
                );
            }
        }
        self.split_block(&y[whole..len], &mut k[whole..len], &mut frac[whole..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_product_and_prefix_step_are_exact() {
        let h = crate::counter_hash::CounterHash::from_seed(5);
        for i in 0..10_000u32 {
            let v = u64::from(h.u32_at(4 * i)) << 32 | u64::from(h.u32_at(4 * i + 1));
            let r = u64::from(h.u32_at(4 * i + 2)) << 32 | u64::from(h.u32_at(4 * i + 3));
            assert_eq!(
                high_product(v, r),
                ((u128::from(v) * u128::from(r)) >> 64) as u64
            );
        }
        // Against the blocked sums, with a negative lo on every other weight.
        let w: Vec<f32> = (0..3000).map(|i| (i % 17) as f32 * 0.37 + 1e-3).collect();
        let fixed = Fixed::new(&w, w.iter().map(|&x| f64::from(x)).sum());
        let mut y = vec![0u64; w.len()];
        let mut prefix = Prefix::default();
        for (wb, yb) in w.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
            prefix.block(wb, &fixed, yb);
        }
        let (mut hs, mut ls) = (0u64, 0u64);
        for (&wj, &yj) in w.iter().zip(&y) {
            let (hi, lo) = encode(wj, fixed.pow());
            assert_eq!(prefix_step(&mut hs, &mut ls, hi, lo), yj);
        }
    }

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
