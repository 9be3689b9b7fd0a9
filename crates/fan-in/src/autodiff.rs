//! The custom backward of the fan-in op, and the macro that writes it for every op family
//! with the fan-in op's signatures (the row-major op and the feature-major one).

use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend, TensorMetadata};

use crate::FanInBackend;

/// The custom backward of an op family whose three ops have the fan-in op's signatures:
/// forward `(input, weight, indices)` with the input's features on axis 1, weight gradient
/// `(input, grad_output, indices)`, input gradient `(grad_output, weight, indices,
/// in_features)`.
///
/// - `fan_in_autodiff!(backward Name for Trait: weight_grad, input_grad)` defines the
///   `Backward` step `Name`: `dx` and `dw` through the gradient ops, each only when its parent
///   is tracked. It keeps the input (alive anyway, as the previous layer's output), the
///   weights and indices (parameters) and the input width: nothing of size `batch · out · k`.
/// - `fan_in_autodiff!(methods Name: forward, weight_grad, input_grad)`, inside the trait's
///   `impl` for `Autodiff<B, C>`, writes the three methods: the forward registers `Name`; the
///   gradient ops are not differentiated again (no second order).
macro_rules! fan_in_autodiff {
    (backward $backward:ident for $trait:ident: $weight_grad:ident, $input_grad:ident) => {
        #[derive(Debug)]
        struct $backward;

        impl<B: burn::backend::Backend + $trait> burn::backend::autodiff::ops::Backward<B, 2>
            for $backward
        {
            type State = (
                burn::backend::tensor::FloatTensor<B>,
                burn::backend::tensor::FloatTensor<B>,
                burn::backend::tensor::IntTensor<B>,
                usize,
            );

            fn backward(
                self,
                ops: burn::backend::autodiff::ops::Ops<Self::State, 2>,
                grads: &mut burn::backend::autodiff::grads::Gradients,
                _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
            ) {
                $crate::probe::hit($crate::probe::Path::AutodiffBackward);
                let [node_input, node_weight] = ops.parents;
                let grad_output = grads.consume::<B>(&ops.node);
                let (input, weight, indices, in_features) = ops.state;
                if let Some(node) = node_weight {
                    let dw = B::$weight_grad(input, grad_output.clone(), indices.clone());
                    grads.register::<B>(node.id, dw);
                }
                if let Some(node) = node_input {
                    let dx = B::$input_grad(grad_output, weight, indices, in_features);
                    grads.register::<B>(node.id, dx);
                }
            }
        }
    };
    (methods $backward:ident: $forward:ident, $weight_grad:ident, $input_grad:ident) => {
        fn $forward(
            input: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            indices: IntTensor<Self>,
        ) -> FloatTensor<Self> {
            use burn::backend::autodiff::ops::{Backward, OpsKind};
            match $backward
                .prepare::<C>([input.node(), weight.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let x = input.primitive().clone();
                    let w = weight.primitive().clone();
                    let in_features = x.shape()[1];
                    let output = B::$forward(x.clone(), w.clone(), indices.clone());
                    prep.finish((x, w, indices, in_features), output)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::$forward(
                    input.into_primitive(),
                    weight.into_primitive(),
                    indices,
                )),
            }
        }

        fn $weight_grad(
            input: FloatTensor<Self>,
            grad_output: FloatTensor<Self>,
            indices: IntTensor<Self>,
        ) -> FloatTensor<Self> {
            Self::from_inner(B::$weight_grad(
                Self::inner(input),
                Self::inner(grad_output),
                indices,
            ))
        }

        fn $input_grad(
            grad_output: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            indices: IntTensor<Self>,
            in_features: usize,
        ) -> FloatTensor<Self> {
            Self::from_inner(B::$input_grad(
                Self::inner(grad_output),
                Self::inner(weight),
                indices,
                in_features,
            ))
        }
    };
}
pub(crate) use fan_in_autodiff;

fan_in_autodiff!(backward FanInBackward for FanInBackend: fan_in_weight_grad, fan_in_input_grad);

impl<B: Backend + FanInBackend, C: CheckpointStrategy> FanInBackend for Autodiff<B, C> {
    fan_in_autodiff!(methods FanInBackward: fan_in_forward, fan_in_weight_grad, fan_in_input_grad);
}
