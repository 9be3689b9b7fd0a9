//! The column sampler on the CPU backends: `column_counts` on the weights in place, writing
//! the counts in their layout (one buffer; sampling the rows of a transposed copy is about as
//! fast but needs three more of the weights' size).

use burn::backend::TensorMetadata;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::TensorData;
use mcnn_sequences::SamplingError;
use mcnn_sequences::counts::column_counts_into;

use super::{HostView, dims2, host_f32};
use crate::column_sampler::{assert_samples, scheme_of};
use crate::probe::{self, Path};

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
    assert_samples(samples);
    let [rows, cols] = dims2(&weight.shape());
    let device = weight.device();
    let mut q = vec![0i32; rows * cols];
    let mut scales = vec![0.0f32; cols];
    let mut status = vec![0i32; cols];
    if rows * cols > 0 {
        let mut copy = None;
        let w = host_f32::<B>(&weight, &mut copy);
        let scheme = scheme_of(systematic);
        match column_counts_into(w, rows, cols, samples as usize, scheme, seed, &mut q) {
            Ok(summaries) => {
                for (scale, summary) in scales.iter_mut().zip(&summaries) {
                    *scale = summary.scale;
                }
            }
            Err(error) => {
                q.fill(0);
                status[refused_column(&error, cols)] = 1;
            }
        }
    }
    (
        B::int_from_data(TensorData::new(q, [rows, cols]), &device),
        B::float_from_data(TensorData::new(scales, [cols]), &device),
        B::int_from_data(TensorData::new(status, [cols]), &device),
    )
}

/// The column an error of `column_counts` names.
fn refused_column(error: &SamplingError, cols: usize) -> usize {
    match *error {
        SamplingError::NonFiniteWeight { index, .. } => index % cols,
        SamplingError::ScaleOverflow { row: Some(c), .. }
        | SamplingError::ScaleUnderflow { row: Some(c), .. } => c,
        // The parameters were checked by `sample_columns`.
        ref other => unreachable!("column sampler: {other}"),
    }
}
