//! Per-row counts: one distribution per row of a row-major `[rows, cols]` matrix (one
//! per output neuron), rows in parallel with rayon.
//!
//! Row `r` draws from [`Scheme::row_stream`]`(seed, r)`, so the result depends on the
//! seed and the row only, not on the number of threads.

use rayon::prelude::*;

use super::{Scheme, Summary, check_matrix, sample_counts_with_stream_into};
use crate::error::SamplingError;

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

/// Per-row counts of a row-major `[rows, cols]` matrix, `samples_per_row` samples in
/// each row, rows in parallel (rayon); written to `q` (same shape as `weights`).
///
/// Row `r` is exactly [`super::sample_counts_with_stream_into`]`(row, samples_per_row,
/// scheme, scheme.row_stream(seed, r), …)`. An error names the first bad row's weight
/// by its index in `weights`, and a scale error names its row.
///
/// # Errors
/// [`SamplingError::ShapeMismatch`] when `rows · cols != weights.len()`,
/// [`SamplingError::EmptyWeights`] when either is 0, [`SamplingError::TooManyRows`] for
/// more than `2^32` rows, otherwise as [`super::sample_counts_into`].
pub fn row_counts_into(
    weights: &[f32],
    rows: usize,
    cols: usize,
    samples_per_row: usize,
    scheme: Scheme,
    seed: u64,
    q: &mut [i32],
) -> Result<Vec<Summary>, SamplingError> {
    check_matrix(weights, (rows, cols), rows, samples_per_row, q.len())?;
    let stream = scheme.stream(seed);
    let results: Vec<Result<Summary, SamplingError>> = weights
        .par_chunks(cols)
        .zip(q.par_chunks_mut(cols))
        .enumerate()
        .map(|(r, (w, q))| {
            // r < 2^32, checked above.
            let row_stream = stream.derive(r as u32);
            sample_counts_with_stream_into(w, samples_per_row, scheme, row_stream, q)
                .map_err(|e| e.in_row(r, cols))
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
    use crate::counts::sample_counts_with_stream;

    #[test]
    fn nonfinite_index_in_rows_is_global() {
        let m = [1.0f32, 1.0, 1.0, f32::NAN];
        assert!(matches!(
            row_counts(&m, 2, 2, 3, Scheme::Jittered, 0),
            Err(SamplingError::NonFiniteWeight { index: 3, .. })
        ));
    }

    #[test]
    fn scale_errors_name_the_row() {
        let m = [1.0f32, 1.0, f32::MAX, f32::MAX, 1.0, 1.0];
        let err = row_counts(&m, 3, 2, 1, Scheme::Systematic, 0).unwrap_err();
        assert!(
            matches!(err, SamplingError::ScaleOverflow { row: Some(1), .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("in row 1"), "{err}");
        let m = [1.0f32, 1.0, 1e-45, 0.0];
        let err = row_counts(&m, 2, 2, 16, Scheme::Systematic, 0).unwrap_err();
        assert!(
            matches!(err, SamplingError::ScaleUnderflow { row: Some(1), .. }),
            "{err:?}"
        );
    }

    #[test]
    fn row_streams_are_derived_in_32_bit() {
        // The documented derivation, spelled out: the per-scheme key, then derive(row).
        let w: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.3).collect();
        let r = row_counts(&w, 3, 4, 9, Scheme::Jittered, 77).unwrap();
        for row in 0..3 {
            let key = crate::counter_hash::CounterHash::from_seed(77)
                .derive(Scheme::Jittered.stream_id())
                .derive(row as u32);
            let single =
                sample_counts_with_stream(&w[row * 4..row * 4 + 4], 9, Scheme::Jittered, key)
                    .unwrap();
            assert_eq!(r.row(row), &single.q[..]);
            assert_eq!(key, Scheme::Jittered.row_stream(77, row as u32));
        }
    }
}
