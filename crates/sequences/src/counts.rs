//! Discrete-density sampling: the signed integer counts `q_j` that turn weights into
//! `w ≈ (S/N) · q`.
//!
//! For weights `w` let `S = Σ|w_j|` and `p_j = |w_j| / S`. Drawing `N` samples from `p`
//! by inversion of its CDF and counting the hits `c_j` of each weight gives
//! `q_j = sign(w_j) · c_j` with `Σ|q_j| = N`, and `(S/N) · q` is an unbiased estimate of
//! `w` (`E[c_j] = N p_j`) — quantisation and sparsification in one step, without
//! retraining (`docs/algorithms.md`, section 2).
//!
//! How the samples are placed is the [`Scheme`]:
//! - `Jittered` (the default) and `Systematic` use a closed form per weight: with the
//!   scaled prefix sums `T_j = N · P_j`, the number of samples below `T` is
//!   `F(T) = ⌊T⌋ + [u_⌊T⌋ < T − ⌊T⌋]` (sample `s` of stratum `s` sits at `s + u_s`, and
//!   `u_s = u` for systematic), and `c_j = F(T_j) − F(T_{j−1})`. For systematic this is
//!   `⌈N P_j − u⌉ − ⌈N P_{j−1} − u⌉`. Three passes over the weights (an `f64` estimate
//!   of `S`, the exact fixed-point total, the closed form), `O(n)` whatever `N`,
//!   independent per weight but for the prefix sums, so most of it vectorises (with
//!   AVX2 where the CPU has it, detected at run time).
//! - `Iid` and `LowDiscrepancy` generate their samples ([`crate::samplers`]), sort them
//!   (`O(N log N)`) and count them in one merge pass over weights and samples,
//!   `O(n + N)` ([`counts_from_sorted_samples`] is that merge alone).
//!
//! Arithmetic. The prefix sums `P_j` are exact integer sums in fixed point, not `f64`
//! sums: an `f64` running sum drifts by up to `j · 2^-53` relative, so late weights, and
//! the last one, which takes whatever is left up to `N`, would absorb the error of every
//! earlier one; the integer sum is exact and also faster (a 1-cycle dependency chain
//! instead of a 4-cycle one). Each `|w_j| · 2^E` (with `S · 2^E ≈ 2^49`) is split into
//! an integer and a remainder in units of `2^-40`, both summed exactly; the total `Y`
//! is the same sum carried to the end, so `P_j = Y_j / Y` is exactly 1 from the last
//! non-zero weight on — `Σ|q_j| = N` always, a zero weight never gets a sample, and the
//! last non-zero weight is no special case: its `T_{j−1}` is as accurate as every
//! other. `T_j = N · Y_j / Y` is kept in units of `2^-32` samples, the resolution of
//! the 32-bit uniforms `u`, and is within
//! `τ = N (n · 2^-89 + 2^-60) + 2^-29` samples of the exact `N · P_j` (`τ < 2^-28` for
//! `N, n ≤ 2^24`; `τ < 2^-25` for any `N < 2^31`, `n ≤ 2^32`). The merge pass compares
//! each sample with `Y_j / Y` rounded to `f64` (within `τ / N + 2^-51` of `P_j`). `S`
//! (reported as [`Summary::sum_abs`]) is the fixed-point total.
//!
//! Guarantees (tested as properties, and on 10^6 heavy-tailed weights against exact
//! rational arithmetic): systematic counts are `⌊x⌋` or `⌈x⌉` for an `x` within `2τ` of
//! `N p_j` (so every weight with `|w_j| ≥ S/N` survives, and the result is ternary when
//! `max|w_j| ≤ S/N`, both up to `2τ`); jittered counts are strictly within `2 + 2τ` of
//! `N p_j`, and `E[c_j]` is `T_j − T_{j−1}` exactly; the mean of `(S/N) · q` over
//! seeds converges to `w`.
//!
//! Bad input is an error ([`SamplingError`]): `N = 0`, `N > i32::MAX`, empty weights, a
//! NaN or infinite weight, and a scale `S/N` that overflows `f32` or falls below the
//! smallest normal `f32` (e.g. one weight of `1e-45`). An all-zero group is a defined
//! result: all counts 0, scale 0, `all_zero` set in its [`Summary`] — never NaN.
//!
//! Per row ([`row_counts`]): one distribution per row of a row-major `[rows, cols]`
//! matrix (one per output neuron), rows in parallel with rayon; row `r` draws from
//! [`Scheme::row_stream`]`(seed, r)` = `CounterHash::from_seed(seed)
//! .derive(scheme.stream_id()).derive(r)` — 32-bit arithmetic from the key on, so a
//! kernel can derive it — and the result does not depend on the number of threads.
//! Per column ([`column_counts`]): the same counts for the columns of a row-major matrix
//! (column `c` as row `c` of its transpose, to the bit), sampled where they lie, such as
//! Burn's `Linear` weight `[d_input, d_output]`, without transposing it.
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

mod columns;
mod fixed;
mod rows;

use crate::counter_hash::CounterHash;
use crate::error::{SamplingError, check_at_most};
pub use crate::samplers::Scheme;
pub use columns::{ColumnCounts, column_counts, column_counts_into};
use fixed::{BLOCK, Fixed, Prefix, ToSamples};
pub use rows::{RowCounts, row_counts, row_counts_into};

/// The largest number of samples `N` per group for the counts: they are `i32`.
/// (The samplers' own limit, one stream's `2^32` uniforms, is
/// [`crate::samplers::MAX_STREAM_SAMPLES`].)
pub const MAX_COUNT_SAMPLES: usize = i32::MAX as usize;

/// The scalars of one sampled group (a tensor or a row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// `S / N`: the value of one count, so that `w ≈ scale · q`. 0 for an all-zero
    /// group; otherwise a normal `f32`.
    pub scale: f32,
    /// `S = Σ|w_j|`: the exact fixed-point total of the sampled distribution, rounded
    /// to `f64`.
    pub sum_abs: f64,
    /// The number of samples `N`.
    pub samples: usize,
    /// Whether every weight was zero (then every count and the scale are 0).
    pub all_zero: bool,
}

/// The signed counts of one group and its scalars.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    /// `q_j = sign(w_j) · c_j`, with `Σ|q_j| = N` (or all zero for an all-zero group).
    pub q: Vec<i32>,
    /// The scale, `S`, `N` and the all-zero flag.
    pub summary: Summary,
}

impl Counts {
    /// The sampled weights `scale · q_j`.
    pub fn dequantize(&self) -> Vec<f32> {
        let scale = self.summary.scale;
        self.q.iter().map(|&q| scale * q as f32).collect()
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

/// What the first two passes over the weights find.
struct Scan {
    /// Index of the last non-zero weight: from there on `P_j = 1` exactly.
    last_nonzero: usize,
    /// The fixed-point encoding and its exact total.
    fixed: Fixed,
}

/// `N` must be in `1..=MAX_COUNT_SAMPLES`.
fn check_samples(samples: usize) -> Result<(), SamplingError> {
    if samples == 0 {
        return Err(SamplingError::ZeroSamples);
    }
    check_at_most(samples, MAX_COUNT_SAMPLES as u64)
}

/// The most groups (rows or columns) of a matrix sampled per group: their streams are
/// numbered by a `u32`.
const MAX_GROUPS: u64 = 1 << 32;

/// The checks of a matrix sampled per group ([`row_counts_into`], [`column_counts_into`]):
/// `rows · cols` weights, not 0, at most [`MAX_GROUPS`] groups, a valid `N`, and `q_len`
/// counts for the weights.
fn check_matrix(
    weights: &[f32],
    (rows, cols): (usize, usize),
    groups: usize,
    samples: usize,
    q_len: usize,
) -> Result<(), SamplingError> {
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
    if groups as u64 > MAX_GROUPS {
        return Err(SamplingError::TooManyRows {
            rows: groups,
            max: MAX_GROUPS,
        });
    }
    check_samples(samples)?;
    check_output(weights.len(), q_len)
}

fn check_output(expected: usize, got: usize) -> Result<(), SamplingError> {
    if expected == got {
        Ok(())
    } else {
        Err(SamplingError::OutputLength { expected, got })
    }
}

/// The last non-zero weight and the exact fixed-point total; `None` when all are zero.
fn scan(weights: &[f32]) -> Result<Option<Scan>, SamplingError> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, as just checked; that is the only requirement
        // of the `target_feature` function.
        return unsafe { scan_avx2(weights) };
    }
    scan_body(weights)
}

/// [`scan`] compiled for AVX2 (4-lane `f64`); the arithmetic, and so the result, is
/// the same as the portable build's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2(weights: &[f32]) -> Result<Option<Scan>, SamplingError> {
    scan_body(weights)
}

#[inline(always)]
fn scan_body(weights: &[f32]) -> Result<Option<Scan>, SamplingError> {
    if weights.is_empty() {
        return Err(SamplingError::EmptyWeights);
    }
    // An estimate of S, only to choose the fixed-point scale: eight independent
    // accumulators vectorise.
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
    let estimate: f64 = acc.iter().sum();
    // A sum of finite f32 magnitudes in f64 cannot overflow: a non-finite sum means a
    // NaN or infinite weight, found by a second look only in that case.
    if !estimate.is_finite() {
        let index = weights.iter().position(|w| !w.is_finite()).unwrap_or(0);
        return Err(SamplingError::NonFiniteWeight {
            index,
            value: weights[index],
        });
    }
    if estimate == 0.0 {
        return Ok(None);
    }
    let last_nonzero = weights.iter().rposition(|&w| w != 0.0).unwrap_or(0);
    Ok(Some(Scan {
        last_nonzero,
        fixed: Fixed::new(weights, estimate),
    }))
}

/// The summary of a non-zero group; `S/N` must be a finite, normal `f32`.
fn summary(scan: &Scan, samples: usize) -> Result<Summary, SamplingError> {
    let sum_abs = scan.fixed.sum_abs();
    let scale = (sum_abs / samples as f64) as f32;
    if !scale.is_finite() {
        return Err(SamplingError::ScaleOverflow {
            sum_abs,
            samples,
            row: None,
        });
    }
    if scale < f32::MIN_POSITIVE {
        return Err(SamplingError::ScaleUnderflow {
            sum_abs,
            samples,
            row: None,
        });
    }
    Ok(Summary {
        scale,
        sum_abs,
        samples,
        all_zero: false,
    })
}

fn all_zero(q: &mut [i32], samples: usize) -> Summary {
    q.fill(0);
    all_zero_summary(samples)
}

/// The summary of an all-zero group.
fn all_zero_summary(samples: usize) -> Summary {
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

/// The closed form `c_j = F(T_j) − F(T_{j−1})`, `F(T) = ⌊T⌋ + [u_⌊T⌋ < T − ⌊T⌋]`, with
/// `T` in units of `2^-32` samples from the exact fixed-point prefix sums ([`fixed`]).
///
/// `u` is a 32-bit fraction and `T − ⌊T⌋` is the low 32 bits of `T`, so `[u < T − ⌊T⌋]`
/// has probability exactly `T − ⌊T⌋` for a uniform `u`.
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
    stratified_pass_body::<false>(weights, samples, scan, u, q)
}

/// The same code compiled for AVX2, whose 8-lane 32-bit multiply makes the vectorised
/// hash of the jittered scheme several times faster than baseline SSE2, which has to
/// emulate it; the prefix sums and `T_j` use explicit AVX2 kernels
/// ([`Prefix::block_avx2`], [`ToSamples::split_block_avx2`]) with the same integer
/// results as the portable code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn stratified_pass_avx2(
    weights: &[f32],
    samples: usize,
    scan: &Scan,
    u: impl Fn(u32) -> u32,
    q: &mut [i32],
) {
    stratified_pass_body::<true>(weights, samples, scan, u, q)
}

#[inline(always)]
fn stratified_pass_body<const AVX2: bool>(
    weights: &[f32],
    samples: usize,
    scan: &Scan,
    u: impl Fn(u32) -> u32,
    q: &mut [i32],
) {
    // Blocks go through the fixed-point prefix sums (encoding vectorised, the sums the
    // only sequential part), T_j, F(T_j) and the signed differences; all but the sums
    // are independent per weight and vectorise, the hash of the jittered scheme
    // included.
    let last = scan.last_nonzero;
    let to_samples = ToSamples::new(samples, scan.fixed.total);
    let mut prefix = Prefix::default();
    let mut y = [0u64; BLOCK];
    let (mut k, mut frac) = ([0u32; BLOCK], [0u32; BLOCK]);
    // below[0] is F(T) before the block, below[1 + j] is F(T_j); F(0) = 0.
    let mut below = [0i32; BLOCK + 1];
    for (wb, qb) in weights[..last]
        .chunks(BLOCK)
        .zip(q[..last].chunks_mut(BLOCK))
    {
        let len = wb.len();
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: `AVX2` is true only in `stratified_pass_avx2`, called only where
            // the CPU supports AVX2.
            unsafe {
                prefix.block_avx2(wb, &scan.fixed, &mut y[..len]);
                to_samples.split_block_avx2(&y[..len], &mut k[..len], &mut frac[..len]);
            }
        } else {
            prefix.block(wb, &scan.fixed, &mut y[..len]);
            to_samples.split_block(&y[..len], &mut k[..len], &mut frac[..len]);
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            prefix.block(wb, &scan.fixed, &mut y[..len]);
            to_samples.split_block(&y[..len], &mut k[..len], &mut frac[..len]);
        }
        for ((bj, &kj), &fj) in below[1..=len].iter_mut().zip(&k[..len]).zip(&frac[..len]) {
            *bj = kj as i32 + i32::from(u(kj) < fj);
        }
        for ((out, &w), pair) in qb.iter_mut().zip(wb).zip(below[..=len].windows(2)) {
            *out = signed(w, pair[1] - pair[0]);
        }
        below[0] = below[len];
    }
    // From the last non-zero weight on, Y_j = Y, T = N and F(N) = N.
    q[last] = signed(weights[last], samples as i32 - below[0]);
    q[last + 1..].fill(0);
}

/// Counts of `sorted_samples` (ascending, in `[0, 1)`) per weight, one merge pass
/// comparing them with `P_j = Y_j / Y` rounded to `f64`.
fn merge_pass(weights: &[f32], sorted_samples: &[f64], scan: &Scan, q: &mut [i32]) {
    let last = scan.last_nonzero;
    let total = scan.fixed.total as f64;
    let n = sorted_samples.len();
    let mut prefix = Prefix::default();
    let mut y = [0u64; BLOCK];
    let mut s = 0usize;
    for (wb, qb) in weights[..last]
        .chunks(BLOCK)
        .zip(q[..last].chunks_mut(BLOCK))
    {
        prefix.block(wb, &scan.fixed, &mut y[..wb.len()]);
        for ((&w, out), &yj) in wb.iter().zip(qb).zip(&y) {
            // Monotone in Y_j and at most 1 (Y_j ≤ Y).
            let p = yj as f64 / total;
            let start = s;
            while s < n && sorted_samples[s] < p {
                s += 1;
            }
            *out = signed(w, (s - start) as i32);
        }
    }
    q[last] = signed(weights[last], (n - s) as i32);
    q[last + 1..].fill(0);
}

/// Signed counts of `samples` samples of `scheme` from `|w| / Σ|w|`, written to `q`,
/// with the uniforms of [`Scheme::stream`]`(seed)`.
///
/// # Errors
/// [`SamplingError`] for `samples` 0 or above [`MAX_COUNT_SAMPLES`], empty `weights`, a
/// NaN or infinite weight, `q.len() != weights.len()`, or a scale `S/N` that overflows
/// `f32` or lies below the smallest normal `f32`. An all-zero `weights` is not an
/// error: `q` is zeroed and the summary says `all_zero`.
pub fn sample_counts_into(
    weights: &[f32],
    samples: usize,
    scheme: Scheme,
    seed: u64,
    q: &mut [i32],
) -> Result<Summary, SamplingError> {
    sample_counts_with_stream_into(weights, samples, scheme, scheme.stream(seed), q)
}

/// [`sample_counts_into`] with the uniforms of a given `stream` (`u_s =
/// stream.u32_at(s)`), e.g. a [`Scheme::row_stream`] or a stream a kernel shares.
///
/// # Errors
/// As [`sample_counts_into`].
pub fn sample_counts_with_stream_into(
    weights: &[f32],
    samples: usize,
    scheme: Scheme,
    stream: CounterHash,
    q: &mut [i32],
) -> Result<Summary, SamplingError> {
    check_samples(samples)?;
    check_output(weights.len(), q.len())?;
    let Some(scan) = scan(weights)? else {
        return Ok(all_zero(q, samples));
    };
    let result = summary(&scan, samples)?;
    match scheme {
        Scheme::Jittered => stratified_pass(weights, samples, &scan, |k| stream.u32_at(k), q),
        Scheme::Systematic => {
            let u = stream.u32_at(0);
            stratified_pass(weights, samples, &scan, |_| u, q)
        }
        Scheme::Iid | Scheme::LowDiscrepancy => merge_pass(
            weights,
            &scheme.samples_with_stream(samples, stream)?,
            &scan,
            q,
        ),
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
    sample_counts_with_stream(weights, samples, scheme, scheme.stream(seed))
}

/// [`sample_counts`] with the uniforms of a given `stream`; see
/// [`sample_counts_with_stream_into`].
///
/// # Errors
/// As [`sample_counts_into`].
pub fn sample_counts_with_stream(
    weights: &[f32],
    samples: usize,
    scheme: Scheme,
    stream: CounterHash,
) -> Result<Counts, SamplingError> {
    let mut q = vec![0; weights.len()];
    let summary = sample_counts_with_stream_into(weights, samples, scheme, stream, &mut q)?;
    Ok(Counts { q, summary })
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
/// CDF of `|w| / Σ|w|` in one merge pass, `O(n + N)` with `N = sorted_samples.len()`.
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
        let summary = all_zero(&mut q, n);
        return Ok(Counts { q, summary });
    };
    let summary = summary(&scan, n)?;
    merge_pass(weights, sorted_samples, &scan, &mut q);
    Ok(Counts { q, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers;

    #[test]
    fn portable_and_dispatched_paths_agree() {
        // On AVX2 machines `sample_counts` runs the AVX2 build of the same body; the
        // portable build must give the same counts.
        // Lengths with and without a partial block and a partial group of four.
        for len in [5000, 5003, 257, 3] {
            let w: Vec<f32> = (0..len)
                .map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 1e-3)
                .collect();
            let scan = scan(&w).unwrap().unwrap();
            for n in [1, 999, 5000, 1 << 20, MAX_COUNT_SAMPLES] {
                let stream = Scheme::Jittered.stream(3);
                let mut portable = vec![0; w.len()];
                stratified_pass_body::<false>(&w, n, &scan, |k| stream.u32_at(k), &mut portable);
                assert_eq!(
                    portable,
                    jittered_counts(&w, n, 3).unwrap().q,
                    "len {len}, N = {n}"
                );
            }
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
                    c.summary,
                    Summary {
                        scale: 0.25,
                        sum_abs: 2.0,
                        samples: 8,
                        all_zero: false
                    }
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
            jittered_counts(&w, MAX_COUNT_SAMPLES + 1, 0),
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
    fn extreme_magnitudes_are_sampled_or_named() {
        // Tiny and huge normal weights: exact where every N p_j is an integer.
        let c = systematic_counts(&[1e-30, 1e-30, -1e-30, 1e-30], 16, 0).unwrap();
        assert_eq!(c.q, [4, 4, -4, 4]);
        assert!((f64::from(c.summary.scale) / 2.5e-31 - 1.0).abs() < 1e-6);
        let c = systematic_counts(&[1e30, -1e30, 3e30], 5, 0).unwrap();
        assert_eq!(c.q, [1, -1, 3]);
        assert!((f64::from(c.summary.scale) / 1e30 - 1.0).abs() < 1e-6);
        // Thirty decades apart: the tiny weight gets nothing, the sum is still exact.
        for scheme in Scheme::ALL {
            let c = sample_counts(&[1e-30, 1e30, 1e-30], 16, scheme, 3).unwrap();
            assert_eq!(c.q, [0, 16, 0], "{scheme:?}");
        }
        // Subnormal weights are fine next to normal ones...
        let c = systematic_counts(&[1.0, 1e-45, -1e-40, 3.0], 8, 0).unwrap();
        assert_eq!(c.q, [2, 0, 0, 6]);
        // ...but a scale S/N below the smallest normal f32 is an error, not a silent 0.
        for (w, n) in [
            (&[1e-45f32][..], 16),
            (&[1e-40, -1e-40][..], 1),
            (&[1e-30][..], 1 << 30),
        ] {
            let err = systematic_counts(w, n, 0).unwrap_err();
            assert!(
                matches!(err, SamplingError::ScaleUnderflow { samples, row: None, .. } if samples == n),
                "{w:?} N = {n}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains("underflows") && text.contains("1.1754944e-38"),
                "{text}"
            );
        }
        // The smallest scale allowed: S/N = f32::MIN_POSITIVE exactly.
        let c = systematic_counts(&[f32::MIN_POSITIVE * 2.0], 2, 0).unwrap();
        assert_eq!((c.q[0], c.summary.scale), (2, f32::MIN_POSITIVE));
    }

    #[test]
    fn all_zero_group_is_defined() {
        for scheme in Scheme::ALL {
            let c = sample_counts(&[0.0, -0.0, 0.0], 5, scheme, 1).unwrap();
            assert_eq!(c.q, [0, 0, 0]);
            assert!(c.summary.all_zero);
            assert_eq!(c.summary.scale, 0.0);
            assert_eq!(c.summary.sum_abs, 0.0);
            assert!(c.dequantize().iter().all(|x| *x == 0.0));
        }
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
