//! Properties of discrete-density sampling (`docs/algorithms.md`, section 2): counts add up to
//! `N`, systematic counts are `⌊N p⌋` or `⌈N p⌉`, jittered within 2, heavy weights
//! survive systematic sampling, the estimate `(S/N) q` is unbiased, rows are independent
//! groups, and the result does not depend on threads.

use mcnn_sequences::counts::{
    Scheme, counts_from_sorted_samples, row_counts, sample_counts, sample_counts_with_stream,
};
use proptest::prelude::*;

/// Weights with zeros, negatives, and magnitudes spread over several decades.
fn weights(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(
        prop_oneof![
            1 => Just(0.0f32),
            4 => -10.0f32..10.0,
            1 => -1e-3f32..1e-3,
            1 => -1e3f32..1e3,
        ],
        1..max_len,
    )
}

fn scheme() -> impl Strategy<Value = Scheme> {
    prop::sample::select(Scheme::ALL.to_vec())
}

/// `N p_j` in f64, the target of count `j`.
fn targets(w: &[f32], n: usize) -> Vec<f64> {
    let s: f64 = w.iter().map(|x| f64::from(x.abs())).sum();
    w.iter()
        .map(|x| n as f64 * f64::from(x.abs()) / s)
        .collect()
}

/// Rounding slack for `N` samples of at most 300 weights: twice the bound
/// `τ = N (len · 2^-89 + 2^-60) + 2^-29` on the sample positions (see the `counts`
/// module docs), plus the `f64` rounding of the targets computed here.
fn eps(n: usize) -> f64 {
    let tau = n as f64 * (300.0 * 2f64.powi(-89) + 2f64.powi(-60)) + 2f64.powi(-29);
    2.0 * tau + 1e-12 * n as f64
}

/// Whether `count` is `⌊x⌋` or `⌈x⌉` up to `eps`.
fn floor_or_ceil(count: i32, x: f64, eps: f64) -> bool {
    let c = f64::from(count.unsigned_abs());
    c >= (x - eps).floor() && c <= (x + eps).ceil()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn counts_add_up_to_n_and_keep_signs(
        w in weights(300), n in 1usize..5000, scheme in scheme(), seed in any::<u64>()
    ) {
        let c = sample_counts(&w, n, scheme, seed).unwrap();
        prop_assert_eq!(c.q.len(), w.len());
        if w.iter().all(|x| *x == 0.0) {
            prop_assert!(c.summary.all_zero);
            prop_assert!(c.q.iter().all(|q| *q == 0));
            prop_assert_eq!(c.summary.scale, 0.0);
        } else {
            prop_assert!(!c.summary.all_zero);
            prop_assert_eq!(c.q.iter().map(|q| i64::from(q.unsigned_abs())).sum::<i64>(), n as i64);
            let s: f64 = w.iter().map(|x| f64::from(x.abs())).sum();
            prop_assert!((f64::from(c.summary.scale) - s / n as f64).abs() <= 1e-6 * s / n as f64);
        }
        for (q, x) in c.q.iter().zip(&w) {
            if *x == 0.0 {
                prop_assert_eq!(*q, 0);
            } else if *q != 0 {
                prop_assert_eq!(*q < 0, *x < 0.0);
            }
        }
    }

    #[test]
    fn systematic_counts_are_floor_or_ceil(
        w in weights(300), n in 1usize..5000, seed in any::<u64>()
    ) {
        prop_assume!(w.iter().any(|x| *x != 0.0));
        let c = sample_counts(&w, n, Scheme::Systematic, seed).unwrap();
        for (q, x) in c.q.iter().zip(targets(&w, n)) {
            prop_assert!(floor_or_ceil(*q, x, eps(n)), "count {} for N p = {}", q, x);
        }
    }

    #[test]
    fn closed_forms_hold_for_huge_n(
        w in weights(300), n in 1usize..=i32::MAX as usize, seed in any::<u64>()
    ) {
        // The closed forms cost O(n) whatever N, so N can go to its limit here.
        prop_assume!(w.iter().any(|x| *x != 0.0));
        let sys = sample_counts(&w, n, Scheme::Systematic, seed).unwrap();
        let jit = sample_counts(&w, n, Scheme::Jittered, seed).unwrap();
        for c in [&sys, &jit] {
            let total: i64 = c.q.iter().map(|q| i64::from(q.unsigned_abs())).sum();
            prop_assert_eq!(total, n as i64);
        }
        for ((s, j), x) in sys.q.iter().zip(&jit.q).zip(targets(&w, n)) {
            prop_assert!(floor_or_ceil(*s, x, eps(n)), "systematic {} for N p = {}", s, x);
            let j = f64::from(j.unsigned_abs());
            prop_assert!((j - x).abs() < 2.0 + eps(n), "jittered {} for N p = {}", j, x);
        }
    }

    #[test]
    fn low_discrepancy_counts_with_power_of_two_n_are_floor_or_ceil(
        w in weights(300), log_n in 0u32..13, seed in any::<u64>()
    ) {
        prop_assume!(w.iter().any(|x| *x != 0.0));
        let n = 1usize << log_n;
        let c = sample_counts(&w, n, Scheme::LowDiscrepancy, seed).unwrap();
        for (q, x) in c.q.iter().zip(targets(&w, n)) {
            prop_assert!(floor_or_ceil(*q, x, 1e-9), "count {} for N p = {}", q, x);
        }
    }

    #[test]
    fn jittered_counts_are_within_two(
        w in weights(300), n in 1usize..5000, seed in any::<u64>()
    ) {
        prop_assume!(w.iter().any(|x| *x != 0.0));
        let c = sample_counts(&w, n, Scheme::Jittered, seed).unwrap();
        for (q, x) in c.q.iter().zip(targets(&w, n)) {
            let q = f64::from(q.unsigned_abs());
            prop_assert!((q - x).abs() < 2.0 + eps(n), "count {} for N p = {}", q, x);
        }
    }

    #[test]
    fn heavy_weights_survive_systematic_sampling(
        w in weights(300), n in 1usize..2000, seed in any::<u64>()
    ) {
        prop_assume!(w.iter().any(|x| *x != 0.0));
        let c = sample_counts(&w, n, Scheme::Systematic, seed).unwrap();
        let s: f64 = w.iter().map(|x| f64::from(x.abs())).sum();
        // A weight of exactly S/N survives up to the rounding of `eps`.
        let threshold = s / n as f64 * (1.0 + eps(n));
        let mut max = 0.0f64;
        for (q, x) in c.q.iter().zip(&w) {
            max = max.max(f64::from(x.abs()));
            if f64::from(x.abs()) >= threshold {
                prop_assert!(*q != 0, "weight {} dropped with S/N = {}", x, s / n as f64);
            }
        }
        if max * (1.0 + 1e-9) < s / n as f64 {
            prop_assert!(c.max_abs() <= 1, "not ternary");
        }
    }

    #[test]
    fn each_row_is_its_own_group(
        rows in 1usize..12, cols in 1usize..60, n in 1usize..200, scheme in scheme(),
        seed in any::<u64>(), flat in weights(720),
    ) {
        let len = rows * cols;
        let w: Vec<f32> = (0..len).map(|i| flat[i % flat.len()]).collect();
        let r = row_counts(&w, rows, cols, n, scheme, seed).unwrap();
        for row in 0..rows {
            let weights = &w[row * cols..(row + 1) * cols];
            let stream = scheme.row_stream(seed, row as u32);
            let single = sample_counts_with_stream(weights, n, scheme, stream).unwrap();
            prop_assert_eq!(r.row(row), &single.q[..]);
            prop_assert_eq!(r.summaries[row], single.summary);
        }
    }

    #[test]
    fn same_seed_same_counts(
        w in weights(100), n in 1usize..500, scheme in scheme(), seed in any::<u64>()
    ) {
        let first = sample_counts(&w, n, scheme, seed).unwrap();
        prop_assert_eq!(first, sample_counts(&w, n, scheme, seed).unwrap());
    }

    #[test]
    fn merge_pass_counts_every_sample_once(
        w in weights(200), mut xi in prop::collection::vec(0.0f64..1.0, 1..500)
    ) {
        xi.sort_by(f64::total_cmp);
        let c = counts_from_sorted_samples(&w, &xi).unwrap();
        if !c.summary.all_zero {
            prop_assert_eq!(c.q.iter().map(|q| q.unsigned_abs() as usize).sum::<usize>(), xi.len());
        }
    }
}

#[test]
fn rows_do_not_depend_on_the_number_of_threads() {
    let (rows, cols) = (300, 257);
    let w: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1013) as f32 - 506.0)
        .collect();
    let parallel = row_counts(&w, rows, cols, 100, Scheme::Jittered, 5).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let serial = pool.install(|| row_counts(&w, rows, cols, 100, Scheme::Jittered, 5).unwrap());
    assert_eq!(parallel, serial);
}

/// The mean of `(S/N) q` over many seeds converges to `w` for every scheme: within five
/// standard errors of the mean, per weight (deterministic seeds, so not flaky).
#[test]
fn estimate_is_unbiased() {
    let w = [0.8f32, -0.05, 0.0, 0.33, -1.7, 0.01, 0.2, -0.2, 0.004, 0.6];
    let n = 7;
    let seeds = 20_000u64;
    for scheme in Scheme::ALL {
        let mut sum = [0.0f64; 10];
        let mut sum_sq = [0.0f64; 10];
        for seed in 0..seeds {
            let c = sample_counts(&w, n, scheme, seed).unwrap();
            for (j, x) in c.dequantize().iter().enumerate() {
                sum[j] += f64::from(*x);
                sum_sq[j] += f64::from(*x) * f64::from(*x);
            }
        }
        let m = seeds as f64;
        for j in 0..w.len() {
            let mean = sum[j] / m;
            let var = (sum_sq[j] / m - mean * mean).max(0.0);
            let se = (var / m).sqrt();
            let err = (mean - f64::from(w[j])).abs();
            assert!(
                err <= 5.0 * se + 1e-6,
                "{scheme:?} weight {j}: mean {mean} vs {} (se {se})",
                w[j]
            );
        }
    }
}
