//! Samples in `[0, 1)`, sorted ascending, for `N` points from a seed.
//!
//! | [`Scheme`] | sample `s` of `N` |
//! |---|---|
//! | `Iid` | `u_s`, independent uniforms (then sorted) |
//! | `Jittered` (stratified) | `(s + u_s) / N`: one uniform point in each stratum `[s/N, (s+1)/N)` |
//! | `Systematic` | `(s + u) / N`: one uniform shift `u` for all strata |
//! | `LowDiscrepancy` | `φ_2(s) + u mod 1`: van der Corput, rotated by one uniform `u` (then sorted) |
//!
//! The uniforms are values of the crate's counter hash: for seed `seed` the scheme's
//! stream is `CounterHash::from_seed(seed).derive(k)` with `k` its fixed
//! [`Scheme::stream_id`], `u_s = stream.f64_at(s)` and the single shift is `u_0`; 32-bit
//! fractions indexed by a `u32` counter, so `N ≤ 2^32` ([`MAX_STREAM_SAMPLES`]). For `N`
//! a power of two the low-discrepancy points are a systematic sample: `{φ_2(s)}` is the
//! grid `{k/N}`. [`Scheme::samples_with_stream`] takes the stream itself, e.g. the
//! per-row stream [`Scheme::row_stream`].
//!
//! Asking for zero samples gives an empty vector.
//!
//! ```
//! use mcnn_sequences::samplers::{jittered, systematic, Scheme};
//!
//! let xi = jittered(4, 1).unwrap();
//! for (s, x) in xi.iter().enumerate() {
//!     assert!(s as f64 / 4.0 <= *x && *x < (s + 1) as f64 / 4.0); // one per stratum
//! }
//! let sys = systematic(4, 1).unwrap();
//! assert!((sys[1] - sys[0] - 0.25).abs() < 1e-12); // equidistant
//! assert_eq!(Scheme::default(), Scheme::Jittered);
//! ```

use crate::counter_hash::CounterHash;
use crate::error::{SamplingError, check_at_most};
use crate::radical_inverse::van_der_corput;
use crate::unit;

/// The largest number of samples one stream provides, `2^32`: the uniforms are indexed
/// by a `u32` counter, which would wrap (and repeat values) after that.
pub const MAX_STREAM_SAMPLES: u64 = 1 << 32;

/// A way of placing `N` samples in `[0, 1)`; see the [module docs](self).
///
/// Each scheme draws from its own sub-stream, numbered by [`Scheme::stream_id`] — fixed
/// numbers, not the order of declaration, so reordering or adding variants leaves the
/// samples of existing ones unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Independent uniform samples: multinomial counts.
    Iid,
    /// One uniform sample per stratum `[s/N, (s+1)/N)`: counts within `±2` of `N p_j`
    /// (strictly within 2). The slides' choice and the default.
    #[default]
    Jittered,
    /// One shift for all strata: counts `⌊N p_j⌋` or `⌈N p_j⌉`.
    Systematic,
    /// The van der Corput sequence with a random rotation.
    LowDiscrepancy,
}

impl Scheme {
    /// Every scheme (in stream-id order).
    pub const ALL: [Scheme; 4] = [
        Scheme::Iid,
        Scheme::Jittered,
        Scheme::Systematic,
        Scheme::LowDiscrepancy,
    ];

    /// The number of this scheme's sub-stream: `Iid` 0, `Jittered` 1, `Systematic` 2,
    /// `LowDiscrepancy` 3. Part of the reproducibility contract (kernels derive the same
    /// streams), so a new scheme takes a new number and these never change.
    pub const fn stream_id(self) -> u32 {
        match self {
            Scheme::Iid => 0,
            Scheme::Jittered => 1,
            Scheme::Systematic => 2,
            Scheme::LowDiscrepancy => 3,
        }
    }

    /// The uniforms of this scheme for `seed`: `CounterHash::from_seed(seed)
    /// .derive(self.stream_id())`, and `u_s = stream.f64_at(s)`.
    pub const fn stream(self, seed: u64) -> CounterHash {
        CounterHash::from_seed(seed).derive(self.stream_id())
    }

    /// The uniforms of row `row` of a per-row sampling ([`crate::counts::row_counts`]):
    /// `self.stream(seed).derive(row)`. Only the 64-bit `seed → key` step runs on the
    /// host; from the key on it is 32-bit arithmetic, so a kernel given
    /// `self.stream(seed).key` derives the same row streams.
    pub const fn row_stream(self, seed: u64, row: u32) -> CounterHash {
        self.stream(seed).derive(row)
    }

    /// `n` samples of this scheme, sorted ascending.
    ///
    /// # Errors
    /// [`SamplingError::TooManySamples`] for `n > MAX_STREAM_SAMPLES`.
    pub fn samples(self, n: usize, seed: u64) -> Result<Vec<f64>, SamplingError> {
        self.samples_with_stream(n, self.stream(seed))
    }

    /// `n` samples of this scheme drawn from `stream` (`u_s = stream.f64_at(s)`), sorted
    /// ascending; [`Self::samples`] is this with `self.stream(seed)`.
    ///
    /// # Errors
    /// [`SamplingError::TooManySamples`] for `n > MAX_STREAM_SAMPLES`.
    pub fn samples_with_stream(
        self,
        n: usize,
        stream: CounterHash,
    ) -> Result<Vec<f64>, SamplingError> {
        check_at_most(n, MAX_STREAM_SAMPLES)?;
        Ok(match self {
            Scheme::Iid => {
                let mut u: Vec<u32> = (0..n).map(|s| stream.u32_at(s as u32)).collect();
                u.sort_unstable();
                u.into_iter().map(unit::to_f64).collect()
            }
            Scheme::Jittered => (0..n)
                .map(|s| stratum_point(s, stream.f64_at(s as u32), n))
                .collect(),
            Scheme::Systematic => {
                let u = stream.f64_at(0);
                (0..n).map(|s| stratum_point(s, u, n)).collect()
            }
            Scheme::LowDiscrepancy => {
                let shift = stream.u32_at(0);
                let mut x: Vec<u32> = (0..n)
                    .map(|s| van_der_corput(s as u32).wrapping_add(shift))
                    .collect();
                x.sort_unstable();
                x.into_iter().map(unit::to_f64).collect()
            }
        })
    }
}

/// `(s + u) / n`, kept below 1 (for `n > 2^21` the division can round up to 1).
#[inline]
fn stratum_point(s: usize, u: f64, n: usize) -> f64 {
    ((s as f64 + u) / n as f64).min(unit::ONE_MINUS_EPSILON_F64)
}

/// `n` independent uniform samples, sorted; see [`Scheme::Iid`].
///
/// # Errors
/// [`SamplingError::TooManySamples`] for `n > MAX_STREAM_SAMPLES`.
pub fn iid(n: usize, seed: u64) -> Result<Vec<f64>, SamplingError> {
    Scheme::Iid.samples(n, seed)
}

/// `n` jittered (stratified) samples, sorted; see [`Scheme::Jittered`].
///
/// # Errors
/// [`SamplingError::TooManySamples`] for `n > MAX_STREAM_SAMPLES`.
pub fn jittered(n: usize, seed: u64) -> Result<Vec<f64>, SamplingError> {
    Scheme::Jittered.samples(n, seed)
}

/// `n` systematic samples (one shift), sorted; see [`Scheme::Systematic`].
///
/// # Errors
/// [`SamplingError::TooManySamples`] for `n > MAX_STREAM_SAMPLES`.
pub fn systematic(n: usize, seed: u64) -> Result<Vec<f64>, SamplingError> {
    Scheme::Systematic.samples(n, seed)
}

/// `n` rotated van der Corput samples, sorted; see [`Scheme::LowDiscrepancy`].
///
/// # Errors
/// [`SamplingError::TooManySamples`] for `n > MAX_STREAM_SAMPLES`.
pub fn low_discrepancy(n: usize, seed: u64) -> Result<Vec<f64>, SamplingError> {
    Scheme::LowDiscrepancy.samples(n, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_schemes_sorted_in_unit_interval_and_deterministic() {
        for scheme in Scheme::ALL {
            for n in [0usize, 1, 2, 7, 64, 1000] {
                let x = scheme.samples(n, 11).unwrap();
                assert_eq!(x.len(), n);
                assert!(x.windows(2).all(|w| w[0] <= w[1]), "{scheme:?} unsorted");
                assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
                assert_eq!(x, scheme.samples(n, 11).unwrap());
                if n > 1 {
                    assert_ne!(x, scheme.samples(n, 12).unwrap());
                }
            }
        }
    }

    #[test]
    fn stratified_schemes_put_one_sample_per_stratum() {
        let n = 1000;
        for scheme in [Scheme::Jittered, Scheme::Systematic] {
            let x = scheme.samples(n, 5).unwrap();
            for (s, v) in x.iter().enumerate() {
                assert_eq!((v * n as f64).floor() as usize, s, "{scheme:?}");
            }
        }
    }

    #[test]
    fn low_discrepancy_with_power_of_two_n_is_systematic() {
        let n = 256;
        let x = low_discrepancy(n, 3).unwrap();
        let offset = x[0] * n as f64;
        for (s, v) in x.iter().enumerate() {
            assert!((v * n as f64 - s as f64 - offset).abs() < 1e-9);
        }
    }

    #[test]
    fn iid_mean_and_spread() {
        let x = iid(100_000, 8).unwrap();
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
    }

    #[test]
    fn last_stratum_never_rounds_to_one() {
        let n = 1 << 23;
        assert!(stratum_point(n - 1, unit::to_f64(u32::MAX), n) < 1.0);
    }
}
