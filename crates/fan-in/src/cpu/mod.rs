//! The CPU implementation shared by flex and ndarray: tensors are read into host slices, the
//! feature-major kernels of [`kernels`] run on them (rayon, AVX2+FMA where the CPU has it),
//! and the result goes back as a tensor of the input's dtype.

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::{DType, TensorData, read_sync};

use crate::probe::{self, Path};

/// Defines `fn $name(..)` that runs `$generic::<true>` (compiled with AVX2 and FMA) where the
/// CPU supports them and `$generic::<false>` elsewhere. The generic body must be
/// `#[inline(always)]` so it is compiled inside the feature-enabled function.
/// The functions are generic over the index type `I`; `plain fn` defines one that is not.
macro_rules! fma_dispatched {
    (plain fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $generic:ident;) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn with_fma($($arg: $ty),*) {
                    $generic::<true>($($arg),*)
                }
                if $crate::cpu::fma_available() {
                    // SAFETY: the CPU supports the features `with_fma` was compiled for.
                    return unsafe { with_fma($($arg),*) };
                }
            }
            $generic::<false>($($arg),*)
        }
    };
    (fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $generic:ident;) => {
        fn $name<I: EdgeIndex>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn with_fma<I: EdgeIndex>($($arg: $ty),*) {
                    $generic::<true, I>($($arg),*)
                }
                if $crate::cpu::fma_available() {
                    // SAFETY: the CPU supports the features `with_fma` was compiled for.
                    return unsafe { with_fma::<I>($($arg),*) };
                }
            }
            $generic::<false, I>($($arg),*)
        }
    };
}

/// Evaluates `$body` with `$idx` bound to the index slice, whatever its stored type.
macro_rules! on_indices {
    ($view:expr, |$idx:ident| $body:expr) => {
        match $view {
            IndexView::I32($idx) => $body,
            IndexView::I64($idx) => $body,
        }
    };
}

mod avx2;
pub(crate) mod column_sampler;
pub(crate) mod conv;
mod conv_kernels;
pub(crate) mod feature_major;
mod kernels;
mod layout;

/// Multiply-adds (or moved floats) below which work stays on the calling thread: waking a
/// rayon worker costs more (tens of µs on a small VM) than that much work.
pub(crate) const MIN_TASK_WORK: usize = 1 << 19;

/// The fewest items of `work` each that a rayon task should take (see [`MIN_TASK_WORK`]).
pub(crate) fn min_items(work: usize) -> usize {
    MIN_TASK_WORK.div_ceil(work.max(1))
}

/// Whether the CPU runs the AVX2 + FMA code (which tests can switch off to test the rest).
#[cfg(target_arch = "x86_64")]
fn fma_available() -> bool {
    #[cfg(test)]
    if tests::PORTABLE_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

use kernels::Edges;

/// Zero-copy access to a CPU backend's storage, where its layout allows: reading through
/// `into_data` copies a shared tensor (ndarray element by element), which costs more than the
/// op itself.
pub(crate) trait HostView: Backend {
    /// The tensor's values when it is contiguous f32.
    fn f32_view(tensor: &FloatTensor<Self>) -> Option<&[f32]>;
    /// The tensor's values when it is contiguous i32 or i64.
    fn index_view(tensor: &IntTensor<Self>) -> Option<IndexView<'_>>;
}

/// Indices as stored.
#[derive(Clone, Copy)]
pub(crate) enum IndexView<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
}

#[cfg(feature = "flex")]
impl HostView for burn::backend::Flex {
    fn f32_view(tensor: &FloatTensor<Self>) -> Option<&[f32]> {
        tensor.as_slice::<f32>()
    }

    fn index_view(tensor: &IntTensor<Self>) -> Option<IndexView<'_>> {
        match tensor.dtype() {
            DType::I32 => tensor.as_slice::<i32>().map(IndexView::I32),
            DType::I64 => tensor.as_slice::<i64>().map(IndexView::I64),
            _ => None,
        }
    }
}

#[cfg(feature = "ndarray")]
impl HostView for burn::backend::NdArray {
    fn f32_view(tensor: &FloatTensor<Self>) -> Option<&[f32]> {
        match tensor {
            burn::backend::ndarray::NdArrayTensor::F32(storage) => storage.view().to_slice(),
            _ => None,
        }
    }

    fn index_view(tensor: &IntTensor<Self>) -> Option<IndexView<'_>> {
        use burn::backend::ndarray::NdArrayTensor;
        match tensor {
            NdArrayTensor::I32(storage) => storage.view().to_slice().map(IndexView::I32),
            NdArrayTensor::I64(storage) => storage.view().to_slice().map(IndexView::I64),
            _ => None,
        }
    }
}

/// The CPU forward of [`FanInBackend::fan_in_forward`](crate::FanInBackend::fan_in_forward).
pub(crate) fn forward<B: HostView>(
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    probe::hit(Path::CpuForward);
    let [batch, in_features] = dims2(&input.shape());
    let [out, k] = dims2(&weight.shape());
    let (mut x_copy, mut w_copy) = (None, None);
    let x = host_f32::<B>(&input, &mut x_copy);
    let w = host_f32::<B>(&weight, &mut w_copy);
    let mut idx_copy = None;
    let y = on_indices!(
        host_indices::<B>(&indices, Bound::input_width(in_features), &mut idx_copy),
        |idx| {
            kernels::forward(
                x,
                batch,
                in_features,
                Edges {
                    indices: idx,
                    weights: w,
                    out,
                    k,
                },
            )
        }
    );
    write_f32::<B, 2>(y, [batch, out], &input)
}

/// The CPU weight gradient.
pub(crate) fn weight_grad<B: HostView>(
    input: FloatTensor<B>,
    grad_output: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    probe::hit(Path::CpuWeightGrad);
    let [batch, in_features] = dims2(&input.shape());
    let [_, out] = dims2(&grad_output.shape());
    let [_, k] = dims2(&indices.shape());
    let (mut x_copy, mut dy_copy) = (None, None);
    let x = host_f32::<B>(&input, &mut x_copy);
    let dy = host_f32::<B>(&grad_output, &mut dy_copy);
    let mut idx_copy = None;
    let dw = on_indices!(
        host_indices::<B>(&indices, Bound::input_width(in_features), &mut idx_copy),
        |idx| {
            let edges = Edges {
                indices: idx,
                weights: &[],
                out,
                k,
            };
            kernels::weight_grad(x, dy, batch, in_features, edges)
        }
    );
    write_f32::<B, 2>(dw, [out, k], &input)
}

/// The CPU input gradient.
pub(crate) fn input_grad<B: HostView>(
    grad_output: FloatTensor<B>,
    weight: FloatTensor<B>,
    indices: IntTensor<B>,
    in_features: usize,
) -> FloatTensor<B> {
    probe::hit(Path::CpuInputGrad);
    let [batch, _] = dims2(&grad_output.shape());
    let [out, k] = dims2(&weight.shape());
    let (mut dy_copy, mut w_copy) = (None, None);
    let dy = host_f32::<B>(&grad_output, &mut dy_copy);
    let w = host_f32::<B>(&weight, &mut w_copy);
    let mut idx_copy = None;
    let dx = on_indices!(
        host_indices::<B>(&indices, Bound::input_width(in_features), &mut idx_copy),
        |idx| {
            kernels::input_grad(
                dy,
                batch,
                in_features,
                Edges {
                    indices: idx,
                    weights: w,
                    out,
                    k,
                },
            )
        }
    );
    write_f32::<B, 2>(dx, [batch, in_features], &grad_output)
}

fn dims2(shape: &burn::tensor::Shape) -> [usize; 2] {
    assert_eq!(
        shape.num_dims(),
        2,
        "the fan-in op takes rank-2 tensors, got {shape:?}"
    );
    [shape[0], shape[1]]
}

/// The tensor's values as f32: a view of its storage when possible, else a converted copy
/// kept in `copy`.
fn host_f32<'a, B: HostView>(
    tensor: &'a FloatTensor<B>,
    copy: &'a mut Option<TensorData>,
) -> &'a [f32] {
    if let Some(values) = B::f32_view(tensor) {
        return values;
    }
    let data =
        read_sync(B::float_into_data(tensor.clone())).expect("reading a CPU tensor cannot fail");
    copy.insert(data.convert::<f32>())
        .as_slice::<f32>()
        .expect("converted to f32")
}

/// A new tensor on `like`'s device, in `like`'s dtype.
fn write_f32<B: Backend, const D: usize>(
    values: Vec<f32>,
    dims: [usize; D],
    like: &FloatTensor<B>,
) -> FloatTensor<B> {
    let data = TensorData::new(values, dims);
    let dtype = like.dtype();
    let data = if dtype == DType::F32 {
        data
    } else {
        data.convert_dtype(dtype)
    };
    B::float_from_data(data, &like.device())
}

/// The indices, read in place when the backend allows (else converted into `copy`), each
/// checked against the input width: an index out of range would read another sample's
/// features, so it is an error, not a clamp.
fn host_indices<'a, B: HostView>(
    indices: &'a IntTensor<B>,
    bound: Bound,
    copy: &'a mut Option<Vec<i64>>,
) -> IndexView<'a> {
    let view = B::index_view(indices).unwrap_or_else(|| {
        let data =
            read_sync(B::int_into_data(indices.clone())).expect("reading a CPU tensor cannot fail");
        IndexView::I64(copy.insert(data.iter::<i64>().collect()))
    });
    on_indices!(view, |values| check_range(values, bound));
    view
}

/// The range indices must lie in, `0..size`, and what `size` is.
#[derive(Clone, Copy)]
struct Bound {
    size: usize,
    what: &'static str,
}

impl Bound {
    /// The fan-in op's: the input width.
    fn input_width(size: usize) -> Self {
        Self {
            size,
            what: "the input width",
        }
    }
}

/// Panics, naming the first offender, unless every index lies in `0..bound.size`. The
/// min/max pass runs in the indices' own type, so that it vectorises (i32 in AVX2); the
/// search for the offender runs only on failure.
fn check_range<I: Copy + Ord + Into<i64>>(indices: &[I], bound: Bound) {
    let Some((min, max)) = bounds(indices) else {
        return;
    };
    let Bound { size, what } = bound;
    if min.into() >= 0 && max.into() < size as i64 {
        return;
    }
    let (position, j) = indices
        .iter()
        .map(|&j| j.into())
        .enumerate()
        .find(|&(_, j): &(usize, i64)| !(0..size as i64).contains(&j))
        .expect("an index out of range exists");
    panic!(
        "fan-in index {j} at flat position {position} is out of range: indices must lie in \
         0..{size} ({what})"
    );
}

/// The smallest and largest index, `None` for none: with AVX2 where the CPU has it (i64
/// comparisons need it to vectorise; this runs on every call of the op).
fn bounds<I: Copy + Ord>(indices: &[I]) -> Option<(I, I)> {
    #[inline(always)]
    fn fold<I: Copy + Ord>(indices: &[I]) -> Option<(I, I)> {
        let &first = indices.first()?;
        Some(
            indices
                .iter()
                .fold((first, first), |(lo, hi), &j| (lo.min(j), hi.max(j))),
        )
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn with_avx2<I: Copy + Ord>(indices: &[I]) -> Option<(I, I)> {
            fold(indices)
        }
        // SAFETY: the CPU supports AVX2 (checked above).
        return unsafe { with_avx2(indices) };
    }
    fold(indices)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    /// Set by the kernel tests to run the portable code on a CPU with AVX2 + FMA.
    pub(super) static PORTABLE_ONLY: AtomicBool = AtomicBool::new(false);
}
