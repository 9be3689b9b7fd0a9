//! Sampling a weight's columns where the weight lives: the per-neuron counts of Monte Carlo
//! quantization for Burn's `Linear` layout `[d_input, d_output]` (a column per output
//! neuron), on the CPU backends and in one CubeCL kernel, with no copy of the weights to the
//! host on the GPU.
//!
//! Column `c` draws `N` samples from `|w[.., c]| / Σ|w[.., c]|` with the stratified schemes of
//! `mcnn_sequences` (jittered or systematic, counter-hash randomness): the counts and scale
//! of column `c` are exactly those of `mcnn_sequences::counts::column_counts` (row `c` of the
//! transpose for `row_counts`), on every backend, for the same seed (section 2 of
//! `docs/algorithms.md`).
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::tensor::{Device, Tensor};
//! use mcnn_fan_in::sample_columns;
//! use mcnn_sequences::counts::Scheme;
//!
//! let device = Device::flex();
//! // Two neurons (columns) of three inputs, four samples each.
//! let w = Tensor::<2>::from_floats([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0]], &device);
//! let sample = sample_columns(w, 4, Scheme::Systematic, 7);
//! sample.check().unwrap();
//! let q = sample.counts.into_data().convert::<i32>().try_to_vec::<i32>().unwrap();
//! assert_eq!(q, vec![1, 0, 1, 0, 2, 0]); // the second column is all zero
//! assert_eq!(sample.scales.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
//! # }
//! ```

mod backend;

use burn::backend::Dispatch;
use burn::tensor::{DType, Device, Int, Tensor};
use mcnn_backends::BackendKind;
use mcnn_sequences::SamplingError;
use mcnn_sequences::counts::{Scheme, row_counts};

use crate::FanInError;
pub use backend::ColumnSamplerBackend;

/// The counts of every column of a weight, on its device; see [`sample_columns`].
#[derive(Clone, Debug)]
pub struct ColumnSample {
    /// The signed counts `q`, `[rows, cols]` (i32), the weight's layout: `w ≈ scales · q`
    /// column by column, `Σ_j |q[j, c]| = N` for a non-zero column.
    pub counts: Tensor<2, Int>,
    /// One scale `S/N` per column, `[cols]` (0 for an all-zero column).
    pub scales: Tensor<1>,
    /// 1 where a column was refused, `[cols]` (read by [`ColumnSample::check`]).
    status: Tensor<1, Int>,
    /// What was sampled, to name a refused column's error.
    weight: Tensor<2>,
    samples: usize,
    scheme: Scheme,
    seed: u64,
}

/// The per-column counts of `weight` (`[rows, cols]`), `samples` (`N`) per column, drawn on
/// the weight's device: column `c` as `mcnn_sequences::counts::column_counts` samples it (the
/// same counts and scales, to the bit, on every backend for the same seed). Nothing is read
/// back: a bad weight (NaN, infinity, a scale outside the normal `f32` range) is reported by
/// [`ColumnSample::check`], which reads one status per column.
///
/// # Panics
/// On a bad parameter, naming it; see [`try_sample_columns`].
///
/// # Shapes
/// - weight: `[rows, cols]`
/// - counts: `[rows, cols]`, scales: `[cols]`
pub fn sample_columns(
    weight: Tensor<2>,
    samples: usize,
    scheme: Scheme,
    seed: u64,
) -> ColumnSample {
    try_sample_columns(weight, samples, scheme, seed).unwrap_or_else(|error| panic!("{error}"))
}

/// [`sample_columns`] returning an error for a bad parameter: `samples` outside
/// `1..=i32::MAX`, a scheme other than [`Scheme::Jittered`] and [`Scheme::Systematic`] (the
/// others sort their samples, which a per-column kernel does not), an empty weight, or a GPU
/// that cannot run the kernel (see [`runs_column_kernel`]).
pub fn try_sample_columns(
    weight: Tensor<2>,
    samples: usize,
    scheme: Scheme,
    seed: u64,
) -> Result<ColumnSample, FanInError> {
    if samples == 0 || samples > i32::MAX as usize {
        return Err(FanInError::new(
            "samples",
            samples,
            format!("1..={} (the counts are i32)", i32::MAX),
        ));
    }
    let systematic = match scheme {
        Scheme::Jittered => false,
        Scheme::Systematic => true,
        Scheme::Iid | Scheme::LowDiscrepancy => {
            return Err(FanInError::new(
                "scheme",
                format!("{scheme:?}"),
                "Jittered or Systematic (the closed-form schemes)",
            ));
        }
    };
    let device = weight.device();
    let on_cpu = BackendKind::of(&device).is_some_and(BackendKind::is_cpu);
    if !on_cpu && !runs_column_kernel(&device) {
        return Err(FanInError::new(
            "weight",
            "on a device without 64-bit integers and floats",
            "a CPU backend, or a GPU whose adapter has both (SHADER_INT64, SHADER_F64)",
        ));
    }
    let dims = weight.dims();
    if dims.contains(&0) || dims[0] * dims[1] > i32::MAX as usize {
        return Err(FanInError::new(
            "weight",
            format!("shape {dims:?}"),
            format!("1..={} elements (32-bit indexing on the GPU)", i32::MAX),
        ));
    }
    let (counts, scales, status) = <Dispatch as ColumnSamplerBackend>::sample_columns(
        weight.clone().into_dispatch(),
        samples as u32,
        systematic,
        seed,
    );
    Ok(ColumnSample {
        counts: Tensor::from_dispatch(counts),
        scales: Tensor::from_dispatch(scales),
        status: Tensor::from_dispatch(status),
        weight,
        samples,
        scheme,
        seed,
    })
}

/// Whether `device` samples with the CubeCL kernel: a GPU (CubeCL) device whose adapter has
/// 64-bit integers and floats (Vulkan and CUDA GPUs do; Metal and WebGPU do not). The CPU
/// backends sample the host's memory instead (where their tensors are).
pub fn runs_column_kernel(device: &Device) -> bool {
    BackendKind::of(device) == Some(BackendKind::Wgpu)
        && device.supports_dtype(DType::U64)
        && device.supports_dtype(DType::F64)
}

impl ColumnSample {
    /// `Ok` when every column was sampled; else the error `column_counts` gives for the
    /// first refused column (its weight's index in the matrix, or its scale error naming the
    /// column as the group). Reads the status (one integer per column) and, on an error, that
    /// column of the weight. After an error the counts and scales are not a sample.
    ///
    /// # Errors
    /// [`SamplingError::NonFiniteWeight`], [`SamplingError::ScaleOverflow`] or
    /// [`SamplingError::ScaleUnderflow`].
    pub fn check(&self) -> Result<(), SamplingError> {
        let status = self.status.clone().into_data().convert::<i32>();
        let status = status.as_slice::<i32>().expect("status as i32");
        let Some(column) = status.iter().position(|&s| s != 0) else {
            return Ok(());
        };
        let [rows, cols] = self.weight.dims();
        let values = self
            .weight
            .clone()
            .slice([0..rows, column..column + 1])
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("weights as f32");
        // The CPU sampler on that column alone names the error (the stream does not matter).
        match row_counts(&values, 1, rows, self.samples, self.scheme, self.seed) {
            Err(error) => Err(in_column(error, column, cols)),
            Ok(_) => panic!(
                "sample_columns: column {column} was refused on the device but samples on the host"
            ),
        }
    }
}

/// An error of column `column` sampled alone as the whole matrix sees it.
fn in_column(error: SamplingError, column: usize, cols: usize) -> SamplingError {
    match error {
        SamplingError::NonFiniteWeight { index, value } => SamplingError::NonFiniteWeight {
            index: index * cols + column,
            value,
        },
        other => other.in_row(column, 0),
    }
}

/// The op's own check of `samples` (callers of the trait may skip [`try_sample_columns`]).
pub(crate) fn assert_samples(samples: u32) {
    assert!(
        (1..=i32::MAX as u32).contains(&samples),
        "ColumnSamplerBackend::sample_columns: samples = {samples}; allowed 1..={}",
        i32::MAX
    );
}

/// The scheme of the op's `systematic` flag.
pub(crate) fn scheme_of(systematic: bool) -> Scheme {
    if systematic {
        Scheme::Systematic
    } else {
        Scheme::Jittered
    }
}

/// The key of the scheme's stream for `seed`: column `c` draws from `derive(c)` of it.
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
pub(crate) fn stream_key(systematic: bool, seed: u64) -> [u32; 2] {
    scheme_of(systematic).stream(seed).key
}
