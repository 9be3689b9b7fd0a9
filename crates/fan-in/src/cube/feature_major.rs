//! The feature-major ops as CubeCL kernels. Activations are `[blocks, features, LANES]`, one
//! unit per element: neighbouring units are neighbouring samples (lanes) of one feature, so
//! every read and write of the activations is coalesced, and the units of a lane group share
//! each weight and index they read.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::Shape;
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;

use super::{addressable, cached_transposed_index, per_element};
use crate::feature_major::{FeatureMajorBackend, LANES, shapes};
use crate::probe::{self, Path};

/// `output[n, j, l] = input[n · LANES + l, j]`, 0 past the batch; one unit per output.
#[cube(launch)]
fn from_rows_kernel<F: Float>(
    input: &Tensor<F>,
    output: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= output.len() {
        terminate!();
    }
    let (features, lanes) = (output.shape(1), output.shape(2));
    let l = pos % lanes;
    let j = (pos / lanes) % features;
    let b = (pos / (lanes * features)) * lanes + l;
    let mut value = F::new(0.0);
    if b < input.shape(0) {
        value = input[b * features + j];
    }
    output[pos] = value;
}

/// `output[b, j] = input[b / LANES, j, b % LANES]`; one unit per output.
#[cube(launch)]
fn to_rows_kernel<F: Float>(
    input: &Tensor<F>,
    output: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= output.len() {
        terminate!();
    }
    let (features, lanes) = (input.shape(1), input.shape(2));
    let j = pos % features;
    let b = pos / features;
    output[pos] = input[((b / lanes) * features + j) * lanes + b % lanes];
}

/// `output[n, o, l] = Σ_m weight[o, m] · input[n, indices[o, m], l]`; one unit per output.
#[cube(launch)]
fn forward_kernel<F: Float, I: Numeric>(
    input: &Tensor<F>,
    weight: &Tensor<F>,
    indices: &Tensor<I>,
    output: &mut Tensor<F>,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let pos = ABSOLUTE_POS;
    if pos >= output.len() {
        terminate!();
    }
    let (out, lanes) = (output.shape(1), output.shape(2));
    let l = pos % lanes;
    let o = (pos / lanes) % out;
    let block = (pos / (lanes * out)) * input.shape(1);
    let k = weight.shape(1);
    let mut acc = F::new(0.0);
    for m in 0..k {
        let e = o * k + m;
        acc += weight[e] * input[(block + usize::cast_from(indices[e])) * lanes + l];
    }
    output[pos] = acc;
}

/// `grad_weight[o, m] = Σ_{n, l} grad_output[n, o, l] · input[n, indices[o, m], l]`; one unit
/// per edge.
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
    let (blocks, in_features) = (input.shape(0), input.shape(1));
    let (out, lanes) = (grad_output.shape(1), grad_output.shape(2));
    let mut acc = F::new(0.0);
    for n in 0..blocks {
        let (g, x) = ((n * out + o) * lanes, (n * in_features + j) * lanes);
        for l in 0..lanes {
            acc += grad_output[g + l] * input[x + l];
        }
    }
    grad_weight[e] = acc;
}

/// `grad_input[n, j, l] = Σ_{e in segment j} weight[e] · grad_output[n, e / k, l]`; one unit
/// per input element.
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
    let (in_features, lanes) = (grad_input.shape(1), grad_input.shape(2));
    let l = pos % lanes;
    let j = (pos / lanes) % in_features;
    let n = pos / (lanes * in_features);
    let (out, k) = (grad_output.shape(1), weight.shape(1));
    let mut acc = F::new(0.0);
    for p in usize::cast_from(offsets[j])..usize::cast_from(offsets[j + 1]) {
        let e = usize::cast_from(edges[p]);
        acc += weight[e] * grad_output[(n * out + e / k) * lanes + l];
    }
    grad_input[pos] = acc;
}

impl FeatureMajorBackend for CubeBackend {
    fn feature_major_from_rows(input: FloatTensor<Self>) -> FloatTensor<Self> {
        addressable("to_feature_major", [&input]);
        let input = into_contiguous(input);
        let [batch, features] = [input.shape()[0], input.shape()[1]];
        let shape = Shape::new([batch.div_ceil(LANES), features, LANES]);
        per_element(&input, shape, false, |output, count, dim| {
            from_rows_kernel::launch(
                &input.client,
                count,
                dim,
                input.clone().into_tensor_arg(),
                output.into_tensor_arg(),
                dtype_to_storage_type(input.dtype),
            )
        })
    }

    fn feature_major_to_rows(input: FloatTensor<Self>, batch: usize) -> FloatTensor<Self> {
        addressable("from_feature_major", [&input]);
        let [_, features] = shapes::of_batch("from_feature_major", &input.shape(), batch);
        let input = into_contiguous(input);
        let shape = Shape::new([batch, features]);
        per_element(&input, shape, false, |output, count, dim| {
            to_rows_kernel::launch(
                &input.client,
                count,
                dim,
                input.clone().into_tensor_arg(),
                output.into_tensor_arg(),
                dtype_to_storage_type(input.dtype),
            )
        })
    }

    fn feature_major_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeFeatureMajorForward);
        let op = "fan_in_feature_major";
        addressable(op, [&input, &weight, &indices]);
        let [blocks, _] = shapes::blocks(op, "input", &input.shape());
        let [out, k] = shapes::edges(op, Some(&weight.shape()), &indices.shape());
        launch_edge_kernel!(
            forward_kernel(input, weight, indices) -> Shape::new([blocks, out, LANES]),
            empty if k == 0
        )
    }

    fn feature_major_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeFeatureMajorWeightGrad);
        addressable(
            "fan_in_feature_major (weight gradient)",
            [&input, &grad_output, &indices],
        );
        let [blocks, _, out, k] =
            shapes::weight_grad(&input.shape(), &grad_output.shape(), &indices.shape());
        launch_edge_kernel!(
            weight_grad_kernel(input, grad_output, indices) -> Shape::new([out, k]),
            empty if blocks == 0
        )
    }

    fn feature_major_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
        in_features: usize,
    ) -> FloatTensor<Self> {
        probe::hit(Path::CubeFeatureMajorInputGrad);
        addressable(
            "fan_in_feature_major (input gradient)",
            [&grad_output, &weight, &indices],
        );
        let [blocks, _, _] =
            shapes::input_grad(&grad_output.shape(), &weight.shape(), &indices.shape());
        let (grad_output, weight, indices) = (
            into_contiguous(grad_output),
            into_contiguous(weight),
            into_contiguous(indices),
        );
        let shape = Shape::new([blocks, in_features, LANES]);
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
