//! A counter-based generator: a stateless hash of `(key, counter)` to a uniform `u32`.
//!
//! Value `i` of a stream is `hash(key, i)`; no state is carried from one value to the
//! next, so any value can be computed on its own — by the GPU thread that needs it, or
//! again in the backward pass to recompute a dropout mask instead of storing it.
//!
//! The construction uses only 32-bit integer operations (xor, shift, wrapping
//! multiply), so it ports to a shader or CubeCL kernel line for line:
//!
//! ```text
//! mix32(x)       = lowbias32: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
//! hash(key, i)   = mix32(mix32(i ^ key[0]) ^ key[1])
//! ```
//!
//! `mix32` is Chris Wellons' `lowbias32` (from his *hash-prospector* search), a
//! bijection of `u32` with near-ideal avalanche. The key is two words, injected before
//! each round, so two keys give unrelated streams rather than reorderings of one
//! stream (with a single xor-ed key they would be). Keys come from a 64-bit seed by
//! the SplitMix64 finaliser ([`CounterHash::from_seed`]), on the host; everything after
//! the key ([`CounterHash::derive`], [`hash`]) is 32-bit, so kernels given a key derive
//! the same sub-streams. For a fixed key the stream is a permutation of `u32`: 2^32
//! values without repetition. The counter is a `u32`, so a stream holds exactly 2^32
//! draws: a caller that counts past `u32::MAX` wraps to counter 0 and repeats the
//! stream; more draws need more streams (`derive`).
//!
//! It is not a cryptographic generator, and it is not Philox: the tests check
//! uniformity (a χ² test over 256 bins), bit balance, avalanche and independence
//! between neighbouring keys, which is what masks and jitter need.
//!
//! ```
//! use mcnn_sequences::counter_hash::CounterHash;
//!
//! let stream = CounterHash::from_seed(42);
//! let a = stream.u32_at(7);
//! assert_eq!(a, CounterHash::from_seed(42).u32_at(7)); // a pure function of (seed, 7)
//! let xi = stream.f32_at(7);
//! assert!((0.0..1.0).contains(&xi));
//! // Independent sub-streams, e.g. one per training step or per row:
//! let step_3 = stream.derive(3);
//! assert_ne!(step_3.u32_at(7), a);
//! ```

use crate::unit;

/// Chris Wellons' `lowbias32`: a bijective 32-bit mixer with near-ideal avalanche.
#[inline]
pub const fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The SplitMix64 finaliser (Steele, Lea, Flood 2014): mixes a 64-bit seed into a key.
#[inline]
pub const fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Value `counter` of the stream with `key`: `mix32(mix32(counter ^ key[0]) ^ key[1])`.
///
/// The free-function form of [`CounterHash::u32_at`], for porting into kernels.
#[inline]
pub const fn hash(key: [u32; 2], counter: u32) -> u32 {
    mix32(mix32(counter ^ key[0]) ^ key[1])
}

/// A keyed counter-based generator; see the [module docs](self) for the construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterHash {
    /// The two key words, injected before the first and the second round.
    pub key: [u32; 2],
}

impl CounterHash {
    /// The stream for a 64-bit seed: the key is `splitmix64(seed)`, low word first.
    pub const fn from_seed(seed: u64) -> Self {
        let z = splitmix64(seed);
        Self {
            key: [z as u32, (z >> 32) as u32],
        }
    }

    /// An independent sub-stream, e.g. per training step, per row or per layer.
    ///
    /// Pure `u32` arithmetic like [`hash`], so a kernel can derive too.
    pub const fn derive(self, stream: u32) -> Self {
        let a = mix32(self.key[0] ^ mix32(stream.wrapping_add(0x9e37_79b9)));
        let b = mix32(self.key[1] ^ mix32(a ^ stream));
        Self { key: [a, b] }
    }

    /// Value `counter` of the stream, uniform over `u32`. There are `2^32` counters;
    /// a counter computed with wrapping arithmetic past `u32::MAX` repeats values.
    #[inline]
    pub const fn u32_at(&self, counter: u32) -> u32 {
        hash(self.key, counter)
    }

    /// Value `counter` as an `f32` in `[0, 1)` (24 bits, see [`unit::to_f32`]).
    #[inline]
    pub fn f32_at(&self, counter: u32) -> f32 {
        unit::to_f32(self.u32_at(counter))
    }

    /// Value `counter` as an `f64` in `[0, 1)` (32 bits, see [`unit::to_f64`]).
    #[inline]
    pub fn f64_at(&self, counter: u32) -> f64 {
        unit::to_f64(self.u32_at(counter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix32_is_a_bijection_on_a_sample() {
        // lowbias32 is invertible; spot-check that no two of 2^20 inputs collide.
        let mut seen: Vec<u32> = (0..1u32 << 20).map(mix32).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1 << 20);
    }

    #[test]
    fn chi_square_over_256_bins_is_plausible() {
        let h = CounterHash::from_seed(1);
        let n = 1u32 << 20;
        let mut bins = [0u32; 256];
        for i in 0..n {
            bins[(h.u32_at(i) >> 24) as usize] += 1;
        }
        let expected = f64::from(n) / 256.0;
        let chi2: f64 = bins
            .iter()
            .map(|&b| (f64::from(b) - expected).powi(2) / expected)
            .sum();
        // 255 degrees of freedom: mean 255, sd ≈ 22.6; 400 is beyond 6 sd.
        assert!(chi2 < 400.0, "chi2 = {chi2}");
    }

    #[test]
    fn every_bit_is_balanced() {
        let h = CounterHash::from_seed(2);
        let n = 1u32 << 18;
        let mut ones = [0u32; 32];
        for i in 0..n {
            let x = h.u32_at(i);
            for (b, count) in ones.iter_mut().enumerate() {
                *count += (x >> b) & 1;
            }
        }
        for (b, &count) in ones.iter().enumerate() {
            let p = f64::from(count) / f64::from(n);
            // sd of p is 1/(2·512) ≈ 0.001
            assert!((p - 0.5).abs() < 0.006, "bit {b}: {p}");
        }
    }

    #[test]
    fn flipping_one_counter_bit_flips_half_the_output_bits() {
        let h = CounterHash::from_seed(3);
        let mut total = 0u64;
        let mut trials = 0u64;
        for i in 0..4096u32 {
            for b in 0..32 {
                total += u64::from((h.u32_at(i) ^ h.u32_at(i ^ (1 << b))).count_ones());
                trials += 1;
            }
        }
        let mean = total as f64 / trials as f64;
        assert!((mean - 16.0).abs() < 0.1, "mean flipped bits {mean}");
    }

    #[test]
    fn neighbouring_seeds_and_streams_are_uncorrelated() {
        let n = 1u32 << 16;
        let pairs = [
            (CounterHash::from_seed(0), CounterHash::from_seed(1)),
            (
                CounterHash::from_seed(5).derive(0),
                CounterHash::from_seed(5).derive(1),
            ),
        ];
        for (a, b) in pairs {
            let (mut sxy, mut sx, mut sy, mut sxx, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for i in 0..n {
                let (x, y) = (a.f64_at(i), b.f64_at(i));
                sxy += x * y;
                sx += x;
                sy += y;
                sxx += x * x;
                syy += y * y;
            }
            let m = f64::from(n);
            let cov = sxy / m - sx / m * sy / m;
            let r = cov / ((sxx / m - (sx / m).powi(2)) * (syy / m - (sy / m).powi(2))).sqrt();
            // sd of r is 1/256 ≈ 0.004
            assert!(r.abs() < 0.02, "correlation {r}");
            let equal = (0..n).filter(|&i| a.u32_at(i) == b.u32_at(i)).count();
            assert!(equal <= 1);
        }
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        assert_eq!(
            CounterHash::from_seed(9).u32_at(100),
            hash(CounterHash::from_seed(9).key, 100)
        );
        assert_ne!(
            CounterHash::from_seed(9).key,
            CounterHash::from_seed(10).key
        );
        assert_ne!(
            CounterHash::from_seed(9).derive(0),
            CounterHash::from_seed(9).derive(1)
        );
    }

    #[test]
    fn floats_lie_in_unit_interval() {
        let h = CounterHash::from_seed(4);
        for i in 0..10_000 {
            assert!((0.0..1.0).contains(&h.f32_at(i)));
            assert!((0.0..1.0).contains(&h.f64_at(i)));
        }
    }
}
