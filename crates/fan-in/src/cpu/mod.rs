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
macro_rules! fma_dispatched {
    (fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $generic:ident;) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn with_fma($($arg: $ty),*) {
                    $generic::<true>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports the features `with_fma` was compiled for.
                    return unsafe { with_fma($($arg),*) };
                }
            }
            $generic::<false>($($arg),*)
        }
    };
}

mod kernels;

use kernels::Edges;

/// The CPU forward of [`FanInBackend::fan_in_forward`](crate::FanInBackend::fan_in_forward).
pub(crate) fn forward<B: Backend>(
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    probe::hit(Path::CpuForward);
    let device = input.device();
    let x = read_floats::<B>(input);
    let w = read_floats::<B>(weight);
    let ([batch, in_features], [out, k]) = (x.dims, w.dims);
    let idx = read_indices::<B>(indices, in_features);
    let edges = Edges {
        indices: &idx,
        weights: w.values(),
        out,
        k,
    };
    let y = kernels::forward(x.values(), batch, in_features, edges);
    write_floats::<B>(y, [batch, out], x.dtype, &device)
}

/// The CPU weight gradient.
pub(crate) fn weight_grad<B: Backend>(
    input: FloatTensor<B>,
    grad_output: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    probe::hit(Path::CpuWeightGrad);
    let device = input.device();
    let x = read_floats::<B>(input);
    let dy = read_floats::<B>(grad_output);
    let ([batch, in_features], [_, out]) = (x.dims, dy.dims);
    let [_, k] = dims2(&indices.shape());
    let idx = read_indices::<B>(indices, in_features);
    let edges = Edges {
        indices: &idx,
        weights: &[],
        out,
        k,
    };
    let dw = kernels::weight_grad(x.values(), dy.values(), batch, in_features, edges);
    write_floats::<B>(dw, [out, k], x.dtype, &device)
}

/// The CPU input gradient.
pub(crate) fn input_grad<B: Backend>(
    grad_output: FloatTensor<B>,
    weight: FloatTensor<B>,
    indices: IntTensor<B>,
    in_features: usize,
) -> FloatTensor<B> {
    probe::hit(Path::CpuInputGrad);
    let device = grad_output.device();
    let dy = read_floats::<B>(grad_output);
    let w = read_floats::<B>(weight);
    let ([batch, _], [out, k]) = (dy.dims, w.dims);
    let idx = read_indices::<B>(indices, in_features);
    let edges = Edges {
        indices: &idx,
        weights: w.values(),
        out,
        k,
    };
    let dx = kernels::input_grad(dy.values(), batch, in_features, edges);
    write_floats::<B>(dx, [batch, in_features], dy.dtype, &device)
}

fn dims2(shape: &burn::tensor::Shape) -> [usize; 2] {
    assert_eq!(
        shape.num_dims(),
        2,
        "the fan-in op takes rank-2 tensors, got {shape:?}"
    );
    [shape[0], shape[1]]
}

/// A tensor read to the host as f32 (no copy when it already is f32), with its shape and its
/// original dtype.
struct HostFloats {
    data: TensorData,
    dims: [usize; 2],
    dtype: DType,
}

impl HostFloats {
    fn values(&self) -> &[f32] {
        self.data
            .as_slice::<f32>()
            .expect("converted to f32 on read")
    }
}

fn read_floats<B: Backend>(tensor: FloatTensor<B>) -> HostFloats {
    let dims = dims2(&tensor.shape());
    let data = read_sync(B::float_into_data(tensor)).expect("reading a CPU tensor cannot fail");
    let dtype = data.dtype();
    let data = if dtype == DType::F32 {
        data
    } else {
        data.convert::<f32>()
    };
    HostFloats { data, dims, dtype }
}

fn write_floats<B: Backend>(
    values: Vec<f32>,
    dims: [usize; 2],
    dtype: DType,
    device: &B::Device,
) -> FloatTensor<B> {
    let data = TensorData::new(values, dims);
    let data = if dtype == DType::F32 {
        data
    } else {
        data.convert_dtype(dtype)
    };
    B::float_from_data(data, device)
}

/// The indices as `u32`, each checked against the input width: an index out of range would
/// read another sample's features, so it is an error, not a clamp.
fn read_indices<B: Backend>(indices: IntTensor<B>, in_features: usize) -> Vec<u32> {
    let data = read_sync(B::int_into_data(indices)).expect("reading a CPU tensor cannot fail");
    data.iter::<i64>()
        .enumerate()
        .map(|(position, j)| {
            assert!(
                (0..in_features as i64).contains(&j),
                "fan-in index {j} at flat position {position} is out of range: indices must \
                 lie in 0..{in_features} (the input width)"
            );
            j as u32
        })
        .collect()
}
