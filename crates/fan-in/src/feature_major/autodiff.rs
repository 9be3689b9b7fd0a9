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

// `dx` and `dw` through their ops; the weight gradient reads the feature-major input as it is.
crate::autodiff::fan_in_autodiff!(
    backward ForwardBackward for FeatureMajorBackend:
        feature_major_weight_grad, feature_major_input_grad
);

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

    crate::autodiff::fan_in_autodiff!(
        methods ForwardBackward:
            feature_major_forward, feature_major_weight_grad, feature_major_input_grad
    );
}
