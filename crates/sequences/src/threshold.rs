//! Threshold sampling: the heavy weights kept deterministically, the tail sampled in
//! proportion to `|w|` — an unbiased integer estimate of a row with the smallest variance for
//! its expected number of non-zeros.
//!
//! Monte Carlo quantization draws `N` samples from `p_j = |w_j| / S`; a weight with
//! `|w_j| ≥ S/N` is hit at least once almost surely, yet its count still varies. Threshold
//! sampling (Duffield, Lund and Thorup, *Priority sampling for estimation of arbitrary subset
//! sums*, 2007, and their threshold sampling before it) picks the threshold `τ` with
//! `Σ_j min(1, |w_j| / τ) = N`: every weight with `|w_j| ≥ τ` (the head) is kept, every other
//! (the tail) is kept with probability `|w_j| / τ` at the value `±τ`. The expected number of
//! non-zeros is `N`, the estimate is unbiased, and among estimators with that many non-zeros
//! it has the least variance.
//!
//! Here the head is stored as integers too: `q_j = sign(w_j) · ⌊|w_j|/τ + u_j⌋` for one
//! uniform `u_j` per weight (stochastic rounding), which for the tail is exactly the
//! inclusion above (`q_j = ±1` with probability `|w_j|/τ`). So `τ · q` is unbiased for every
//! weight, the head is within one `τ` of exact (`E` exact), and `τ` is the row's scale, as
//! `S/N` is for the other schemes. A weight of the head is never dropped.
//!
//! ```
//! use mcnn_sequences::threshold::threshold_counts;
//! use mcnn_sequences::counter_hash::CounterHash;
//!
//! // One heavy weight and a light tail; 3 non-zeros expected.
//! let w = [4.0_f32, 0.5, -0.5, 0.25, 0.25, 0.0];
//! let c = threshold_counts(&w, 3, CounterHash::from_seed(1)).unwrap();
//! // τ solves 1 + 1.5 / τ = 3: τ = 0.75, so the head 4.0 is 5.33 τ: a count of 5 or 6.
//! assert_eq!(c.summary.scale, 0.75);
//! assert!(c.q[0] == 5 || c.q[0] == 6);
//! assert_eq!(c.q[5], 0);
//! ```

use crate::counter_hash::CounterHash;
use crate::counts::{Counts, MAX_COUNT_SAMPLES, Summary};
use crate::error::{SamplingError, check_at_most};

/// The stream id of threshold sampling's uniforms (after the four schemes' 0..=3).
pub const STREAM_ID: u32 = 4;

/// Threshold sampling of `weights` with `expected_nonzeros` non-zeros expected (see the
/// module docs), drawing its uniforms from `stream` (`u_j = stream.f64_at(j)`).
/// `Summary::samples` holds `expected_nonzeros`, `Summary::scale` the threshold `τ`.
///
/// # Errors
/// `expected_nonzeros` 0 or above `i32::MAX`, empty `weights`, a NaN or infinite weight, a
/// threshold that overflows `f32` or falls below the smallest normal `f32`. An all-zero group
/// gives all-zero counts and scale 0.
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
    magnitudes.sort_unstable_by(|a, b| b.total_cmp(a));
    let tau = threshold(&magnitudes, expected_nonzeros) as f32;
    if !tau.is_finite() {
        return Err(SamplingError::ScaleOverflow {
            sum_abs,
            samples: expected_nonzeros,
            row: None,
        });
    }
    if tau < f32::MIN_POSITIVE {
        return Err(SamplingError::ScaleUnderflow {
            sum_abs,
            samples: expected_nonzeros,
            row: None,
        });
    }
    // Stochastic rounding against the f32 threshold itself: E[τ · q] = |w| exactly.
    let tau64 = f64::from(tau);
    let q = weights
        .iter()
        .enumerate()
        .map(|(j, &w)| {
            let x = f64::from(w.abs()) / tau64;
            let count = (x + stream.f64_at(j as u32)).floor().min(i32::MAX as f64) as i32;
            if w < 0.0 { -count } else { count }
        })
        .collect();
    Ok(Counts {
        q,
        summary: Summary {
            scale: tau,
            sum_abs,
            samples: expected_nonzeros,
            all_zero: false,
        },
    })
}

/// The threshold `τ` with `Σ min(1, a_i / τ) = n` for magnitudes `a` sorted in decreasing
/// order (all positive): with the `h` largest in the head, `τ = (Σ_{i ≥ h} a_i) / (n − h)`
/// for the first `h` whose next magnitude falls below it. With `n` at least the number of
/// magnitudes, every one is in the head at `τ = ` the smallest.
fn threshold(sorted: &[f64], n: usize) -> f64 {
    if n >= sorted.len() {
        return *sorted.last().expect("non-empty");
    }
    let mut tail: f64 = sorted.iter().sum();
    for (h, &a) in sorted.iter().enumerate().take(n) {
        let tau = tail / (n - h) as f64;
        if a < tau {
            return tau;
        }
        tail -= a;
    }
    // Unreachable for n < len (the n-th tail holds len − n > 0 magnitudes each below its
    // mean share), but for rounding: the last candidate.
    tail / 1.0_f64.max((sorted.len() - n) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_by_hand() {
        // a = 4, 1, 1, 1, 1: n = 2 → τ = 8/2 = 4 ≤ a_1 = 4, head {4}, then τ = 4/1 = 4 > 1.
        assert_eq!(threshold(&[4.0, 1.0, 1.0, 1.0, 1.0], 2), 4.0);
        // All equal: τ = S/n, no head.
        assert_eq!(threshold(&[1.0; 4], 2), 2.0);
        // n ≥ len: every weight in the head at the smallest.
        assert_eq!(threshold(&[3.0, 2.0], 5), 2.0);
        // Σ min(1, a/τ) = n holds.
        let a = [9.0, 5.0, 2.0, 1.5, 1.0, 0.5, 0.25];
        for n in 1..a.len() {
            let tau = threshold(&a, n);
            let expected: f64 = a.iter().map(|&x| (x / tau).min(1.0)).sum();
            assert!((expected - n as f64).abs() < 1e-12, "n = {n}: {expected}");
        }
    }

    #[test]
    fn unbiased_with_the_expected_non_zeros_and_the_head_always_kept() {
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
        for seed in 0..runs {
            let c = threshold_counts(&w, n, CounterHash::from_seed(seed)).unwrap();
            let tau = c.summary.scale;
            for (j, &q) in c.q.iter().enumerate() {
                mean[j] += f64::from(tau) * q as f64 / runs as f64;
                if f64::from(w[j].abs()) >= f64::from(tau) {
                    assert!(q != 0, "a head weight was dropped");
                }
                assert!(w[j] != 0.0 || q == 0);
                assert!(q == 0 || (q > 0) == (w[j] > 0.0), "sign");
            }
            nonzeros += c.nonzero();
        }
        let observed = nonzeros as f64 / runs as f64;
        assert!(
            (observed - n as f64).abs() < 0.05,
            "{observed} non-zeros on average"
        );
        for (j, (&m, &x)) in mean.iter().zip(&w).enumerate() {
            assert!(
                (m - f64::from(x)).abs() < 0.03 * (1.0 + f64::from(x.abs())),
                "{j}: {m} vs {x}"
            );
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
