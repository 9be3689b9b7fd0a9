//! Discrete-density sampling: the signed integer counts `q_j` that turn weights into
//! `w ≈ (S/N) · q`.
//!
//! For weights `w` let `S = Σ|w_j|` and `p_j = |w_j| / S`. Drawing `N` samples from `p`
//! by inversion of its CDF and counting the hits `c_j` of each weight gives
//! `q_j = sign(w_j) · c_j` with `Σ|q_j| = N`, and `(S/N) · q` is an unbiased estimate of
//! `w` (`E[c_j] = N p_j`) — quantisation and sparsification in one step, without
//! retraining (`algorithms.md`, section 2).
//!
//! How the samples are placed is the [`Scheme`]:
//! - `Jittered` (the default) and `Systematic` use a closed form per weight: with the
//!   scaled prefix sums `T_j = N · P_j`, the number of samples below `T` is
//!   `F(T) = ⌊T⌋ + [u_⌊T⌋ < T − ⌊T⌋]` (sample `s` of stratum `s` sits at `s + u_s`, and
//!   `u_s = u` for systematic), and `c_j = F(T_j) − F(T_{j−1})`. For systematic this is
//!   `⌈N P_j − u⌉ − ⌈N P_{j−1} − u⌉`. One pass over the weights after the one that sums
//!   them, `O(n)` whatever `N`, independent per weight but for the prefix sums, so most of
//!   it vectorises (with AVX2 where the CPU has it, detected at run time).
//! - `Iid` and `LowDiscrepancy` generate their sorted samples ([`crate::samplers`]) and
//!   count them in one merge pass, `O(n + N)` ([`counts_from_sorted_samples`]).
//!
//! Arithmetic. `S` is summed in `f64`. The merge pass compares samples with `f64` prefix
//! sums `P_j`. The closed forms keep `T_j` in 64-bit fixed point, in units of `2^-K`
//! samples with `K = 51 − ⌈log2(N + 1)⌉` (at least 20; 40 for `N = 1024`, 26 for
//! `N = 2^24`): each `|w_j|` becomes `a_j = round(|w_j| · N 2^K / S)` once, and the prefix
//! sums of the `a_j` are exact integer sums, so `E[c_j]` is `a_j / 2^K` up to `2^-32`
//! (the resolution of `u`), within `2^-(K+1) + 2^-32` samples of `N p_j`. Both are exact
//! about the boundaries that matter: from the last non-zero weight on the CDF is exactly
//! 1 (`T = N`), so `Σ|q_j| = N` always and a zero weight never gets a sample.
//!
//! Guarantees (tested as properties): systematic counts are `⌊N p_j⌋` or `⌈N p_j⌉` (so
//! every weight with `|w_j| ≥ S/N` survives, and the result is ternary when
//! `max|w_j| ≤ S/N`); jittered counts are strictly within 2 of `N p_j`; the mean of
//! `(S/N) · q` over seeds converges to `w`. `N p_j` here is the value after the rounding
//! above (`2^-(K+1) + 2^-32` samples for the closed forms, a relative `~1e-16` for the
//! merge).
//!
//! Bad input is an error ([`SamplingError`]): `N = 0`, `N > i32::MAX`, empty weights, a
//! NaN or infinite weight. An all-zero group is a defined result: all counts 0, scale
//! 0, [`Counts::all_zero`] set — never NaN.
//!
//! Per row ([`row_counts`]): one distribution per row of a row-major `[rows, cols]`
//! matrix (one per output neuron), rows in parallel with rayon; row `r` is sampled with
//! seed [`row_seed`]`(seed, r)`, so the result does not depend on the number of threads.
//!
//! ```
//! use mcnn_sequences::counts::{jittered_counts, row_counts, Scheme};
//!
//! let w = [0.9_f32, -0.05, 0.3, 0.0, -0.6];
//! let c = jittered_counts(&w, 10, 42).unwrap();
//! assert_eq!(c.q.iter().map(|q| q.abs()).sum::<i32>(), 10);
//! assert_eq!(c.q[3], 0); // zero weights are never sampled
//! assert!(c.q[0] > 0 && c.q[4] < 0); // signs are kept
//! let approx: Vec<f32> = c.dequantize(); // (S/N) · q
//! assert_eq!(approx.len(), w.len());
//!
//! // Per neuron: two rows of three weights, four samples each.
//! let m = [1.0_f32, 1.0, 2.0, 0.0, 0.0, 0.0];
//! let r = row_counts(&m, 2, 3, 4, Scheme::Systematic, 7).unwrap();
//! assert_eq!(r.row(0), &[1, 1, 2]);
//! assert!(r.summaries[1].all_zero && r.summaries[1].scale == 0.0);
//! ```

use rayon::prelude::*;

use crate::counter_hash::splitmix64;
use crate::error::SamplingError;
pub use crate::samplers::Scheme;

/// The largest number of samples per group: counts are `i32`.
pub const MAX_SAMPLES: usize = i32::MAX as usize;

/// The scalars of one sampled group (a tensor or a row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// `S / N`: the value of one count, so that `w ≈ scale · q`. 0 for an all-zero group.
    pub scale: f32,
    /// `S = Σ|w_j|`, summed in `f64`.
    pub sum_abs: f64,
    /// The number of samples `N`.
    pub samples: usize,
    /// Whether every weight was zero (then every count and the scale are 0).
    pub all_zero: bool,
}

/// The signed counts of one group and its scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    /// `q_j = sign(w_j) · c_j`, with `Σ|q_j| = N` (or all zero for an all-zero group).
    pub q: Vec<i32>,
    /// `S / N`; see [`Summary::scale`].
    pub scale: f32,
    /// `S = Σ|w_j|`.
    pub sum_abs: f64,
    /// The number of samples `N`.
    pub samples: usize,
    /// Whether every weight was zero; see [`Summary::all_zero`].
    pub all_zero: bool,
}

impl Counts {
    fn new(q: Vec<i32>, s: Summary) -> Self {
        Self {
            q,
            scale: s.scale,
            sum_abs: s.sum_abs,
            samples: s.samples,
            all_zero: s.all_zero,
        }
    }

    /// The scalars without the counts.
    pub fn summary(&self) -> Summary {
        Summary {
            scale: self.scale,
            sum_abs: self.sum_abs,
            samples: self.samples,
            all_zero: self.all_zero,
        }
    }

    /// The sampled weights `scale · q_j`.
    pub fn dequantize(&self) -> Vec<f32> {
        self.q.iter().map(|&q| self.scale * q as f32).collect()
    }

    /// How many weights were sampled at least once.
    pub fn nonzero(&self) -> usize {
        self.q.iter().filter(|&&q| q != 0).count()
    }

    /// `max |q_j|`: 1 means ternary weights.
    pub fn max_abs(&self) -> u32 {
        self.q.iter().map(|q| q.unsigned_abs()).max().unwrap_or(0)
    }
}

/// The counts of every row of a row-major `[rows, cols]` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct RowCounts {
    /// Row-major `[rows, cols]` signed counts.
    pub q: Vec<i32>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// One summary per row (its scale, `S`, `N` and all-zero flag).
    pub summaries: Vec<Summary>,
}

impl RowCounts {
    /// The counts of row `r`.
    ///
    /// # Panics
    /// If `r >= self.rows`.
    pub fn row(&self, r: usize) -> &[i32] {
        &self.q[r * self.cols..(r + 1) * self.cols]
    }
}

/// The seed row `r` of [`row_counts`] is sampled with: `splitmix64(splitmix64(seed) ^ r)`,
/// distinct for distinct rows of one seed.
pub fn row_seed(seed: u64, row: usize) -> u64 {
    splitmix64(splitmix64(seed) ^ row as u64)
}

/// What the first pass over the weights finds.
struct Scan {
    sum_abs: f64,
    /// Index of the last non-zero weight: from there on `P_j = 1` exactly.
    last_nonzero: usize,
}

fn check_samples(samples: usize) -> Result<(), SamplingError> {
    if samples == 0 {
        Err(SamplingError::ZeroSamples)
    } else if samples > MAX_SAMPLES {
        Err(SamplingError::TooManySamples {
            requested: samples as u64,
            max: MAX_SAMPLES as u64,
        })
    } else {
        Ok(())
    }
}

fn check_output(expected: usize, got: usize) -> Result<(), SamplingError> {
    if expected == got {
        Ok(())
    } else {
        Err(SamplingError::OutputLength { expected, got })
    }
}

/// `S = Σ|w|` and the last non-zero weight; `None` when all are zero.
fn scan(weights: &[f32]) -> Result<Option<Scan>, SamplingError> {
    if weights.is_empty() {
        return Err(SamplingError::EmptyWeights);
    }
    // Eight independent accumulators vectorise; the order differs from the prefix sums
    // of the second pass, which is why `last_nonzero` pins the end of the CDF to 1.
    let mut acc = [0.0f64; 8];
    let chunks = weights.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &w) in acc.iter_mut().zip(chunk) {
            *a += f64::from(w.abs());
        }
    }
    for &w in tail {
        acc[0] += f64::from(w.abs());
    }
    let sum_abs: f64 = acc.iter().sum();
    // A sum of finite f32 magnitudes in f64 cannot overflow: a non-finite sum means a
    // NaN or infinite weight, found by a second look only in that case.
    if !sum_abs.is_finite() {
        let index = weights.iter().position(|w| !w.is_finite()).unwrap_or(0);
        return Err(SamplingError::NonFiniteWeight {
            index,
            value: weights[index],
        });
    }
    if sum_abs == 0.0 {
        return Ok(None);
    }
    let last_nonzero = weights.iter().rposition(|&w| w != 0.0).unwrap_or(0);
    Ok(Some(Scan {
        sum_abs,
        last_nonzero,
    }))
}

fn summary(scan: &Scan, samples: usize) -> Result<Summary, SamplingError> {
    let scale = (scan.sum_abs / samples as f64) as f32;
    if !scale.is_finite() {
        return Err(SamplingError::ScaleOverflow {
            sum_abs: scan.sum_abs,
            samples,
        });
    }
    Ok(Summary {
        scale,
        sum_abs: scan.sum_abs,
        samples,
        all_zero: false,
    })
}

fn all_zero(q: &mut [i32], samples: usize) -> Summary {
    q.fill(0);
    Summary {
        scale: 0.0,
        sum_abs: 0.0,
        samples,
        all_zero: true,
    }
}

/// `count` with the sign of `w`, branch-free: `s` is −1 for a negative `w`, else 0.
#[inline]
fn signed(w: f32, count: i32) -> i32 {
    let s = (w.to_bits() as i32) >> 31;
    (count ^ s) - s
}

/// `x` rounded to the nearest integer, for `0 ≤ x < 2^52`: adding `2^52` leaves exactly
/// the integer part in the mantissa. Branch-free and vectorisable, unlike `as u64`,
/// which must saturate.
#[inline]
fn round_to_u64(x: f64) -> u64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    (x + TWO_52).to_bits() - TWO_52.to_bits()
}

/// The closed form `c_j = F(T_j) − F(T_{j−1})`, `F(T) = ⌊T⌋ + [u_⌊T⌋ < T − ⌊T⌋]`, with
/// `T` in fixed point.
///
/// `T_j = N · P_j` is kept as an integer in units of `2^-K`, `K = 51 − bits(N)` (at least
/// 20): each `|w_j|` is rounded once to `a_j = round(|w_j| · N 2^K / S)`, the prefix sums
/// of the `a_j` are exact integer additions (a 1-cycle dependency chain instead of a
/// 4-cycle `f64` one), clamped at `N 2^K`, and the last non-zero weight takes whatever is
/// left up to exactly `N 2^K`. The distribution sampled is thus `|w|` rounded to
/// multiples of `2^-K` samples — about the `f64` resolution of `N · P_j` itself. `u` is
/// a 32-bit fraction and `T − ⌊T⌋` is compared in its top 32 bits, so `[u < T − ⌊T⌋]`
/// has probability `T − ⌊T⌋` up to `2^-32`.
fn stratified_pass(
    weights: &[f32],
    samples: usize,
    scan: &Scan,
    u: impl Fn(u32) -> u32,
    q: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, as just checked; that is the only requirement
        // of the `target_feature` function.
        return unsafe { stratified_pass_avx2(weights, samples, scan, u, q) };
    }
    stratified_pass_body(weights, samples, scan, u, q)
}

/// The same code compiled for AVX2, whose 8-lane 32-bit multiply makes the vectorised
/// hash of the jittered scheme several times faster than baseline SSE2, which has to
/// emulate it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn stratified_pass_avx2(
    weights: &[f32],
    samples: usize,
    scan: &Scan,
    u: impl Fn(u32) -> u32,
    q: &mut [i32],
) {
    stratified_pass_body(weights, samples, scan, u, q)
}

#[inline(always)]
fn stratified_pass_body(
    weights: &[f32],
    samples: usize,
    scan: &Scan,
    u: impl Fn(u32) -> u32,
    q: &mut [i32],
) {
    // Blocks go through four loops: the rounded weights, their prefix sums (the only
    // sequential part), F(T_j), and the signed differences; all but the prefix sums are
    // independent per weight and vectorise, the hash of the jittered scheme included.
    const BLOCK: usize = 256;
    let frac_bits = 51 - (usize::BITS - samples.leading_zeros());
    let total = (samples as u64) << frac_bits;
    let scale = total as f64 / scan.sum_abs;
    let last = scan.last_nonzero;
    let mut prefix: u64 = 0;
    let mut t = [0u64; BLOCK];
    let (mut k, mut frac) = ([0u32; BLOCK], [0u32; BLOCK]);
    // below[0] is F(T) before the block, below[1 + j] is F(T_j); F(0) = 0.
    let mut below = [0i32; BLOCK + 1];
    for (wb, qb) in weights[..last]
        .chunks(BLOCK)
        .zip(q[..last].chunks_mut(BLOCK))
    {
        let len = wb.len();
        let t = &mut t[..len];
        // |w| · scale ≤ N 2^K (1 + 2^-50) < 2^52.
        for (tj, &w) in t.iter_mut().zip(wb) {
            *tj = round_to_u64(f64::from(w.abs()) * scale);
        }
        for tj in t.iter_mut() {
            prefix += *tj;
            *tj = prefix;
        }
        if prefix > total {
            // Rounding of S and of the a_j overshot N 2^K: only near the end, and by a
            // few units. Clamping keeps T monotone.
            for tj in t.iter_mut() {
                *tj = (*tj).min(total);
            }
            prefix = total;
        }
        // ⌊T⌋ and the K fraction bits of T, left-aligned with the top 32 kept, in 32-bit
        // lanes so that the hash of the next loop runs at full vector width.
        for ((kj, fj), &tj) in k[..len].iter_mut().zip(&mut frac[..len]).zip(t.iter()) {
            *kj = (tj >> frac_bits) as u32;
            *fj = ((tj << (64 - frac_bits)) >> 32) as u32;
        }
        for ((bj, &kj), &fj) in below[1..=len].iter_mut().zip(&k[..len]).zip(&frac[..len]) {
            *bj = kj as i32 + i32::from(u(kj) < fj);
        }
        for ((out, &w), pair) in qb.iter_mut().zip(wb).zip(below[..=len].windows(2)) {
            *out = signed(w, pair[1] - pair[0]);
        }
        below[0] = below[len];
    }
    // From the last non-zero weight on, T = N and F(N) = N.
    q[last] = signed(weights[last], samples as i32 - below[0]);
    q[last + 1..].fill(0);
}

/// Counts of `sorted_samples` (ascending, in `[0, 1)`) per weight, one merge pass.
fn merge_pass(weights: &[f32], sorted_samples: &[f64], scan: &Scan, q: &mut [i32]) {
    let inv = 1.0 / scan.sum_abs;
    let last = scan.last_nonzero;
    let n = sorted_samples.len();
    let mut prefix = 0.0f64;
    let mut s = 0usize;
    for (&w, out) in weights[..last].iter().zip(&mut q[..last]) {
        prefix += f64::from(w.abs());
        let p = (prefix * inv).min(1.0);
        let start = s;
        while s < n && sorted_samples[s] < p {
            s += 1;
        }
        *out = signed(w, (s - start) as i32);
    }
    q[last] = signed(weights[last], (n - s) as i32);
    q[last + 1..].fill(0);
}

/// Signed counts of `samples` samples of `scheme` from `|w| / Σ|w|`, written to `q`.
///
/// # Errors
/// [`SamplingError`] for `samples` 0 or above [`MAX_SAMPLES`], empty `weights`, a NaN or
/// infinite weight, `q.len() != weights.len()`, or a scale that overflows `f32`. An
/// all-zero `weights` is not an error: `q` is zeroed and the summary says `all_zero`.
pub fn sample_counts_into(
    weights: &[f32],
    samples: usize,
    scheme: Scheme,
    seed: u64,
    q: &mut [i32],
) -> Result<Summary, SamplingError> {
    check_samples(samples)?;
    check_output(weights.len(), q.len())?;
    let Some(scan) = scan(weights)? else {
        return Ok(all_zero(q, samples));
    };
    let result = summary(&scan, samples)?;
    let stream = scheme.stream(seed);
    match scheme {
        Scheme::Jittered => stratified_pass(weights, samples, &scan, |k| stream.u32_at(k), q),
        Scheme::Systematic => {
            let u = stream.u32_at(0);
            stratified_pass(weights, samples, &scan, |_| u, q)
        }
        Scheme::Iid | Scheme::LowDiscrepancy => {
            merge_pass(weights, &scheme.samples(samples, seed)?, &scan, q)
        }
    }
    Ok(result)
}

/// Signed counts of `samples` samples of `scheme` from `|w| / Σ|w|`.
///
/// # Errors
/// As [`sample_counts_into`].
pub fn sample_counts(
    weights: &[f32],
    samples: usize,
    scheme: Scheme,
    seed: u64,
) -> Result<Counts, SamplingError> {
    let mut q = vec![0; weights.len()];
    let s = sample_counts_into(weights, samples, scheme, seed, &mut q)?;
    Ok(Counts::new(q, s))
}

/// [`sample_counts`] with [`Scheme::Jittered`]: counts strictly within 2 of `N p_j`.
///
/// # Errors
/// As [`sample_counts_into`].
pub fn jittered_counts(
    weights: &[f32],
    samples: usize,
    seed: u64,
) -> Result<Counts, SamplingError> {
    sample_counts(weights, samples, Scheme::Jittered, seed)
}

/// [`sample_counts`] with [`Scheme::Systematic`]: counts `⌊N p_j⌋` or `⌈N p_j⌉`.
///
/// # Errors
/// As [`sample_counts_into`].
pub fn systematic_counts(
    weights: &[f32],
    samples: usize,
    seed: u64,
) -> Result<Counts, SamplingError> {
    sample_counts(weights, samples, Scheme::Systematic, seed)
}

/// [`sample_counts`] with [`Scheme::Iid`]: multinomial counts.
///
/// # Errors
/// As [`sample_counts_into`].
pub fn iid_counts(weights: &[f32], samples: usize, seed: u64) -> Result<Counts, SamplingError> {
    sample_counts(weights, samples, Scheme::Iid, seed)
}

/// [`sample_counts`] with [`Scheme::LowDiscrepancy`]: like systematic for `N` a power of 2.
///
/// # Errors
/// As [`sample_counts_into`].
pub fn low_discrepancy_counts(
    weights: &[f32],
    samples: usize,
    seed: u64,
) -> Result<Counts, SamplingError> {
    sample_counts(weights, samples, Scheme::LowDiscrepancy, seed)
}

/// Counts of given samples: `sorted_samples` ascending in `[0, 1)`, mapped through the
/// CDF of `|w| / Σ|w|` in one merge pass (`O(n + N)`); `N = sorted_samples.len()`.
///
/// # Errors
/// As [`sample_counts_into`] (with `N` the number of samples), and
/// [`SamplingError::SampleOutOfRange`] / [`SamplingError::UnsortedSamples`].
pub fn counts_from_sorted_samples(
    weights: &[f32],
    sorted_samples: &[f64],
) -> Result<Counts, SamplingError> {
    let n = sorted_samples.len();
    check_samples(n)?;
    for (index, &value) in sorted_samples.iter().enumerate() {
        if !(0.0..1.0).contains(&value) {
            return Err(SamplingError::SampleOutOfRange { index, value });
        }
        if index > 0 && value < sorted_samples[index - 1] {
            return Err(SamplingError::UnsortedSamples { index });
        }
    }
    let mut q = vec![0; weights.len()];
    let Some(scan) = scan(weights)? else {
        let s = all_zero(&mut q, n);
        return Ok(Counts::new(q, s));
    };
    let s = summary(&scan, n)?;
    merge_pass(weights, sorted_samples, &scan, &mut q);
    Ok(Counts::new(q, s))
}

/// Per-row counts of a row-major `[rows, cols]` matrix, `samples_per_row` samples in
/// each row, rows in parallel (rayon); written to `q` (same shape as `weights`).
///
/// Row `r` is exactly `sample_counts_into(row, samples_per_row, scheme, row_seed(seed,
/// r), …)`. An error names the first bad row's weight by its index in `weights`.
///
/// # Errors
/// [`SamplingError::ShapeMismatch`] when `rows · cols != weights.len()`,
/// [`SamplingError::EmptyWeights`] when either is 0, otherwise as [`sample_counts_into`].
pub fn row_counts_into(
    weights: &[f32],
    rows: usize,
    cols: usize,
    samples_per_row: usize,
    scheme: Scheme,
    seed: u64,
    q: &mut [i32],
) -> Result<Vec<Summary>, SamplingError> {
    if rows.checked_mul(cols) != Some(weights.len()) {
        return Err(SamplingError::ShapeMismatch {
            len: weights.len(),
            rows,
            cols,
        });
    }
    if weights.is_empty() {
        return Err(SamplingError::EmptyWeights);
    }
    check_samples(samples_per_row)?;
    check_output(weights.len(), q.len())?;
    let results: Vec<Result<Summary, SamplingError>> = weights
        .par_chunks(cols)
        .zip(q.par_chunks_mut(cols))
        .enumerate()
        .map(|(r, (w, q))| {
            sample_counts_into(w, samples_per_row, scheme, row_seed(seed, r), q).map_err(
                |e| match e {
                    SamplingError::NonFiniteWeight { index, value } => {
                        SamplingError::NonFiniteWeight {
                            index: r * cols + index,
                            value,
                        }
                    }
                    other => other,
                },
            )
        })
        .collect();
    results.into_iter().collect()
}

/// Per-row counts of a row-major `[rows, cols]` matrix; see [`row_counts_into`].
///
/// # Errors
/// As [`row_counts_into`].
pub fn row_counts(
    weights: &[f32],
    rows: usize,
    cols: usize,
    samples_per_row: usize,
    scheme: Scheme,
    seed: u64,
) -> Result<RowCounts, SamplingError> {
    let mut q = vec![0; weights.len()];
    let summaries = row_counts_into(weights, rows, cols, samples_per_row, scheme, seed, &mut q)?;
    Ok(RowCounts {
        q,
        rows,
        cols,
        summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers;

    #[test]
    fn portable_and_dispatched_paths_agree() {
        // On AVX2 machines `sample_counts` runs the AVX2 build of the same body; the
        // portable build must give the same counts.
        let w: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 1e-3)
            .collect();
        let scan = scan(&w).unwrap().unwrap();
        for n in [1, 999, 5000, 1 << 20] {
            let stream = Scheme::Jittered.stream(3);
            let mut portable = vec![0; w.len()];
            stratified_pass_body(&w, n, &scan, |k| stream.u32_at(k), &mut portable);
            assert_eq!(portable, jittered_counts(&w, n, 3).unwrap().q, "N = {n}");
        }
    }

    #[test]
    fn exact_case_by_hand() {
        // S = 2, N = 8: N p = (2, 1, 0, 5), integers, so every scheme but iid is exact.
        let w = [0.5f32, -0.25, 0.0, 1.25];
        for scheme in [Scheme::Jittered, Scheme::Systematic, Scheme::LowDiscrepancy] {
            for seed in 0..20 {
                let c = sample_counts(&w, 8, scheme, seed).unwrap();
                assert_eq!(c.q, [2, -1, 0, 5], "{scheme:?} seed {seed}");
                assert_eq!(
                    (c.scale, c.sum_abs, c.samples, c.all_zero),
                    (0.25, 2.0, 8, false)
                );
            }
        }
    }

    #[test]
    fn bad_input_is_named() {
        let w = [1.0f32, 2.0];
        assert_eq!(jittered_counts(&w, 0, 0), Err(SamplingError::ZeroSamples));
        assert_eq!(jittered_counts(&[], 3, 0), Err(SamplingError::EmptyWeights));
        assert!(matches!(
            jittered_counts(&w, MAX_SAMPLES + 1, 0),
            Err(SamplingError::TooManySamples { .. })
        ));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = systematic_counts(&[0.0, 1.0, bad, bad], 4, 0).unwrap_err();
            assert!(
                matches!(err, SamplingError::NonFiniteWeight { index: 2, .. }),
                "{err:?}"
            );
        }
        let mut q = [0; 3];
        assert_eq!(
            sample_counts_into(&w, 2, Scheme::Jittered, 0, &mut q),
            Err(SamplingError::OutputLength {
                expected: 2,
                got: 3
            })
        );
        assert_eq!(
            row_counts(&w, 3, 1, 2, Scheme::Jittered, 0),
            Err(SamplingError::ShapeMismatch {
                len: 2,
                rows: 3,
                cols: 1
            })
        );
        assert_eq!(
            row_counts(&[], 0, 4, 2, Scheme::Jittered, 0),
            Err(SamplingError::EmptyWeights)
        );
        let big = [f32::MAX; 4];
        assert!(matches!(
            jittered_counts(&big, 1, 0),
            Err(SamplingError::ScaleOverflow { .. })
        ));
        assert!(matches!(
            counts_from_sorted_samples(&w, &[0.5, 0.25]),
            Err(SamplingError::UnsortedSamples { index: 1 })
        ));
        assert!(matches!(
            counts_from_sorted_samples(&w, &[0.5, 1.0]),
            Err(SamplingError::SampleOutOfRange { index: 1, .. })
        ));
        assert_eq!(
            counts_from_sorted_samples(&w, &[]),
            Err(SamplingError::ZeroSamples)
        );
    }

    #[test]
    fn all_zero_group_is_defined() {
        for scheme in Scheme::ALL {
            let c = sample_counts(&[0.0, -0.0, 0.0], 5, scheme, 1).unwrap();
            assert_eq!(c.q, [0, 0, 0]);
            assert!(c.all_zero);
            assert_eq!(c.scale, 0.0);
            assert_eq!(c.sum_abs, 0.0);
            assert!(c.dequantize().iter().all(|x| *x == 0.0));
        }
    }

    #[test]
    fn nonfinite_index_in_rows_is_global() {
        let m = [1.0f32, 1.0, 1.0, f32::NAN];
        assert!(matches!(
            row_counts(&m, 2, 2, 3, Scheme::Jittered, 0),
            Err(SamplingError::NonFiniteWeight { index: 3, .. })
        ));
    }

    #[test]
    fn trailing_zeros_and_leading_zeros_get_nothing() {
        let w = [0.0f32, 0.0, 0.3, 0.0, 0.7, 0.0, 0.0];
        for scheme in Scheme::ALL {
            for seed in 0..50 {
                let c = sample_counts(&w, 13, scheme, seed).unwrap();
                for j in [0, 1, 3, 5, 6] {
                    assert_eq!(c.q[j], 0);
                }
                assert_eq!(c.q[2] + c.q[4], 13);
            }
        }
    }

    #[test]
    fn iid_and_low_discrepancy_equal_the_merge_of_their_samples() {
        let w: Vec<f32> = (0..50)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1)
            .collect();
        for scheme in [Scheme::Iid, Scheme::LowDiscrepancy] {
            let direct = sample_counts(&w, 77, scheme, 4).unwrap();
            let merged = counts_from_sorted_samples(&w, &scheme.samples(77, 4).unwrap()).unwrap();
            assert_eq!(direct, merged);
        }
    }

    #[test]
    fn closed_forms_equal_the_merge_of_their_samples() {
        let w: Vec<f32> = (0..300)
            .map(|i| ((i * 7919 % 101) as f32 - 50.0) / 17.0)
            .collect();
        for scheme in [Scheme::Jittered, Scheme::Systematic] {
            for n in [1, 10, 299, 1000] {
                let closed = sample_counts(&w, n, scheme, 9).unwrap();
                let merged = counts_from_sorted_samples(
                    &w,
                    &samplers::Scheme::samples(scheme, n, 9).unwrap(),
                )
                .unwrap();
                assert_eq!(closed.q, merged.q, "{scheme:?} N = {n}");
            }
        }
    }
}
