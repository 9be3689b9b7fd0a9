//! The feature-major ops on the CPU (flex, ndarray): the kernels of [`kernels`](super::kernels)
//! on activations that are feature-major already, and the conversions from and to rows.

use burn::backend::TensorMetadata;
use burn::backend::tensor::{FloatTensor, IntTensor};
use rayon::prelude::*;

use super::kernels::{self, Edges};
use super::layout::{LANES, blocks_to_feature_major, from_feature_major};
use super::{Bound, HostView, IndexView, dims2, host_f32, host_indices, min_items, write_f32};
use crate::feature_major::shapes;
use crate::probe::{self, Path};

/// `[batch, features] → [blocks, features, LANES]`.
pub(crate) fn from_rows<B: HostView>(input: FloatTensor<B>) -> FloatTensor<B> {
    let [batch, features] = dims2(&input.shape());
    let blocks = batch.div_ceil(LANES);
    let mut copy = None;
    let x = host_f32::<B>(&input, &mut copy);
    let mut xt = vec![0.0; blocks * features * LANES];
    if !xt.is_empty() {
        blocks_to_feature_major(x, batch, features, &mut xt);
    }
    write_f32::<B, 3>(xt, [blocks, features, LANES], &input)
}

/// `[blocks, features, LANES] → [batch, features]`.
pub(crate) fn to_rows<B: HostView>(input: FloatTensor<B>, batch: usize) -> FloatTensor<B> {
    let [_, features] = shapes::of_batch("from_feature_major", &input.shape(), batch);
    let mut copy = None;
    let xt = host_f32::<B>(&input, &mut copy);
    let mut x = vec![0.0; batch * features];
    if !x.is_empty() {
        x.par_chunks_mut(LANES * features)
            .zip(xt.par_chunks(LANES * features))
            .with_min_len(min_items(LANES * features))
            .for_each(|(rows, block)| {
                from_feature_major(block, rows.len() / features, features, rows)
            });
    }
    write_f32::<B, 2>(x, [batch, features], &input)
}

/// The forward on feature-major input.
pub(crate) fn forward<B: HostView>(
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    probe::hit(Path::CpuFeatureMajorForward);
    let op = "fan_in_feature_major";
    let [blocks, in_features] = shapes::blocks(op, "input", &input.shape());
    let [out, k] = shapes::edges(op, Some(&weight.shape()), &indices.shape());
    let (mut x_copy, mut w_copy, mut idx_copy) = (None, None, None);
    let xt = host_f32::<B>(&input, &mut x_copy);
    let weights = host_f32::<B>(&weight, &mut w_copy);
    let bound = Bound::input_width(in_features);
    let yt = on_indices!(host_indices::<B>(&indices, bound, &mut idx_copy), |idx| {
        let edges = Edges {
            indices: idx,
            weights,
            out,
            k,
        };
        kernels::forward_blocked(xt, blocks, in_features, edges)
    });
    write_f32::<B, 3>(yt, [blocks, out, LANES], &input)
}

/// The weight gradient of feature-major input and output gradient.
pub(crate) fn weight_grad<B: HostView>(
    input: FloatTensor<B>,
    grad_output: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    probe::hit(Path::CpuFeatureMajorWeightGrad);
    let [blocks, in_features, out, k] =
        shapes::weight_grad(&input.shape(), &grad_output.shape(), &indices.shape());
    let (mut x_copy, mut dy_copy, mut idx_copy) = (None, None, None);
    let xt = host_f32::<B>(&input, &mut x_copy);
    let dyt = host_f32::<B>(&grad_output, &mut dy_copy);
    let mut dw = vec![0.0; out * k];
    let bound = Bound::input_width(in_features);
    on_indices!(host_indices::<B>(&indices, bound, &mut idx_copy), |idx| {
        let edges = Edges {
            indices: idx,
            weights: &[],
            out,
            k,
        };
        kernels::weight_grad_blocked(xt, dyt, blocks, in_features, edges, &mut dw)
    });
    write_f32::<B, 2>(dw, [out, k], &input)
}

/// The input gradient, feature-major.
pub(crate) fn input_grad<B: HostView>(
    grad_output: FloatTensor<B>,
    weight: FloatTensor<B>,
    indices: IntTensor<B>,
    in_features: usize,
) -> FloatTensor<B> {
    probe::hit(Path::CpuFeatureMajorInputGrad);
    let [blocks, out, k] =
        shapes::input_grad(&grad_output.shape(), &weight.shape(), &indices.shape());
    let (mut dy_copy, mut w_copy, mut idx_copy) = (None, None, None);
    let dyt = host_f32::<B>(&grad_output, &mut dy_copy);
    let weights = host_f32::<B>(&weight, &mut w_copy);
    let bound = Bound::input_width(in_features);
    let dxt = on_indices!(host_indices::<B>(&indices, bound, &mut idx_copy), |idx| {
        let edges = Edges {
            indices: idx,
            weights,
            out,
            k,
        };
        kernels::input_grad_blocked(dyt, blocks, in_features, edges)
    });
    write_f32::<B, 3>(dxt, [blocks, in_features, LANES], &grad_output)
}
