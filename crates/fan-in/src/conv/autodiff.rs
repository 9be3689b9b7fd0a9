//! The custom backward of the direct sparse convolution.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend, TensorMetadata};

use super::{FanInConvBackend, TapGeometry};
use crate::probe::{self, Path};

/// The backward step: `dx` and `dw` through their ops, each only when its parent is tracked.
#[derive(Debug)]
struct ConvBackward;

/// What the backward step keeps: the input (the previous layer's output, alive anyway), the
/// weights and taps (parameters), the window and the input's `[c_in, height, width]`.
type ConvState<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    IntTensor<B>,
    TapGeometry,
    [usize; 3],
);

impl<B: Backend + FanInConvBackend> Backward<B, 2> for ConvBackward {
    type State = ConvState<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        probe::hit(Path::AutodiffBackward);
        let [node_input, node_weight] = ops.parents;
        let grad_output = grads.consume::<B>(&ops.node);
        let (input, weight, taps, geometry, input_size) = ops.state;

        if let Some(node) = node_weight {
            let dw = B::fan_in_conv_weight_grad(input, grad_output.clone(), taps.clone(), geometry);
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = node_input {
            let dx = B::fan_in_conv_input_grad(grad_output, weight, taps, geometry, input_size);
            grads.register::<B>(node.id, dx);
        }
    }
}

impl<B: Backend + FanInConvBackend, C: CheckpointStrategy> FanInConvBackend for Autodiff<B, C> {
    fn fan_in_conv_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([input.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = input.primitive().clone();
                let w = weight.primitive().clone();
                let shape = x.shape();
                let input_size = [shape[1], shape[2], shape[3]];
                let output = B::fan_in_conv_forward(x.clone(), w.clone(), taps.clone(), geometry);
                prep.finish((x, w, taps, geometry, input_size), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fan_in_conv_forward(
                input.into_primitive(),
                weight.into_primitive(),
                taps,
                geometry,
            )),
        }
    }

    fn fan_in_conv_weight_grad(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
    ) -> FloatTensor<Self> {
        // The gradients themselves are not differentiated again (no second order).
        Self::from_inner(B::fan_in_conv_weight_grad(
            Self::inner(input),
            Self::inner(grad_output),
            taps,
            geometry,
        ))
    }

    fn fan_in_conv_input_grad(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        taps: IntTensor<Self>,
        geometry: TapGeometry,
        input_size: [usize; 3],
    ) -> FloatTensor<Self> {
        Self::from_inner(B::fan_in_conv_input_grad(
            Self::inner(grad_output),
            Self::inner(weight),
            taps,
            geometry,
            input_size,
        ))
    }
}
