//! The column sampler on the CPU backends: the rows of the transposed weights sampled with
//! `row_counts`, which gives the counts of `column_counts` to the bit and runs faster on the
//! CPU (784 × 300: about 0.5–0.6 ms plus 0.1 ms of transposes against 0.7–1.0 ms for the
//! columns in place; `cargo bench -p mcnn-sequences --bench counts`, docs/RESULTS.md).

use burn::backend::TensorMetadata;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::TensorData;
use mcnn_sequences::SamplingError;
use mcnn_sequences::counts::row_counts_into;

use super::{HostView, dims2, host_f32};
use crate::column_sampler::scheme_of;
use crate::probe::{self, Path};
use crate::transpose;

/// [`ColumnSamplerBackend::sample_columns`](crate::ColumnSamplerBackend::sample_columns) on
/// the host. The CPU sampler stops at the first refused column: it alone gets status 1, and
/// every count and scale is 0.
pub(crate) fn sample_columns<B: HostView>(
    weight: FloatTensor<B>,
    samples: u32,
    systematic: bool,
    seed: u64,
) -> (IntTensor<B>, FloatTensor<B>, IntTensor<B>) {
    probe::hit(Path::CpuColumnSampler);
    let [rows, cols] = dims2(&weight.shape());
    let device = weight.device();
    let mut q = vec![0i32; rows * cols];
    let mut scales = vec![0.0f32; cols];
    let mut status = vec![0i32; cols];
    if rows * cols > 0 {
        let mut copy = None;
        let rows_of_columns = transpose(host_f32::<B>(&weight, &mut copy), rows, cols);
        let scheme = scheme_of(systematic);
        let mut q_t = vec![0i32; rows * cols];
        let sampled = row_counts_into(
            &rows_of_columns,
            cols,
            rows,
            samples as usize,
            scheme,
            seed,
            &mut q_t,
        );
        match sampled {
            Ok(summaries) => {
                q = transpose_ints(&q_t, cols, rows);
                for (scale, summary) in scales.iter_mut().zip(&summaries) {
                    *scale = summary.scale;
                }
            }
            Err(error) => status[refused_column(&error, rows)] = 1,
        }
    }
    (
        B::int_from_data(TensorData::new(q, [rows, cols]), &device),
        B::float_from_data(TensorData::new(scales, [cols]), &device),
        B::int_from_data(TensorData::new(status, [cols]), &device),
    )
}

/// [`transpose`] of integers, moved as the bits of `f32`s (a transpose only moves them).
fn transpose_ints(values: &[i32], rows: usize, cols: usize) -> Vec<i32> {
    let bits: Vec<f32> = values.iter().map(|&v| f32::from_bits(v as u32)).collect();
    transpose(&bits, rows, cols)
        .into_iter()
        .map(|v| v.to_bits() as i32)
        .collect()
}

/// The column an error of `row_counts` on the transposed weights (`rows` per column) names.
fn refused_column(error: &SamplingError, rows: usize) -> usize {
    match *error {
        SamplingError::NonFiniteWeight { index, .. } => index / rows,
        SamplingError::ScaleOverflow { row: Some(c), .. }
        | SamplingError::ScaleUnderflow { row: Some(c), .. } => c,
        // The parameters were checked by `sample_columns`.
        ref other => unreachable!("column sampler: {other}"),
    }
}
