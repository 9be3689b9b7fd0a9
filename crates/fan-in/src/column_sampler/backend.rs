//! The column sampler as a backend extension: one op, one impl per backend kind.

use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
#[cfg(feature = "wgpu")]
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend, backend_extension};
#[cfg(feature = "wgpu")]
use burn::tensor::{DType, Shape};

/// Per-column counts of a `[rows, cols]` weight on its device: the counts, scales and status
/// of [`sample_columns`](crate::sample_columns), which validates the parameters first and is
/// what callers use.
///
/// `samples` is `N` (in `1..=i32::MAX`), `systematic` picks [`Scheme::Systematic`] over
/// [`Scheme::Jittered`], `seed` the stream ([`Scheme::stream`]). Returns the counts `[rows,
/// cols]` (i32), the scales `[cols]` (f32) and a status `[cols]` (i32, 1 where the column was
/// refused: a NaN or infinite weight, or a scale outside the normal `f32` range). The CPU
/// backends run `mcnn_sequences::counts::column_counts`; the CubeCL backend one kernel with
/// the same integers; `Autodiff` samples the values (sampling has no gradient).
///
/// # Panics
/// If `samples` is 0 or above `i32::MAX`. The GPU implementation needs 64-bit integers and
/// floats ([`runs_column_kernel`](crate::runs_column_kernel)).
///
/// [`Scheme::Systematic`]: mcnn_sequences::counts::Scheme::Systematic
/// [`Scheme::Jittered`]: mcnn_sequences::counts::Scheme::Jittered
/// [`Scheme::stream`]: mcnn_sequences::counts::Scheme::stream
#[backend_extension(
    Autodiff,
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu")
)]
pub trait ColumnSamplerBackend: Backend {
    /// `(counts [rows, cols], scales [cols], status [cols])`.
    #[fusion(meta = sample_columns_meta)]
    fn sample_columns(
        weight: FloatTensor<Self>,
        samples: u32,
        systematic: bool,
        seed: u64,
    ) -> (IntTensor<Self>, FloatTensor<Self>, IntTensor<Self>);
}

/// The outputs' shapes and dtypes, for Fusion.
#[cfg(feature = "wgpu")]
fn sample_columns_meta(
    weight: &TensorSpec,
    _samples: &u32,
    _systematic: &bool,
    _seed: &u64,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let cols = Shape::new([weight.shape[1]]);
    (
        TensorSpec::new(weight.shape.clone(), DType::I32),
        TensorSpec::new(cols.clone(), DType::F32),
        TensorSpec::new(cols, DType::I32),
    )
}

impl<B: ColumnSamplerBackend, C: CheckpointStrategy> ColumnSamplerBackend for Autodiff<B, C> {
    fn sample_columns(
        weight: FloatTensor<Self>,
        samples: u32,
        systematic: bool,
        seed: u64,
    ) -> (IntTensor<Self>, FloatTensor<Self>, IntTensor<Self>) {
        let (counts, scales, status) =
            B::sample_columns(Self::inner(weight), samples, systematic, seed);
        (counts, Self::from_inner(scales), status)
    }
}

/// The CPU backends share one implementation.
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_column_sampler {
    ($backend:ty) => {
        impl ColumnSamplerBackend for $backend {
            fn sample_columns(
                weight: FloatTensor<Self>,
                samples: u32,
                systematic: bool,
                seed: u64,
            ) -> (IntTensor<Self>, FloatTensor<Self>, IntTensor<Self>) {
                crate::cpu::column_sampler::sample_columns::<Self>(
                    weight, samples, systematic, seed,
                )
            }
        }
    };
}

#[cfg(feature = "flex")]
cpu_column_sampler!(burn::backend::Flex);

#[cfg(feature = "ndarray")]
cpu_column_sampler!(burn::backend::NdArray);
