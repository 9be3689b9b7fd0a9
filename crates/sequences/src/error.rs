//! The one error type of the crate: every bad input is named with its value and what
//! is allowed.
//!
//! ```
//! use mcnn_sequences::{counts::jittered_counts, SamplingError};
//!
//! let err = jittered_counts(&[1.0, f32::NAN], 4, 0).unwrap_err();
//! assert!(matches!(err, SamplingError::NonFiniteWeight { index: 1, .. }));
//! assert!(err.to_string().contains("index 1"));
//! ```

use std::fmt;

/// What went wrong with the arguments of a sampling or sequence function.
///
/// Results that are defined rather than errors: an all-zero weight group (all counts
/// zero, scale zero, [`crate::counts::Summary::all_zero`] set) and a sampler asked for
/// zero samples (an empty vector).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SamplingError {
    /// The number of samples `N` was zero; counts need at least one sample.
    ZeroSamples,
    /// More samples were asked for than the function supports.
    TooManySamples {
        /// The number asked for.
        requested: u64,
        /// The largest number allowed.
        max: u64,
    },
    /// The weight slice (or a row of it) was empty.
    EmptyWeights,
    /// Threshold sampling: a weight of the deterministic head is more than `i32::MAX` times
    /// the scale `τ`, so its count does not fit (the row's magnitudes span more than 2^31,
    /// typically with `N` at least the number of non-zero weights, where `τ` is the smallest).
    HeadCountOverflow {
        /// Index of the weight in the slice passed.
        index: usize,
        /// `|w| / τ`, rounded.
        count: f64,
    },
    /// A weight was NaN or infinite.
    NonFiniteWeight {
        /// Index of the first such weight in the slice passed (row-major for matrices).
        index: usize,
        /// Its value.
        value: f32,
    },
    /// `rows * cols` differs from the length of the weight slice.
    ShapeMismatch {
        /// Length of the weight slice.
        len: usize,
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
    },
    /// An output slice has the wrong length.
    OutputLength {
        /// The length needed.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// `Σ|w| / N` does not fit in an `f32`.
    ScaleOverflow {
        /// `Σ|w|`.
        sum_abs: f64,
        /// The number of samples `N`.
        samples: usize,
        /// The row, for the per-row functions ([`crate::counts::row_counts`]).
        row: Option<usize>,
    },
    /// `Σ|w| / N` is below the smallest normal `f32` (it would round to 0 or lose its
    /// relative precision as a subnormal), although some weight is non-zero.
    ScaleUnderflow {
        /// `Σ|w|`.
        sum_abs: f64,
        /// The number of samples `N`.
        samples: usize,
        /// The row, for the per-row functions ([`crate::counts::row_counts`]).
        row: Option<usize>,
    },
    /// A matrix had more rows (columns, for the column sampler) than per-group streams exist
    /// (they are numbered by a `u32`).
    TooManyRows {
        /// Rows (columns) asked for.
        rows: usize,
        /// The largest number allowed.
        max: u64,
    },
    /// A sample passed to the merge pass was NaN or outside `[0, 1)`.
    SampleOutOfRange {
        /// Its index.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The samples passed to the merge pass were not sorted ascending.
    UnsortedSamples {
        /// Index of the first sample smaller than its predecessor.
        index: usize,
    },
    /// A Sobol' sequence was asked for zero dimensions or more than the table holds.
    DimensionOutOfRange {
        /// Dimensions asked for.
        requested: usize,
        /// The largest number allowed ([`crate::direction_numbers::MAX_DIMENSIONS`]).
        max: usize,
    },
    /// A radical inverse was asked for a base below 2.
    InvalidBase {
        /// The base passed.
        base: u32,
    },
    /// An LFSR was given the all-zero state, which it never leaves.
    ZeroLfsrState,
}

impl SamplingError {
    /// This error of row `row` (of `cols` columns) as the whole matrix sees it: weight
    /// indices become indices into the matrix, and scale errors name the row.
    pub fn in_row(self, row: usize, cols: usize) -> Self {
        match self {
            Self::NonFiniteWeight { index, value } => Self::NonFiniteWeight {
                index: row * cols + index,
                value,
            },
            Self::ScaleOverflow {
                sum_abs, samples, ..
            } => Self::ScaleOverflow {
                sum_abs,
                samples,
                row: Some(row),
            },
            Self::ScaleUnderflow {
                sum_abs, samples, ..
            } => Self::ScaleUnderflow {
                sum_abs,
                samples,
                row: Some(row),
            },
            other => other,
        }
    }
}

impl fmt::Display for SamplingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroSamples => write!(f, "number of samples N is 0; it must be at least 1"),
            Self::TooManySamples { requested, max } => {
                write!(
                    f,
                    "number of samples N is {requested}; at most {max} are supported"
                )
            }
            Self::EmptyWeights => write!(f, "weights are empty; at least one weight is needed"),
            Self::HeadCountOverflow { index, count } => write!(
                f,
                "weight at index {index} is {count:e} times the threshold scale; counts must be at \
                 most {} (fewer samples, or a row whose magnitudes span less than 2^31)",
                i32::MAX
            ),
            Self::NonFiniteWeight { index, value } => {
                write!(
                    f,
                    "weight at index {index} is {value}; weights must be finite"
                )
            }
            Self::ShapeMismatch { len, rows, cols } => write!(
                f,
                "weights have length {len} but rows * cols = {rows} * {cols}; they must be equal"
            ),
            Self::OutputLength { expected, got } => {
                write!(
                    f,
                    "output slice has length {got}; it must have length {expected}"
                )
            }
            Self::ScaleOverflow {
                sum_abs,
                samples,
                row,
            } => write!(
                f,
                "scale Σ|w| / N = {sum_abs} / {samples}{} overflows f32; it must be at most {:e}",
                InRow(*row),
                f32::MAX
            ),
            Self::ScaleUnderflow {
                sum_abs,
                samples,
                row,
            } => write!(
                f,
                "scale Σ|w| / N = {sum_abs:e} / {samples}{} underflows f32; it must be at least \
                 {:e} (the smallest normal f32): scale the weights up or use fewer samples",
                InRow(*row),
                f32::MIN_POSITIVE
            ),
            Self::TooManyRows { rows, max } => {
                write!(
                    f,
                    "number of rows (of columns, for the column sampler: one stream per group) is \
                     {rows}; at most {max} are supported"
                )
            }
            Self::SampleOutOfRange { index, value } => {
                write!(
                    f,
                    "sample at index {index} is {value}; samples must lie in [0, 1)"
                )
            }
            Self::UnsortedSamples { index } => write!(
                f,
                "sample at index {index} is smaller than the one before; samples must be sorted ascending"
            ),
            Self::DimensionOutOfRange { requested, max } => write!(
                f,
                "Sobol' dimensions is {requested}; it must be between 1 and {max}"
            ),
            Self::InvalidBase { base } => {
                write!(f, "radical inverse base is {base}; it must be at least 2")
            }
            Self::ZeroLfsrState => {
                write!(
                    f,
                    "LFSR state is 0; it must be non-zero (0 is a fixed point)"
                )
            }
        }
    }
}

impl std::error::Error for SamplingError {}

/// `" in row r"` for a per-row error, nothing otherwise.
struct InRow(Option<usize>);

impl fmt::Display for InRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(row) => write!(f, " in row {row}"),
            None => Ok(()),
        }
    }
}

/// `Ok` for `n ≤ max`, else [`SamplingError::TooManySamples`]: the one check of a sample
/// count against a limit, shared by the samplers and the counts (with their own limits).
pub(crate) fn check_at_most(n: usize, max: u64) -> Result<(), SamplingError> {
    match u64::try_from(n) {
        Ok(requested) if requested <= max => Ok(()),
        _ => Err(SamplingError::TooManySamples {
            requested: n as u64,
            max,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_parameter_value_and_allowed_range() {
        let cases = [
            (SamplingError::ZeroSamples, "at least 1"),
            (
                SamplingError::HeadCountOverflow {
                    index: 3,
                    count: 5e14,
                },
                "index 3",
            ),
            (
                SamplingError::TooManySamples {
                    requested: 5,
                    max: 4,
                },
                "at most 4",
            ),
            (
                SamplingError::DimensionOutOfRange {
                    requested: 2000,
                    max: 1024,
                },
                "2000",
            ),
            (SamplingError::InvalidBase { base: 1 }, "at least 2"),
            (
                SamplingError::ShapeMismatch {
                    len: 5,
                    rows: 2,
                    cols: 3,
                },
                "2 * 3",
            ),
            (
                SamplingError::ScaleOverflow {
                    sum_abs: 1e300,
                    samples: 4,
                    row: Some(7),
                },
                "in row 7",
            ),
            (
                SamplingError::ScaleUnderflow {
                    sum_abs: 1e-45,
                    samples: 16,
                    row: None,
                },
                "at least 1.1754944e-38",
            ),
            (
                SamplingError::TooManyRows {
                    rows: 1 << 33,
                    max: 1 << 32,
                },
                "at most 4294967296",
            ),
        ];
        for (err, needle) in cases {
            let text = err.to_string();
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }
}
