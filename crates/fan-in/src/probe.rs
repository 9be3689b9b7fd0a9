//! Counters of which implementation ran, so tests can prove a custom path was taken and not a
//! silent fallback. Counting costs one relaxed atomic add per op call.

use std::sync::atomic::{AtomicU64, Ordering};

/// One implementation of one op (fan-in or sparse convolution), or the custom backward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The feature-major CPU forward kernel (flex, ndarray).
    CpuForward,
    /// The CPU weight-gradient kernel.
    CpuWeightGrad,
    /// The CPU input-gradient kernel.
    CpuInputGrad,
    /// The CubeCL forward kernel (wgpu; the same kernel serves CUDA).
    CubeForward,
    /// The CubeCL weight-gradient kernel.
    CubeWeightGrad,
    /// The CubeCL input-gradient kernels (transposed index, then a gather).
    CubeInputGrad,
    /// The custom `Backward` of the autodiff backend (either op).
    AutodiffBackward,
    /// The register-tiled CPU forward of the sparse convolution.
    CpuConvForward,
    /// The CPU weight gradient of the sparse convolution.
    CpuConvWeightGrad,
    /// The CPU input gradient of the sparse convolution.
    CpuConvInputGrad,
    /// The CubeCL forward of the sparse convolution.
    CubeConvForward,
    /// The CubeCL weight gradient of the sparse convolution.
    CubeConvWeightGrad,
    /// The CubeCL input gradient of the sparse convolution (transposed taps, then a gather).
    CubeConvInputGrad,
    /// A transposed index built on the GPU (not found in the cache of recent indices).
    CubeTransposedIndex,
    /// The CPU forward on feature-major activations (no transposes).
    CpuFeatureMajorForward,
    /// The CPU weight gradient on feature-major activations.
    CpuFeatureMajorWeightGrad,
    /// The CPU input gradient on feature-major activations.
    CpuFeatureMajorInputGrad,
    /// The CubeCL forward on feature-major activations.
    CubeFeatureMajorForward,
    /// The CubeCL weight gradient on feature-major activations.
    CubeFeatureMajorWeightGrad,
    /// The CubeCL input gradient on feature-major activations.
    CubeFeatureMajorInputGrad,
    /// The column sampler on the host (flex, ndarray).
    CpuColumnSampler,
    /// The column sampler's CubeCL kernel.
    CubeColumnSampler,
}

const PATHS: usize = 22;

static COUNTS: [AtomicU64; PATHS] = [const { AtomicU64::new(0) }; PATHS];

/// How many times `path` has run in this process.
pub fn count(path: Path) -> u64 {
    COUNTS[path as usize].load(Ordering::Relaxed)
}

pub(crate) fn hit(path: Path) {
    COUNTS[path as usize].fetch_add(1, Ordering::Relaxed);
}
