//! The backward passes of the feature-major ops: the fan-in op's through its gradient ops,
//! each conversion's through the other.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend, TensorMetadata};

use super::FeatureMajorBackend;
use crate::probe::{self, Path};

/// `dx` and `dw` through their ops, each only when its parent is tracked. The state is the
/// feature-major input (the weight gradient reads it as it is), the weights, the indices and
/// the input width.
#[derive(Debug)]
struct ForwardBackward;

impl<B: Backend + FeatureMajorBackend> Backward<B, 2> for ForwardBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, IntTensor<B>, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        probe::hit(Path::AutodiffBackward);
        let [node_input, node_weight] = ops.parents;
        let grad_output = grads.consume::<B>(&ops.node);
        let (input, weight, indices, in_features) = ops.state;
        if let Some(node) = node_weight {
            let dw = B::feature_major_weight_grad(input, grad_output.clone(), indices.clone());
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = node_input {
            let dx = B::feature_major_input_grad(grad_output, weight, indices, in_features);
            grads.register::<B>(node.id, dx);
        }
    }
}

/// The gradient of `from_rows` is the output gradient back in rows (`batch` of them).
#[derive(Debug)]
struct FromRowsBackward;

impl<B: Backend + FeatureMajorBackend> Backward<B, 1> for FromRowsBackward {
    type State = usize;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(node)] = ops.parents {
            grads.register::<B>(node.id, B::feature_major_to_rows(grad, ops.state));
        }
    }
}

/// The gradient of `to_rows` is the output gradient in blocks, zero past the batch.
#[derive(Debug)]
struct ToRowsBackward;

impl<B: Backend + FeatureMajorBackend> Backward<B, 1> for ToRowsBackward {
    type State = ();

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(node)] = ops.parents {
            grads.register::<B>(node.id, B::feature_major_from_rows(grad));
        }
    }
}

impl<B: Backend + FeatureMajorBackend, C: CheckpointStrategy> FeatureMajorBackend
    for Autodiff<B, C>
{
    fn feature_major_from_rows(input: FloatTensor<Self>) -> FloatTensor<Self> {
        let batch = input.primitive().shape()[0];
        match FromRowsBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::feature_major_from_rows(input.primitive().clone());
                prep.finish(batch, output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::feature_major_from_rows(input.into_primitive()))
            }
        }
    }

    fn feature_major_to_rows(input: FloatTensor<Self>, batch: usize) -> FloatTensor<Self> {
        match ToRowsBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::feature_major_to_rows(input.primitive().clone(), batch);
                prep.finish((), output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::feature_major_to_rows(input.into_primitive(), batch))
            }
        }
    }

    fn feature_major_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        match ForwardBackward
            .prepare::<C>([input.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = input.primitive().clone();
                let w = weight.primitive().clone();
                let in_features = x.shape()[1];
                let output = B::feature_major_forward(x.clone(), w.clone(), indices.clone());
                prep.finish((x, w, indices, in_features), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::feature_major_forward(
                input.into_primitive(),
                weight.into_primitive(),
                indices,
            )),
        }
    }

    fn feature_major_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        // The gradients themselves are not differentiated again (no second order).
        Self::from_inner(B::feature_major_weight_grad(
            Self::inner(input),
            Self::inner(grad_output),
            indices,
        ))
    }

    fn feature_major_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
        in_features: usize,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::feature_major_input_grad(
            Self::inner(grad_output),
            Self::inner(weight),
            indices,
            in_features,
        ))
    }
}
