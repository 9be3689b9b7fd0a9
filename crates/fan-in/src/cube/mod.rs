//! The fan-in op as CubeCL kernels, for every CubeCL runtime (wgpu here; the same kernels
//! compile for CUDA). One unit per output element; no `[batch, out, k]` intermediate.
//!
//! The input gradient is a scatter-add. Float atomics are not portable (WGSL has none), so
//! the kernels first build the transposed index on the device (a counting sort of the edges
//! by input, made deterministic by sorting each input's segment by edge id) and then gather:
//! `dx[b, j]` sums the edges of input `j` in a fixed order, the same on every run. Building
//! the index costs `O(out · k + in)`, a factor `batch` below the gather, and happens once per
//! indices tensor ([`index_cache`]): a layer's indices are the same at every step.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::{empty_device_dtype, zeros};
use burn_cubecl::ops::permute;
use burn_cubecl::tensor::CubeTensor;

use crate::FanInBackend;
use crate::probe::{self, Path};

/// Launches `$kernel` with one unit per element of a new tensor of `$shape` (zeros, without
/// a launch, when `$empty`): its arguments are the float tensor `$a`, the tensor `$b` and the
/// index tensor `$c`, each made contiguous first, then the output, then `$extra` (comptime
/// arguments), then the dtypes of `$a` and `$c`, which pick the kernel's types. `$shape` and
/// `$empty` may read the contiguous tensors.
macro_rules! launch_edge_kernel {
    ($kernel:ident($a:ident, $b:ident, $c:ident $(, $extra:expr)*) -> $shape:expr,
     empty if $empty:expr) => {{
        let ($a, $b, $c) = (
            burn_cubecl::kernel::into_contiguous($a),
            burn_cubecl::kernel::into_contiguous($b),
            burn_cubecl::kernel::into_contiguous($c),
        );
        let dtypes = [
            burn::backend::cubecl::dtype_to_storage_type($a.dtype),
            burn::backend::cubecl::dtype_to_storage_type($c.dtype),
        ];
        let shape = $shape;
        $crate::cube::per_element(&$a, shape, $empty, |output, count, dim| {
            $kernel::launch(
                &$a.client,
                count,
                dim,
                $a.clone().into_tensor_arg(),
                $b.into_tensor_arg(),
                $c.into_tensor_arg(),
                output.into_tensor_arg(),
                $($extra,)*
                dtypes,
            )
        })
    }};
}

mod column_sampler;
mod conv;
mod feature_major;
mod index_cache;

use index_cache::cached_transposed_index;

/// `output[b, o] = Σ_m weight[o, m] · input[b, indices[o, m]]`; one unit per `(b, o)`. The
/// weights and indices come edge-major, `[k, out]`: at every step `m` the neighbouring units
/// (neighbouring outputs) read neighbouring weights and indices, and their inputs from the
/// same row `b`.
#[cube(launch)]
fn forward_kernel<F: Float, I: Numeric>(
    input: &Tensor<F>,
    weight_t: &Tensor<F>,
    indices_t: &Tensor<I>,
    output: &mut Tensor<F>,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let pos = ABSOLUTE_POS;
    if pos >= output.len() {
        terminate!();
    }
    let out = output.shape(1);
    let k = weight_t.shape(0);
    let row = (pos / out) * input.shape(1);
    let o = pos % out;
    let mut acc = F::new(0.0);
    for m in 0..k {
        let e = m * out + o;
        acc += weight_t[e] * input[row + usize::cast_from(indices_t[e])];
    }
    output[pos] = acc;
}

/// `grad_weight[o, m] = Σ_b grad_output[b, o] · input[b, indices[o, m]]`; one unit per edge.
#[cube(launch)]
fn weight_grad_kernel<F: Float, I: Numeric>(
    input: &Tensor<F>,
    grad_output: &Tensor<F>,
    indices: &Tensor<I>,
    grad_weight: &mut Tensor<F>,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let e = ABSOLUTE_POS;
    if e >= grad_weight.len() {
        terminate!();
    }
    let o = e / indices.shape(1);
    let j = usize::cast_from(indices[e]);
    let (batch, out, in_features) = (grad_output.shape(0), grad_output.shape(1), input.shape(1));
    let mut acc = F::new(0.0);
    for b in 0..batch {
        acc += grad_output[b * out + o] * input[b * in_features + j];
    }
    grad_weight[e] = acc;
}

/// `counts[j] = |{e : indices[e] = j}|`; one unit per edge, edges out of range left out.
#[cube(launch)]
fn count_kernel<I: Numeric>(
    indices: &Tensor<I>,
    counts: &mut Tensor<Atomic<u32>>,
    #[define(I)] _dtype: ElemType,
) {
    let e = ABSOLUTE_POS;
    if e >= indices.len() {
        terminate!();
    }
    let j = usize::cast_from(indices[e]);
    // An index out of range (the GPU path does not check them) must not write out of bounds.
    if j < counts.len() {
        counts[j].fetch_add(1u32);
    }
}

/// `offsets[j] = Σ_{i<j} counts[i]`, `in + 1` entries; one unit (the scan is `O(in)`).
#[cube(launch)]
fn offsets_kernel(counts: &Tensor<u32>, offsets: &mut Tensor<u32>) {
    if ABSOLUTE_POS > 0 {
        terminate!();
    }
    let mut sum = 0u32;
    for j in 0..counts.len() {
        offsets[j] = sum;
        sum += counts[j];
    }
    offsets[counts.len()] = sum;
}

/// Places every edge id in its input's segment of `edges`, in arrival order (edges out of
/// range left out, as `count_kernel` leaves them).
#[cube(launch)]
fn fill_kernel<I: Numeric>(
    indices: &Tensor<I>,
    offsets: &Tensor<u32>,
    cursor: &mut Tensor<Atomic<u32>>,
    edges: &mut Tensor<u32>,
    #[define(I)] _dtype: ElemType,
) {
    let e = ABSOLUTE_POS;
    if e >= indices.len() {
        terminate!();
    }
    let j = usize::cast_from(indices[e]);
    if j < cursor.len() {
        let slot = cursor[j].fetch_add(1u32);
        edges[usize::cast_from(offsets[j] + slot)] = u32::cast_from(e);
    }
}

/// Sorts each input's segment by edge id (insertion sort: segments hold `out · k / in` edges
/// on average), which makes the gather's summation order independent of the atomics.
#[cube(launch)]
fn sort_segments_kernel(offsets: &Tensor<u32>, edges: &mut Tensor<u32>) {
    let j = ABSOLUTE_POS;
    if j + 1 >= offsets.len() {
        terminate!();
    }
    let start = usize::cast_from(offsets[j]);
    let end = usize::cast_from(offsets[j + 1]);
    for p in start + 1..end {
        let value = edges[p];
        let mut q = p;
        while q > start && edges[q - 1] > value {
            edges[q] = edges[q - 1];
            q -= 1;
        }
        edges[q] = value;
    }
}

/// `grad_input[b, j] = Σ_{e in segment j} weight[e] · grad_output[b, e / k]`; one unit per
/// `(b, j)`.
#[cube(launch)]
fn input_grad_kernel<F: Float>(
    grad_output: &Tensor<F>,
    weight: &Tensor<F>,
    offsets: &Tensor<u32>,
    edges: &Tensor<u32>,
    grad_input: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= grad_input.len() {
        terminate!();
    }
    let in_features = grad_input.shape(1);
    let (b, j) = (pos / in_features, pos % in_features);
    let (out, k) = (grad_output.shape(1), weight.shape(1));
    let mut acc = F::new(0.0);
    for p in usize::cast_from(offsets[j])..usize::cast_from(offsets[j + 1]) {
        let e = usize::cast_from(edges[p]);
        acc += weight[e] * grad_output[b * out + e / k];
    }
    grad_input[pos] = acc;
}

/// A launch grid with one unit per element.
pub(crate) fn grid(tensor: &CubeTensor, units: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new(&tensor.client, units);
    (
        cubecl::calculate_cube_count_elemwise(&tensor.client, units, cube_dim),
        cube_dim,
    )
}

/// A new tensor of `shape`, in `like`'s dtype and on its device, written by one kernel that
/// `launch` starts with one unit per element (given the output and the grid); zeros, without
/// a launch, when it is empty or `nothing_to_sum`.
pub(crate) fn per_element(
    like: &CubeTensor,
    shape: Shape,
    nothing_to_sum: bool,
    launch: impl FnOnce(CubeTensor, CubeCount, CubeDim),
) -> CubeTensor {
    mcnn_backends::check_addressable("a fan-in kernel's output", shape.num_elements());
    if nothing_to_sum || shape.num_elements() == 0 {
        return zeros(like.device.clone(), shape, like.dtype);
    }
    let output = empty_like(like, shape.clone(), like.dtype);
    let (count, dim) = grid(like, shape.num_elements());
    launch(output.clone(), count, dim);
    output
}

/// Checks that an op's `tensors` fit the kernels' 32-bit indices
/// ([`mcnn_backends::check_addressable`]).
///
/// # Panics
/// If one of `tensors` has `2^32` elements or more, naming `op`.
pub(crate) fn addressable<'a>(op: &str, tensors: impl IntoIterator<Item = &'a CubeTensor>) {
    for tensor in tensors {
        mcnn_backends::check_addressable(op, tensor.shape().num_elements());
    }
}

pub(crate) fn empty_like(reference: &CubeTensor, shape: Shape, dtype: DType) -> CubeTensor {
    empty_device_dtype(
        reference.client.clone(),
        reference.device.clone(),
        shape,
        dtype,
    )
}

/// The transposed index: `offsets` (`in + 1` entries) and the edge ids grouped by input.
pub(crate) fn transposed_index(
    indices: &CubeTensor,
    in_features: usize,
) -> (CubeTensor, CubeTensor) {
    let edge_count = indices.shape().num_elements();
    let counts = zeros(
        indices.device.clone(),
        Shape::new([in_features]),
        DType::U32,
    );
    let cursor = zeros(
        indices.device.clone(),
        Shape::new([in_features]),
        DType::U32,
    );
    let offsets = empty_like(indices, Shape::new([in_features + 1]), DType::U32);
    let edges = empty_like(indices, Shape::new([edge_count.max(1)]), DType::U32);
    let index_dtype = dtype_to_storage_type(indices.dtype);
    let client = indices.client.clone();

    let (count, dim) = grid(indices, edge_count);
    count_kernel::launch(
        &client,
        count.clone(),
        dim,
        indices.clone().into_tensor_arg(),
        counts.clone().into_tensor_arg(),
        index_dtype,
    );
    offsets_kernel::launch(
        &client,
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(1),
        counts.into_tensor_arg(),
        offsets.clone().into_tensor_arg(),
    );
    fill_kernel::launch(
        &client,
        count,
        dim,
        indices.clone().into_tensor_arg(),
        offsets.clone().into_tensor_arg(),
        cursor.into_tensor_arg(),
        edges.clone().into_tensor_arg(),
        index_dtype,
    );
    let (count, dim) = grid(indices, in_features);
    sort_segments_kernel::launch(
        &client,
        count,
        dim,
        offsets.clone().into_tensor_arg(),
        edges.clone().into_tensor_arg(),
    );
    (offsets, edges)
}

impl FanInBackend for CubeBackend {
    fn fan_in_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeForward);
        addressable("fan_in", [&input, &weight, &indices]);
        let shape = Shape::new([input.shape()[0], weight.shape()[0]]);
        let input = into_contiguous(input);
        if shape.num_elements() == 0 || weight.shape()[1] == 0 {
            return zeros(input.device.clone(), shape, input.dtype);
        }
        // Edge-major copies, `O(out · k)`: a factor `batch` below the kernel's reads.
        let edge_major = |t: CubeTensor| into_contiguous(permute(t, &[1, 0]));
        let (weight_t, indices_t) = (edge_major(weight), edge_major(indices));
        let dtypes = [
            dtype_to_storage_type(input.dtype),
            dtype_to_storage_type(indices_t.dtype),
        ];
        per_element(&input, shape, false, |output, count, dim| {
            forward_kernel::launch(
                &input.client,
                count,
                dim,
                input.clone().into_tensor_arg(),
                weight_t.into_tensor_arg(),
                indices_t.into_tensor_arg(),
                output.into_tensor_arg(),
                dtypes,
            )
        })
    }

    fn fan_in_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeWeightGrad);
        addressable("fan_in (weight gradient)", [&input, &grad_output, &indices]);
        launch_edge_kernel!(
            weight_grad_kernel(input, grad_output, indices) -> indices.shape(),
            empty if input.shape()[0] == 0
        )
    }

    fn fan_in_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
        in_features: usize,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeInputGrad);
        addressable("fan_in (input gradient)", [&grad_output, &weight, &indices]);
        let (grad_output, weight, indices) = (
            into_contiguous(grad_output),
            into_contiguous(weight),
            into_contiguous(indices),
        );
        let shape = Shape::new([grad_output.shape()[0], in_features]);
        let no_edges = indices.shape().num_elements() == 0;
        per_element(&grad_output, shape, no_edges, |grad_input, count, dim| {
            let (offsets, edges) = cached_transposed_index(&indices, in_features);
            input_grad_kernel::launch(
                &grad_output.client,
                count,
                dim,
                grad_output.clone().into_tensor_arg(),
                weight.into_tensor_arg(),
                offsets.into_tensor_arg(),
                edges.into_tensor_arg(),
                grad_input.into_tensor_arg(),
                dtype_to_storage_type(grad_output.dtype),
            )
        })
    }
}
