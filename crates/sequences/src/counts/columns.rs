//! Per-column counts: one distribution per column of a row-major `[rows, cols]` matrix,
//! such as Burn's `Linear` weight `[d_input, d_output]`, whose columns are the output
//! neurons.
//!
//! Column `c` gets exactly the counts and summary that [`super::row_counts`] gives row `c`
//! of the transposed matrix (the same stream, [`Scheme::row_stream`]`(seed, c)`), without
//! transposing: the passes run down the columns with [`LANES`] neighbouring columns side by
//! side. The columns are independent, so the lanes vectorise where the row sampler's prefix
//! sum is a dependency chain, and the counts come out in the layout of the weights. The `f64`
//! estimate of `S` that picks the fixed-point scale is summed in the row sampler's order
//! (eight accumulators, the last partial group of eight into the first), so the scale, and so
//! every count, is the same; the fixed-point sums are exact integers, equal in any order.
//!
//! It is the per-neuron sampler written the way a GPU runs it (one invocation per column,
//! neighbouring invocations reading neighbouring memory), and the CPU reference for such a
//! kernel. On the CPU it is not faster than sampling the rows of the transpose: 784 × 300
//! weights in Burn's layout take about 0.7–1.0 ms here against 0.5–0.6 ms for the rows
//! (plus the two transposes, about 0.1 ms), the passes reading a block's rows from L2 where
//! the row sampler keeps a row in L1 (`cargo bench -p mcnn-sequences --bench counts`,
//! `counts_784x300`; docs/RESULTS.md). It needs no transposed copy of the weights.
//!
//! [`Scheme::Jittered`] and [`Scheme::Systematic`] run this way (with AVX2 where the CPU
//! has it: eight columns per register); [`Scheme::Iid`] and [`Scheme::LowDiscrepancy`], and
//! columns of `2^31 − 1` rows or more, transpose, sample the rows and transpose back.

use rayon::prelude::*;

use super::fixed::{Fixed, ToSamples, encode, high_product, prefix_step};
#[cfg(target_arch = "x86_64")]
use super::fixed::{LO_BITS, ONE_AND_HALF_52, TWO_52, Y_SHIFT};
use super::rows::row_counts_into;
use super::{Scan, Scheme, Summary, all_zero_summary, check_matrix, signed};
use crate::counter_hash::{CounterHash, hash};
use crate::error::SamplingError;

/// Neighbouring columns processed side by side (one `f64` AVX2 register pair per lane set).
const LANES: usize = 8;

/// The fewest and most columns in a block (a task): every pass reads a block's part of a
/// row at once; the most keeps a block's state (about 70 bytes a column) in L1.
const MIN_BLOCK_COLUMNS: usize = 4 * LANES;
const MAX_BLOCK_COLUMNS: usize = 32 * LANES;

/// A column block gets at least this many weights per rayon task (smaller matrices stay on
/// the calling thread: a wake-up costs more than their work).
const MIN_TASK_WEIGHTS: usize = 1 << 16;

/// The counts of every column of a row-major `[rows, cols]` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnCounts {
    /// Row-major `[rows, cols]` signed counts, the layout of the weights.
    pub q: Vec<i32>,
    /// Number of rows (the length of a column).
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// One summary per column (its scale, `S`, `N` and all-zero flag).
    pub summaries: Vec<Summary>,
}

/// Per-column counts of a row-major `[rows, cols]` matrix, `samples_per_column` samples in
/// each column; see [`column_counts_into`].
///
/// # Errors
/// As [`column_counts_into`].
pub fn column_counts(
    weights: &[f32],
    rows: usize,
    cols: usize,
    samples_per_column: usize,
    scheme: Scheme,
    seed: u64,
) -> Result<ColumnCounts, SamplingError> {
    let mut q = vec![0; weights.len()];
    let summaries = column_counts_into(
        weights,
        rows,
        cols,
        samples_per_column,
        scheme,
        seed,
        &mut q,
    )?;
    Ok(ColumnCounts {
        q,
        rows,
        cols,
        summaries,
    })
}

/// Per-column counts of a row-major `[rows, cols]` matrix, written to `q` (same shape):
/// column `c` is what [`super::row_counts`] gives row `c` of the transpose, to the bit.
/// Column blocks run in parallel (rayon); the result does not depend on the threads.
///
/// An error names the first bad column's weight by its index in `weights`, and a scale
/// error names the column as its `row` (the group: an output neuron).
///
/// # Errors
/// [`SamplingError::ShapeMismatch`] when `rows · cols != weights.len()`,
/// [`SamplingError::EmptyWeights`] when either is 0, [`SamplingError::TooManyRows`] for
/// more than `2^32` columns (groups), otherwise as [`super::sample_counts_into`].
pub fn column_counts_into(
    weights: &[f32],
    rows: usize,
    cols: usize,
    samples_per_column: usize,
    scheme: Scheme,
    seed: u64,
    q: &mut [i32],
) -> Result<Vec<Summary>, SamplingError> {
    check_matrix(weights, (rows, cols), cols, samples_per_column, q.len())?;
    let jittered = match scheme {
        // The lanes count rows in i32.
        _ if rows >= i32::MAX as usize => {
            return transposed_row_counts(weights, rows, cols, samples_per_column, scheme, seed, q);
        }
        Scheme::Jittered => true,
        Scheme::Systematic => false,
        Scheme::Iid | Scheme::LowDiscrepancy => {
            return transposed_row_counts(weights, rows, cols, samples_per_column, scheme, seed, q);
        }
    };
    let stream = scheme.stream(seed);
    let out = Output(q.as_mut_ptr());
    // Wide blocks, so that each row's part is long and read in order (a row of a block
    // is often on its own page): one per thread where they fit (at 784 × 300, one per
    // thread ran in half the time of two).
    let threads = rayon::current_num_threads();
    let block_columns = cols
        .div_ceil(threads)
        .next_multiple_of(LANES)
        .clamp(MIN_BLOCK_COLUMNS, MAX_BLOCK_COLUMNS);
    let blocks = cols.div_ceil(block_columns);
    let min_blocks = MIN_TASK_WEIGHTS.div_ceil(rows * block_columns).max(1);
    let summaries: Vec<Vec<Result<Summary, SamplingError>>> = (0..blocks)
        .into_par_iter()
        .with_min_len(min_blocks)
        .map(|block| {
            let first = block * block_columns;
            let block = Block {
                weights,
                rows,
                cols,
                first,
                width: block_columns.min(cols - first),
            };
            block.sample(samples_per_column, stream, jittered, &out)
        })
        .collect();
    summaries.into_iter().flatten().collect()
}

/// `q`'s storage, written by every column block at its own columns only.
struct Output(*mut i32);

// SAFETY: the blocks write disjoint sets of elements (their own columns) of one live
// `&mut [i32]` that outlives the parallel loop, and nothing reads it meanwhile.
unsafe impl Sync for Output {}

/// Up to [`MAX_BLOCK_COLUMNS`] neighbouring columns `first..first + width` of the matrix.
struct Block<'a> {
    weights: &'a [f32],
    rows: usize,
    cols: usize,
    first: usize,
    width: usize,
}

/// What the first two passes find for one column: its scan, or that it is all zero.
type ColumnScan = Result<Option<Scan>, SamplingError>;

impl Block<'_> {
    /// Row `j`'s values in this block's columns.
    #[inline(always)]
    fn row(&self, j: usize) -> &[f32] {
        let start = j * self.cols + self.first;
        &self.weights[start..start + self.width]
    }

    /// The counts of this block's columns, written to `out`, and their summaries.
    fn sample(
        &self,
        samples: usize,
        stream: CounterHash,
        jittered: bool,
        out: &Output,
    ) -> Vec<Result<Summary, SamplingError>> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, as just checked; that is the only requirement
            // of the `target_feature` function.
            return unsafe { self.sample_avx2(samples, stream, jittered, out) };
        }
        self.sample_body::<false>(samples, stream, jittered, out)
    }

    /// [`Block::sample`] compiled for AVX2 (the lanes' 32- and 64-bit integer arithmetic,
    /// the encoding and the hash vectorise); the same integers as the portable build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sample_avx2(
        &self,
        samples: usize,
        stream: CounterHash,
        jittered: bool,
        out: &Output,
    ) -> Vec<Result<Summary, SamplingError>> {
        self.sample_body::<true>(samples, stream, jittered, out)
    }

    #[inline(always)]
    fn sample_body<const AVX2: bool>(
        &self,
        samples: usize,
        stream: CounterHash,
        jittered: bool,
        out: &Output,
    ) -> Vec<Result<Summary, SamplingError>> {
        let scans = self.scan();
        let summaries: Vec<Result<Summary, SamplingError>> = scans
            .iter()
            .enumerate()
            .map(|(l, scan)| match scan {
                // `in_row` names the group in a scale error.
                Ok(Some(scan)) => {
                    super::summary(scan, samples).map_err(|e| e.in_row(self.first + l, 0))
                }
                Ok(None) => Ok(all_zero_summary(samples)),
                Err(error) => Err(error.clone()),
            })
            .collect();
        if summaries.iter().any(Result::is_err) {
            return summaries;
        }
        let mut lanes: Vec<Lanes> = (0..self.width.div_ceil(LANES))
            .map(|_| Lanes::default())
            .collect();
        for (c, (scan, summary)) in scans.iter().zip(&summaries).enumerate() {
            let lanes = &mut lanes[c / LANES];
            let l = c % LANES;
            let key = stream.derive((self.first + c) as u32);
            // Only a column with a summary has counts; the others stay 0 (`n = 0`).
            if let (Ok(Some(scan)), Ok(_)) = (scan, summary) {
                let (multiplier, shift) = ToSamples::new(samples, scan.fixed.total).parts();
                lanes.pow[l] = scan.fixed.pow();
                // rows < i32::MAX here.
                lanes.last[l] = scan.last_nonzero as i32;
                lanes.n[l] = samples as i32;
                lanes.multiplier[l] = multiplier;
                lanes.shift[l] = u64::from(shift);
            }
            [lanes.key0[l], lanes.key1[l]] = key.key;
            lanes.u[l] = key.u32_at(0);
        }
        if jittered {
            self.stratified::<AVX2, true>(&mut lanes, out);
        } else {
            self.stratified::<AVX2, false>(&mut lanes, out);
        }
        summaries
    }

    /// Per column: the `f64` estimate of `S` in the row sampler's order, the last non-zero
    /// weight, then the exact fixed-point total (as [`super::scan`] of the column). Both
    /// passes read whole rows of the block, the columns' sums side by side.
    #[inline(always)]
    fn scan(&self) -> Vec<ColumnScan> {
        let width = self.width;
        // acc[slot · width + c]: the row sampler's eight accumulators, slot-major.
        let mut acc = vec![0.0f64; 8 * width];
        let whole = self.rows - self.rows % 8;
        for j in 0..self.rows {
            let slot = if j < whole { j % 8 } else { 0 };
            let acc = &mut acc[slot * width..(slot + 1) * width];
            for (a, &w) in acc.iter_mut().zip(self.row(j)) {
                *a += f64::from(w.abs());
            }
        }
        let estimates: Vec<f64> = (0..width)
            .map(|c| {
                let slots: [f64; 8] = std::array::from_fn(|slot| acc[slot * width + c]);
                slots.iter().sum()
            })
            .collect();
        // A column that is all zero or holds a NaN or infinity has no scale: any finite one
        // keeps the arithmetic below defined (its sums are not used).
        let pows: Vec<f64> = estimates
            .iter()
            .map(|&e| {
                if e.is_finite() && e > 0.0 {
                    Fixed::pow_for(e)
                } else {
                    1.0
                }
            })
            .collect();
        // The exact totals; per 4096 rows the 64-bit sums cannot overflow (as in `Fixed::new`).
        let mut z_total = vec![0i128; width];
        let (mut hi_sum, mut lo_sum) = (vec![0u64; width], vec![0i64; width]);
        let mut last = vec![0; width];
        for start in (0..self.rows).step_by(4096) {
            hi_sum.fill(0);
            lo_sum.fill(0);
            for j in start..self.rows.min(start + 4096) {
                let sums = hi_sum.iter_mut().zip(&mut lo_sum).zip(&mut last);
                for ((((hs, ls), last), &w), &pow) in sums.zip(self.row(j)).zip(&pows) {
                    let (hi, lo) = encode(w, pow);
                    // Exact for a finite column; wrapping only for one that will be refused.
                    *hs = hs.wrapping_add(hi);
                    *ls = ls.wrapping_add(lo);
                    // j grows: the last non-zero is the largest j with w ≠ 0 (an
                    // unconditional store, where a select becomes a slow masked store).
                    *last = (*last).max(j * usize::from(w != 0.0));
                }
            }
            for ((z, &hs), &ls) in z_total.iter_mut().zip(&hi_sum).zip(&lo_sum) {
                *z = z.wrapping_add(Fixed::z_of(hs, ls));
            }
        }
        (0..width)
            .map(|c| {
                if !estimates[c].is_finite() {
                    let j = (0..self.rows)
                        .find(|&j| !self.row(j)[c].is_finite())
                        .unwrap_or(0);
                    let index = j * self.cols + self.first + c;
                    return Err(SamplingError::NonFiniteWeight {
                        index,
                        value: self.weights[index],
                    });
                }
                if estimates[c] == 0.0 {
                    return Ok(None);
                }
                Ok(Some(Scan {
                    last_nonzero: last[c],
                    fixed: Fixed::from_z_total(pows[c], z_total[c]),
                }))
            })
            .collect()
    }

    /// The closed form of the stratified schemes down the block's columns, [`LANES`] at a
    /// time (the last lanes padded with zero weights, which have `n = 0`); see
    /// [`Lanes::row`]. `AVX2` only where the CPU has it.
    #[inline(always)]
    fn stratified<const AVX2: bool, const JITTERED: bool>(
        &self,
        lanes: &mut [Lanes],
        out: &Output,
    ) {
        let full = self.width / LANES;
        let (mut w_tail, mut q_tail) = ([0.0f32; LANES], [0i32; LANES]);
        for j in 0..self.rows {
            let row = self.row(j);
            // SAFETY: row j, columns first..first + width of the [rows, cols] output: in
            // bounds, and written by this block alone (see `Output`).
            let q_row = unsafe {
                std::slice::from_raw_parts_mut(out.0.add(j * self.cols + self.first), self.width)
            };
            for (g, lanes) in lanes.iter_mut().enumerate() {
                let columns = g * LANES..(g * LANES + LANES).min(self.width);
                let (w, q) = if g < full {
                    (&row[columns.clone()], &mut q_row[columns.clone()])
                } else {
                    // The last, narrower group: padded with zero weights.
                    w_tail[..columns.len()].copy_from_slice(&row[columns.clone()]);
                    (&w_tail[..], &mut q_tail[..])
                };
                let w: &[f32; LANES] = w.try_into().expect("LANES weights");
                let q: &mut [i32; LANES] = q.try_into().expect("LANES counts");
                // rows < i32::MAX here.
                #[cfg(target_arch = "x86_64")]
                if AVX2 {
                    // SAFETY: `AVX2` is true only under `sample_avx2`, called only where
                    // the CPU supports AVX2.
                    unsafe { lanes.row_avx2::<JITTERED>(j as i32, w, q) };
                } else {
                    lanes.row::<JITTERED>(j as i32, w, q);
                }
                #[cfg(not(target_arch = "x86_64"))]
                lanes.row::<JITTERED>(j as i32, w, q);
                if g >= full {
                    q_row[columns.clone()].copy_from_slice(&q_tail[..columns.len()]);
                }
            }
        }
    }
}

/// The state of [`LANES`] columns in the stratified pass, one array per quantity so that
/// each step is one loop over the lanes, which vectorises.
struct Lanes {
    /// `2^E` of each column.
    pow: [f64; LANES],
    /// The running fixed-point sums (`l` in `[0, 2^40)`).
    h: [u64; LANES],
    l: [u64; LANES],
    /// `Y_j ↦ T_j`: `T_j = high_product(Y_j << shift, multiplier)`.
    multiplier: [u64; LANES],
    shift: [u64; LANES],
    /// The last non-zero weight: from there on `F = N`.
    last: [i32; LANES],
    /// `N`, or 0 for a column without counts (all zero, or a padded lane).
    n: [i32; LANES],
    /// `F(T_{j−1})`.
    below: [i32; LANES],
    /// The column's stream key, word by word (jittered), and its `u_0` (systematic).
    key0: [u32; LANES],
    key1: [u32; LANES],
    u: [u32; LANES],
}

impl Default for Lanes {
    fn default() -> Self {
        // A column without counts has n = 0 and last = 0: F = 0 on every row.
        let (multiplier, shift) = ToSamples::new(1, 1 << 60).parts();
        Self {
            pow: [1.0; LANES],
            h: [0; LANES],
            l: [0; LANES],
            multiplier: [multiplier; LANES],
            shift: [u64::from(shift); LANES],
            last: [0; LANES],
            n: [0; LANES],
            below: [0; LANES],
            key0: [0; LANES],
            key1: [0; LANES],
            u: [0; LANES],
        }
    }
}

impl Lanes {
    /// The counts of row `j` (weights `w`) in every lane, written to `q`: `c_j = F(T_j) −
    /// F(T_{j−1})`, `F(T) = ⌊T⌋ + [u_⌊T⌋ < T − ⌊T⌋]`, `F = N` from the last non-zero weight
    /// on; signed as `w`.
    #[inline(always)]
    fn row<const JITTERED: bool>(&mut self, j: i32, w: &[f32; LANES], q: &mut [i32; LANES]) {
        let mut t = [0u64; LANES];
        for l in 0..LANES {
            let (hi, lo) = encode(w[l], self.pow[l]);
            let y = prefix_step(&mut self.h[l], &mut self.l[l], hi, lo);
            t[l] = high_product(y << self.shift[l], self.multiplier[l]);
        }
        let k: [u32; LANES] = std::array::from_fn(|l| (t[l] >> 32) as u32);
        let mut u = self.u;
        if JITTERED {
            for l in 0..LANES {
                u[l] = hash([self.key0[l], self.key1[l]], k[l]);
            }
        }
        for l in 0..LANES {
            let below = if j >= self.last[l] {
                self.n[l]
            } else {
                k[l] as i32 + i32::from(u[l] < t[l] as u32)
            };
            q[l] = signed(w[l], below - self.below[l]);
            self.below[l] = below;
        }
    }

    /// [`Lanes::row`] in AVX2 registers: the same integers, step for step (the encoding and
    /// prefix sums in two halves of four 64-bit lanes, `T` from four 32 × 32 → 64 products
    /// as in [`high_product`], the hash and the counts in eight 32-bit lanes).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn row_avx2<const JITTERED: bool>(
        &mut self,
        j: i32,
        w: &[f32; LANES],
        q: &mut [i32; LANES],
    ) {
        use std::arch::x86_64::*;
        // SAFETY (all loads and stores): each array holds LANES = 8 elements, read or
        // written as two 4 × 64-bit or one 8 × 32-bit unaligned vector.
        unsafe {
            let wv = _mm256_loadu_ps(w.as_ptr());
            let abs = _mm256_and_ps(wv, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)));
            let two52 = _mm256_set1_pd(TWO_52);
            let one_and_half52 = _mm256_set1_pd(ONE_AND_HALF_52);
            let lo_unit = _mm256_set1_pd((1u64 << LO_BITS) as f64);
            let low32 = _mm256_set1_epi64x(0xffff_ffff);
            let mut t = [_mm256_setzero_si256(); 2];
            for (half, t) in t.iter_mut().enumerate() {
                let part = if half == 0 {
                    _mm256_castps256_ps128(abs)
                } else {
                    _mm256_extractf128_ps::<1>(abs)
                };
                // encode: x = |w| 2^E, hi = round(x), lo = round((x − hi) 2^40).
                let x = _mm256_mul_pd(
                    _mm256_cvtps_pd(part),
                    _mm256_loadu_pd(self.pow.as_ptr().add(4 * half)),
                );
                let shifted = _mm256_add_pd(x, two52);
                let hi = _mm256_sub_epi64(_mm256_castpd_si256(shifted), _mm256_castpd_si256(two52));
                let rest = _mm256_mul_pd(_mm256_sub_pd(x, _mm256_sub_pd(shifted, two52)), lo_unit);
                let lo = _mm256_sub_epi64(
                    _mm256_castpd_si256(_mm256_add_pd(rest, one_and_half52)),
                    _mm256_castpd_si256(one_and_half52),
                );
                // prefix_step.
                let h_at = self.h.as_mut_ptr().add(4 * half).cast::<__m256i>();
                let l_at = self.l.as_mut_ptr().add(4 * half).cast::<__m256i>();
                let hs = _mm256_add_epi64(_mm256_loadu_si256(h_at), hi);
                let ls = _mm256_add_epi64(_mm256_loadu_si256(l_at), lo);
                let biased = _mm256_add_epi64(ls, _mm256_set1_epi64x(1 << LO_BITS));
                let y = _mm256_sub_epi64(
                    _mm256_add_epi64(
                        _mm256_slli_epi64::<{ (LO_BITS - Y_SHIFT) as i32 }>(hs),
                        _mm256_srli_epi64::<{ Y_SHIFT as i32 }>(biased),
                    ),
                    _mm256_set1_epi64x(1 << (LO_BITS - Y_SHIFT)),
                );
                let h = _mm256_sub_epi64(
                    _mm256_add_epi64(hs, _mm256_srli_epi64::<{ LO_BITS as i32 }>(biased)),
                    _mm256_set1_epi64x(1),
                );
                _mm256_storeu_si256(h_at, h);
                let l_mask = _mm256_set1_epi64x((1 << LO_BITS) - 1);
                _mm256_storeu_si256(l_at, _mm256_and_si256(ls, l_mask));
                // T = high_product(y << shift, multiplier).
                let shift = _mm256_loadu_si256(self.shift.as_ptr().add(4 * half).cast());
                let r = _mm256_loadu_si256(self.multiplier.as_ptr().add(4 * half).cast());
                let v = _mm256_sllv_epi64(y, shift);
                let (vh, rh) = (_mm256_srli_epi64::<32>(v), _mm256_srli_epi64::<32>(r));
                let ll = _mm256_mul_epu32(v, r);
                let lh = _mm256_mul_epu32(v, rh);
                let hl = _mm256_mul_epu32(vh, r);
                let hh = _mm256_mul_epu32(vh, rh);
                let mid = _mm256_add_epi64(
                    _mm256_srli_epi64::<32>(ll),
                    _mm256_add_epi64(_mm256_and_si256(lh, low32), _mm256_and_si256(hl, low32)),
                );
                *t = _mm256_add_epi64(
                    _mm256_add_epi64(hh, _mm256_srli_epi64::<32>(mid)),
                    _mm256_add_epi64(_mm256_srli_epi64::<32>(lh), _mm256_srli_epi64::<32>(hl)),
                );
            }
            // Low dwords (fractions) to the lower 128 bits, high dwords (⌊T⌋) to the upper.
            let gather = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
            let (p0, p1) = (
                _mm256_permutevar8x32_epi32(t[0], gather),
                _mm256_permutevar8x32_epi32(t[1], gather),
            );
            let frac = _mm256_permute2x128_si256::<0x20>(p0, p1);
            let k = _mm256_permute2x128_si256::<0x31>(p0, p1);
            let u = if JITTERED {
                let mix = |mut x: __m256i| {
                    x = _mm256_xor_si256(x, _mm256_srli_epi32::<16>(x));
                    x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7feb_352d));
                    x = _mm256_xor_si256(x, _mm256_srli_epi32::<15>(x));
                    x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x846c_a68b_u32 as i32));
                    _mm256_xor_si256(x, _mm256_srli_epi32::<16>(x))
                };
                let key0 = _mm256_loadu_si256(self.key0.as_ptr().cast());
                let key1 = _mm256_loadu_si256(self.key1.as_ptr().cast());
                mix(_mm256_xor_si256(mix(_mm256_xor_si256(k, key0)), key1))
            } else {
                _mm256_loadu_si256(self.u.as_ptr().cast())
            };
            // [u < frac], unsigned: −1 where true, so F = k − mask.
            let sign = _mm256_set1_epi32(i32::MIN);
            let below_mask =
                _mm256_cmpgt_epi32(_mm256_xor_si256(frac, sign), _mm256_xor_si256(u, sign));
            let stratified = _mm256_sub_epi32(k, below_mask);
            // j ≥ last ⇔ j + 1 > last.
            let last = _mm256_loadu_si256(self.last.as_ptr().cast());
            let done = _mm256_cmpgt_epi32(_mm256_set1_epi32(j + 1), last);
            let n = _mm256_loadu_si256(self.n.as_ptr().cast());
            let below = _mm256_blendv_epi8(stratified, n, done);
            let before = _mm256_loadu_si256(self.below.as_ptr().cast());
            _mm256_storeu_si256(self.below.as_mut_ptr().cast(), below);
            let count = _mm256_sub_epi32(below, before);
            // signed(w, count).
            let s = _mm256_srai_epi32::<31>(_mm256_castps_si256(wv));
            let signed = _mm256_sub_epi32(_mm256_xor_si256(count, s), s);
            _mm256_storeu_si256(q.as_mut_ptr().cast(), signed);
        }
    }
}

/// The schemes without a closed form: the rows of the transpose, transposed back.
fn transposed_row_counts(
    weights: &[f32],
    rows: usize,
    cols: usize,
    samples: usize,
    scheme: Scheme,
    seed: u64,
    q: &mut [i32],
) -> Result<Vec<Summary>, SamplingError> {
    let transposed: Vec<f32> = (0..cols)
        .flat_map(|c| (0..rows).map(move |j| weights[j * cols + c]))
        .collect();
    let mut counts = vec![0; q.len()];
    let summaries = row_counts_into(&transposed, cols, rows, samples, scheme, seed, &mut counts)
        .map_err(|error| match error {
            // The weight's index in `weights`, not in the transpose.
            SamplingError::NonFiniteWeight { index, value } => SamplingError::NonFiniteWeight {
                index: (index % rows) * cols + index / rows,
                value,
            },
            other => other,
        })?;
    for (c, column) in counts.chunks(rows).enumerate() {
        for (j, &count) in column.iter().enumerate() {
            q[j * cols + c] = count;
        }
    }
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::row_counts;

    fn transpose<T: Copy>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
        (0..cols)
            .flat_map(|c| (0..rows).map(move |j| m[j * cols + c]))
            .collect()
    }

    /// Heavy-tailed weights with zeros, negative zeros, an all-zero column (1) and columns
    /// whose last rows are zero.
    fn weights(rows: usize, cols: usize, salt: u64) -> Vec<f32> {
        let h = CounterHash::from_seed(salt);
        (0..rows * cols)
            .map(|i| {
                let (j, c) = (i / cols, i % cols);
                let u = h.f32_at(i as u32);
                match (c, j % 7) {
                    (1, _) => 0.0,
                    (_, 3) => -0.0,
                    (_, 5) => 0.0,
                    _ if c % 3 == 2 && j + 4 > rows => 0.0,
                    _ => (u - 0.5) * (1.0 + 30.0 * u.powi(8)),
                }
            })
            .collect()
    }

    #[test]
    fn columns_equal_the_rows_of_the_transpose() {
        let schemes = [
            Scheme::Jittered,
            Scheme::Systematic,
            Scheme::Iid,
            Scheme::LowDiscrepancy,
        ];
        // Full and partial blocks of lanes, short and long columns (past 4096 rows, and
        // with and without a partial group of eight).
        for (rows, cols) in [(1, 1), (7, 3), (13, 8), (64, 19), (300, 17), (4103, 9)] {
            let w = weights(rows, cols, (rows * cols) as u64);
            let t = transpose(&w, rows, cols);
            for scheme in schemes {
                for (samples, seed) in [(1, 0), (rows.max(2) / 2, 5), (4 * rows + 3, 99)] {
                    let by_rows = row_counts(&t, cols, rows, samples, scheme, seed).unwrap();
                    let by_columns = column_counts(&w, rows, cols, samples, scheme, seed).unwrap();
                    assert_eq!(
                        by_columns.q,
                        transpose(&by_rows.q, cols, rows),
                        "{rows}×{cols}, {scheme:?}, N = {samples}, seed {seed}"
                    );
                    assert_eq!(by_columns.summaries, by_rows.summaries);
                }
            }
        }
    }

    #[test]
    fn portable_and_dispatched_blocks_agree() {
        // On AVX2 machines a block runs the AVX2 lanes; the portable lanes must give the
        // same counts. A full block of lanes and a padded one.
        let (rows, cols) = (301, 21);
        let w = weights(rows, cols, 3);
        for (scheme, jittered) in [(Scheme::Jittered, true), (Scheme::Systematic, false)] {
            for samples in [1, 150, 4000] {
                let (mut portable, mut dispatched) = (vec![0; w.len()], vec![0; w.len()]);
                let block = Block {
                    weights: &w,
                    rows,
                    cols,
                    first: 0,
                    width: cols,
                };
                let stream = scheme.stream(11);
                let a = block.sample_body::<false>(
                    samples,
                    stream,
                    jittered,
                    &Output(portable.as_mut_ptr()),
                );
                let b = block.sample(samples, stream, jittered, &Output(dispatched.as_mut_ptr()));
                assert_eq!(portable, dispatched, "{scheme:?}, N = {samples}");
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn column_counts_by_hand() {
        // Column 0: w = (1, 1, 2), N = 4: systematic gives (1, 1, 2) exactly; column 1 is
        // all zero; column 2 = (0, -3, 1), N = 4: (0, -3, 1).
        let w = [1.0f32, 0.0, 0.0, 1.0, 0.0, -3.0, 2.0, 0.0, 1.0];
        let c = column_counts(&w, 3, 3, 4, Scheme::Systematic, 7).unwrap();
        assert_eq!(c.q, [1, 0, 0, 1, 0, -3, 2, 0, 1]);
        assert_eq!(c.summaries[0].scale, 1.0);
        assert!(c.summaries[1].all_zero && c.summaries[1].scale == 0.0);
        assert_eq!(c.summaries[2].scale, 1.0);
    }

    #[test]
    fn bad_input_names_the_weight_in_the_matrix() {
        let mut w = vec![1.0f32; 6 * 10];
        w[4 * 10 + 9] = f32::NAN;
        for scheme in [Scheme::Jittered, Scheme::Iid] {
            assert!(matches!(
                column_counts(&w, 6, 10, 3, scheme, 0),
                Err(SamplingError::NonFiniteWeight { index: 49, .. })
            ));
        }
        let mut w = vec![1.0f32; 2 * 3];
        w[1] = f32::MAX;
        w[4] = f32::MAX;
        let err = column_counts(&w, 2, 3, 1, Scheme::Systematic, 0).unwrap_err();
        assert!(
            matches!(err, SamplingError::ScaleOverflow { row: Some(1), .. }),
            "{err:?}"
        );
        assert!(matches!(
            column_counts(&w, 4, 3, 1, Scheme::Jittered, 0),
            Err(SamplingError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            column_counts(&w, 2, 3, 0, Scheme::Jittered, 0),
            Err(SamplingError::ZeroSamples)
        ));
    }
}
