//! The custom backward of the fan-in op.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend, TensorMetadata};

use crate::FanInBackend;
use crate::probe::{self, Path};

/// The backward step: `dx` through the input-gradient op, `dw` through the weight-gradient
/// op, each computed only when its parent is tracked.
#[derive(Debug)]
struct FanInBackward;

/// What the backward step keeps: the input (already alive as the previous layer's output),
/// the weights and indices (parameters) and the input width. Nothing of size `batch · out · k`.
type FanInState<B> = (FloatTensor<B>, FloatTensor<B>, IntTensor<B>, usize);

impl<B: Backend + FanInBackend> Backward<B, 2> for FanInBackward {
    type State = FanInState<B>;

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
            let dw = B::fan_in_weight_grad(input, grad_output.clone(), indices.clone());
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = node_input {
            let dx = B::fan_in_input_grad(grad_output, weight, indices, in_features);
            grads.register::<B>(node.id, dx);
        }
    }
}

impl<B: Backend + FanInBackend, C: CheckpointStrategy> FanInBackend for Autodiff<B, C> {
    fn fan_in_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        match FanInBackward
            .prepare::<C>([input.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = input.primitive().clone();
                let w = weight.primitive().clone();
                let in_features = x.shape()[1];
                let output = B::fan_in_forward(x.clone(), w.clone(), indices.clone());
                prep.finish((x, w, indices, in_features), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fan_in_forward(
                input.into_primitive(),
                weight.into_primitive(),
                indices,
            )),
        }
    }

    fn fan_in_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        // The gradients themselves are not differentiated again (no second order).
        Self::from_inner(B::fan_in_weight_grad(
            Self::inner(input),
            Self::inner(grad_output),
            indices,
        ))
    }

    fn fan_in_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        indices: IntTensor<Self>,
        in_features: usize,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::fan_in_input_grad(
            Self::inner(grad_output),
            Self::inner(weight),
            indices,
            in_features,
        ))
    }
}
