//! Threshold sampling: the heavy weights kept deterministically, the tail sampled in
//! proportion to `|w|` — an integer estimate of a row that never loses a weight above the
//! threshold, unbiased for the tail.
//!
//! Monte Carlo quantization draws `N` samples from `p_j = |w_j| / S`; a weight with
//! `|w_j| ≥ S/N` is hit at least once almost surely, yet its count still varies. Threshold
//! sampling (Duffield, Lund and Thorup, *Priority sampling for estimation of arbitrary subset
//! sums*, 2007, and their threshold sampling before it) picks the threshold `τ` with
//! `Σ_j min(1, |w_j| / τ) = N`: the `h` weights with `|w_j| ≥ τ` (the head) are kept, the
//! others (the tail, whose sum is exactly `(N − h) τ`) are sampled in proportion to `|w|`.
//!
//! Here both parts are integers times one scale `τ`:
//! - the head is rounded to the nearest multiple of `τ` (never to 0): deterministic, within
//!   `τ / 2` of exact;
//! - the tail draws `N − h` systematic samples from `|w| / S_tail` (`counts`), whose scale
//!   `S_tail / (N − h)` is `τ` itself: unbiased, every count `⌊·⌋` or `⌈·⌉` of its share, and
//!   the counts negatively correlated, which is what makes stratified sampling beat
//!   independent inclusion when a dot product sums them.
//!
//! With `N` at least the number of non-zero weights there is no tail: every weight would be in
//! the head at `τ = min |w|`, with counts as large as `max |w| / min |w|`. Such a row gets `N`
//! systematic samples instead (every weight `≥ S/N` kept, counts within 1 of their share).
//!
//! So a row has about `N` non-zeros and no weight of the head is ever dropped. The head's
//! counts are at least their share `N |w| / S` (`τ ≤ S/N`) but deterministic: no sampling
//! spread above it, which on trained layers gave smaller `max |q|` (fewer value bits) than
//! jittered sampling, and the accuracy of systematic sampling in fewer bytes
//! (docs/RESULTS.md, E2).
//!
//! ```
//! use mcnn_sequences::threshold::threshold_counts;
//! use mcnn_sequences::counter_hash::CounterHash;
//!
//! // One heavy weight and a light tail; 3 non-zeros expected.
//! let w = [4.0_f32, 0.5, -0.5, 0.25, 0.25, 0.0];
//! let c = threshold_counts(&w, 3, CounterHash::from_seed(1)).unwrap();
//! // τ solves 1 + 1.5 / τ = 3: τ = 0.75, so the head 4.0 is 5.33 τ: a count of 5, and the tail
//! // (sum 1.5 = 2 τ) takes 2 samples.
//! assert_eq!(c.summary.scale, 0.75);
//! assert_eq!(c.q[0], 5);
//! assert_eq!(c.q[1..].iter().map(|q| q.abs()).sum::<i32>(), 2);
//! assert_eq!(c.q[5], 0);
//! ```

use crate::counter_hash::CounterHash;
use crate::counts::{Counts, MAX_COUNT_SAMPLES, Scheme, Summary, sample_counts_with_stream};
use crate::error::{SamplingError, check_at_most};

/// The stream id of threshold sampling's uniforms (after the four schemes' 0..=3).
pub const STREAM_ID: u32 = 4;

/// Threshold sampling of `weights` for `expected_nonzeros` non-zeros (see the module docs);
/// the tail's systematic samples come from `stream`.
/// `Summary::samples` holds `expected_nonzeros`, `Summary::scale` the threshold `τ` (or
/// `S / N` where `expected_nonzeros` is at least the number of non-zero weights: a row then
/// sampled systematically).
///
/// # Errors
/// `expected_nonzeros` 0 or above `i32::MAX`, empty `weights`, a NaN or infinite weight, a
/// threshold that overflows `f32` or falls below the smallest normal `f32`, a head count above
/// `i32::MAX` ([`SamplingError::HeadCountOverflow`]: a weight more than `2^31` thresholds
/// large). An all-zero group gives all-zero counts and scale 0.
pub fn threshold_counts(
    weights: &[f32],
    expected_nonzeros: usize,
    stream: CounterHash,
) -> Result<Counts, SamplingError> {
    if expected_nonzeros == 0 {
        return Err(SamplingError::ZeroSamples);
    }
    check_at_most(expected_nonzeros, MAX_COUNT_SAMPLES as u64)?;
    if weights.is_empty() {
        return Err(SamplingError::EmptyWeights);
    }
    if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
        return Err(SamplingError::NonFiniteWeight {
            index,
            value: weights[index],
        });
    }
    let mut magnitudes: Vec<f64> = weights
        .iter()
        .filter(|w| **w != 0.0)
        .map(|w| f64::from(w.abs()))
        .collect();
    let sum_abs: f64 = magnitudes.iter().sum();
    if magnitudes.is_empty() {
        return Ok(Counts {
            q: vec![0; weights.len()],
            summary: Summary {
                scale: 0.0,
                sum_abs: 0.0,
                samples: expected_nonzeros,
                all_zero: true,
            },
        });
    }
    if expected_nonzeros >= magnitudes.len() {
        // Every non-zero weight would be in the head, at τ = the smallest magnitude: counts
        // `|w| / min |w|` (22 bits on a trained layer). `N` systematic samples instead keep
        // every weight ≥ S/N with a count within 1 of its share `N |w| / S`.
        return sample_counts_with_stream(weights, expected_nonzeros, Scheme::Systematic, stream);
    }
    magnitudes.sort_unstable_by(|a, b| b.total_cmp(a));
    let (tau, head) = threshold(&magnitudes, expected_nonzeros);
    // The tail: every weight below τ, sampled with N − h systematic samples; its scale is τ.
    let tail_samples = expected_nonzeros - head;
    let tail: Vec<f32> = weights
        .iter()
        .map(|&w| if f64::from(w.abs()) < tau { w } else { 0.0 })
        .collect();
    let (mut q, scale) = match tail_samples {
        0 => (vec![0; weights.len()], tau as f32),
        n => {
            let counts = sample_counts_with_stream(&tail, n, Scheme::Systematic, stream)?;
            (counts.q, counts.summary.scale)
        }
    };
    if !scale.is_finite() {
        return Err(SamplingError::ScaleOverflow {
            sum_abs,
            samples: expected_nonzeros,
            row: None,
        });
    }
    if scale < f32::MIN_POSITIVE {
        return Err(SamplingError::ScaleUnderflow {
            sum_abs,
            samples: expected_nonzeros,
            row: None,
        });
    }
    // The head, rounded to the nearest multiple of the scale (never to 0).
    let scale64 = f64::from(scale);
    for (index, (&w, q)) in weights.iter().zip(q.iter_mut()).enumerate() {
        if f64::from(w.abs()) >= tau {
            let count = (f64::from(w.abs()) / scale64).round();
            if count > i32::MAX as f64 {
                return Err(SamplingError::HeadCountOverflow { index, count });
            }
            let count = count.max(1.0) as i32;
            *q = if w < 0.0 { -count } else { count };
        }
    }
    Ok(Counts {
        q,
        summary: Summary {
            scale,
            sum_abs,
            samples: expected_nonzeros,
            all_zero: false,
        },
    })
}

/// The threshold `τ` with `Σ min(1, a_i / τ) = n` for magnitudes `a` sorted in decreasing
/// order (all positive), and the size `h` of the head (`a_i ≥ τ`): with the `h` largest in the
/// head, `τ = (Σ_{i ≥ h} a_i) / (n − h)` for the first `h` whose next magnitude falls below
/// it. With `n` at least the number of magnitudes, every one is in the head at `τ = ` the
/// smallest.
fn threshold(sorted: &[f64], n: usize) -> (f64, usize) {
    if n >= sorted.len() {
        return (*sorted.last().expect("non-empty"), sorted.len());
    }
    // Tail sums from the smallest up: a subtraction from the total would lose a tail far
    // smaller than the head.
    let mut tails = vec![0.0; sorted.len() + 1];
    for i in (0..sorted.len()).rev() {
        tails[i] = tails[i + 1] + sorted[i];
    }
    for h in 0..n {
        let tau = tails[h] / (n - h) as f64;
        // At h = n − 1 the tail holds the rest (at least one magnitude): stop there.
        if sorted[h] < tau || h + 1 == n {
            return (tau, h + usize::from(sorted[h] >= tau));
        }
    }
    unreachable!("the loop returns at h = n − 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_by_hand() {
        // a = 4, 1, 1, 1, 1: n = 2 → τ = 8/2 = 4 ≤ a_1 = 4, head {4}, then τ = 4/1 = 4 > 1.
        assert_eq!(threshold(&[4.0, 1.0, 1.0, 1.0, 1.0], 2), (4.0, 1));
        // All equal: τ = S/n, no head.
        assert_eq!(threshold(&[1.0; 4], 2), (2.0, 0));
        // n ≥ len: every weight in the head at the smallest.
        assert_eq!(threshold(&[3.0, 2.0], 5), (2.0, 2));
        // A tail far below the head keeps its sum (tail sums run from the smallest up).
        assert_eq!(threshold(&[1e12, 1e-3, 1e-3], 2), (2e-3, 1));
        // Then the head is 5·10^14 thresholds: a count beyond i32 is an error, not clamped.
        let c = threshold_counts(&[1e12, 1e-3, 1e-3], 2, CounterHash::from_seed(0));
        assert!(
            matches!(c, Err(SamplingError::HeadCountOverflow { index: 0, .. })),
            "{c:?}"
        );
        // One sample for a weight and a negligible one: the head, at the rounded S.
        let c = threshold_counts(&[1.0, 1e-20], 1, CounterHash::from_seed(0)).unwrap();
        assert_eq!((c.q, c.summary.scale), (vec![1, 0], 1.0));
        // N at least the non-zeros: systematic sampling, counts N|w|/S = 3 and 2 at scale 1
        // (the head at τ = 2 would give 2 and 1: 1.5 rounded up).
        let c = threshold_counts(&[3.0, 0.0, 2.0], 5, CounterHash::from_seed(0)).unwrap();
        assert_eq!((c.q, c.summary.scale), (vec![3, 0, 2], 1.0));
        // A span beyond 2^31 with N ≥ non-zeros is no overflow: the tiny weights may drop.
        let c = threshold_counts(&[1e12, 1e-3, -1e-3], 3, CounterHash::from_seed(0)).unwrap();
        assert_eq!(c.q[0], 3);
        // Σ min(1, a/τ) = n holds.
        let a = [9.0, 5.0, 2.0, 1.5, 1.0, 0.5, 0.25];
        for n in 1..a.len() {
            let (tau, _) = threshold(&a, n);
            let expected: f64 = a.iter().map(|&x| (x / tau).min(1.0)).sum();
            assert!((expected - n as f64).abs() < 1e-12, "n = {n}: {expected}");
        }
    }

    #[test]
    fn the_head_is_rounded_and_the_tail_unbiased_with_about_n_non_zeros() {
        let w: Vec<f32> = (0..40)
            .map(|i| {
                if i % 7 == 0 {
                    0.0
                } else {
                    ((i * 37 % 11) as f32 - 5.0) / (1 + i % 3) as f32
                }
            })
            .collect();
        let n = 12;
        let runs = 20_000;
        let mut mean = vec![0.0f64; w.len()];
        let mut nonzeros = 0usize;
        let mut head = vec![false; w.len()];
        for seed in 0..runs {
            let c = threshold_counts(&w, n, CounterHash::from_seed(seed)).unwrap();
            let tau = f64::from(c.summary.scale);
            for (j, &q) in c.q.iter().enumerate() {
                let (x, estimate) = (f64::from(w[j]), tau * q as f64);
                mean[j] += estimate / runs as f64;
                if x.abs() >= tau {
                    head[j] = true;
                    assert!(
                        q != 0 && (estimate - x).abs() <= tau / 2.0 + 1e-9,
                        "head {j}"
                    );
                }
                assert!(w[j] != 0.0 || q == 0);
                assert!(q == 0 || (q > 0) == (w[j] > 0.0), "sign");
            }
            nonzeros += c.nonzero();
        }
        // Tail samples may hit a weight twice: at most N non-zeros, rarely fewer.
        let observed = nonzeros as f64 / runs as f64;
        assert!(
            observed <= n as f64 && observed > n as f64 - 1.0,
            "{observed} non-zeros on average"
        );
        assert!(head.iter().any(|&h| h) && !head.iter().all(|&h| h));
        for (j, (&m, &x)) in mean.iter().zip(&w).enumerate() {
            if !head[j] {
                let x = f64::from(x);
                assert!(
                    (m - x).abs() < 0.02 * (1.0 + x.abs()),
                    "tail {j}: {m} vs {x}"
                );
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_and_zeros_are_not() {
        let stream = CounterHash::from_seed(0);
        assert_eq!(
            threshold_counts(&[1.0], 0, stream),
            Err(SamplingError::ZeroSamples)
        );
        assert_eq!(
            threshold_counts(&[], 2, stream),
            Err(SamplingError::EmptyWeights)
        );
        assert!(matches!(
            threshold_counts(&[1.0, f32::NAN], 1, stream),
            Err(SamplingError::NonFiniteWeight { index: 1, .. })
        ));
        let zero = threshold_counts(&[0.0; 3], 2, stream).unwrap();
        assert!(zero.summary.all_zero && zero.q == vec![0; 3]);
    }
}
