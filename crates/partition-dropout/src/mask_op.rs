//! The masking op with a backward that rebuilds the mask from the cycle's partition table
//! instead of keeping a mask tensor alive: the table exists once per cycle and is shared by
//! its `P` steps, so a training step holds nothing mask-sized between forward and backward.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, TensorMetadata, backend_extension};
use burn::tensor::BoolStore;

/// Partition masking as a Burn backend extension.
///
/// `input: [batch, neurons, inner]`, `partitions: [rows, neurons, 1]` with `rows` 1 (one
/// assignment for the batch) or `batch`; the output is `input · scale` where
/// `(partitions == phase) == keep`, and 0 elsewhere.
#[backend_extension(
    Autodiff,
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu")
)]
pub trait PartitionMaskBackend: Backend {
    /// See the trait's docs. The default body composes the backend's own ops (the CPU path);
    /// its temporary mask is freed when the op returns.
    #[fusion(dtype = input, shape = input)]
    fn partition_mask(
        input: FloatTensor<Self>,
        partitions: IntTensor<Self>,
        phase: u32,
        keep: bool,
        scale: f32,
    ) -> FloatTensor<Self> {
        let shape = input.shape();
        let selected = Self::int_equal_elem(partitions, (phase as i64).into(), BoolStore::Native);
        let selected = Self::bool_expand(selected, shape);
        let dropped = if keep {
            Self::bool_not(selected)
        } else {
            selected
        };
        let masked = Self::float_mask_fill(input, dropped, 0.0f32.into());
        Self::float_mul_scalar(masked, scale.into())
    }
}

#[cfg(feature = "flex")]
impl PartitionMaskBackend for burn::backend::Flex {}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // NdArray is deprecated upstream in favour of Flex; we keep serving it.
impl PartitionMaskBackend for burn::backend::NdArray {}

static BACKWARD_PASSES: AtomicU64 = AtomicU64::new(0);
static CUBE_LAUNCHES: AtomicU64 = AtomicU64::new(0);

/// How many times the custom backward of the mask has run in this process (tests use it to
/// prove it is not bypassed).
pub fn backward_passes() -> u64 {
    BACKWARD_PASSES.load(Ordering::Relaxed)
}

/// How many times the CubeCL masking kernel has been launched in this process.
pub fn cube_launches() -> u64 {
    CUBE_LAUNCHES.load(Ordering::Relaxed)
}

#[derive(Debug)]
struct PartitionMaskBackward;

impl<B: Backend + PartitionMaskBackend> Backward<B, 1> for PartitionMaskBackward {
    /// The cycle's table and the phase: no mask.
    type State = (IntTensor<B>, u32, bool, f32);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        BACKWARD_PASSES.fetch_add(1, Ordering::Relaxed);
        let [node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (partitions, phase, keep, scale) = ops.state;
        if let Some(node) = node {
            grads.register::<B>(
                node.id,
                B::partition_mask(grad, partitions, phase, keep, scale),
            );
        }
    }
}

impl<B: Backend + PartitionMaskBackend, C: CheckpointStrategy> PartitionMaskBackend
    for Autodiff<B, C>
{
    fn partition_mask(
        input: FloatTensor<Self>,
        partitions: IntTensor<Self>,
        phase: u32,
        keep: bool,
        scale: f32,
    ) -> FloatTensor<Self> {
        match PartitionMaskBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::partition_mask(
                    input.primitive().clone(),
                    partitions.clone(),
                    phase,
                    keep,
                    scale,
                );
                prep.finish((partitions, phase, keep, scale), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::partition_mask(
                input.into_primitive(),
                partitions,
                phase,
                keep,
                scale,
            )),
        }
    }
}

#[cfg(feature = "wgpu")]
mod cube {
    use burn::backend::TensorMetadata;
    use burn::backend::cubecl::dtype_to_storage_type;
    use burn::backend::tensor::{FloatTensor, IntTensor};
    use burn_cubecl::CubeBackend;
    use burn_cubecl::cubecl;
    use burn_cubecl::cubecl::prelude::*;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::ops::numeric::empty_device_dtype;

    use super::PartitionMaskBackend;

    /// One unit per element of `input: [batch, neurons, inner]`; `partitions: [rows, neurons, 1]`.
    #[cube(launch)]
    fn partition_mask_kernel<F: Float, I: Numeric>(
        input: &Tensor<F>,
        partitions: &Tensor<I>,
        output: &mut Tensor<F>,
        phase: u32,
        keep: u32,
        scale: f32,
        #[define(F, I)] _dtypes: [ElemType; 2],
    ) {
        let pos = ABSOLUTE_POS;
        if pos >= output.len() {
            terminate!();
        }
        let (neurons, inner) = (input.shape(1), input.shape(2));
        let row = if partitions.shape(0) == 1 {
            0usize
        } else {
            pos / (neurons * inner)
        };
        let neuron = (pos / inner) % neurons;
        let selected = u32::cast_from(partitions[row * neurons + neuron]) == phase;
        let kept = selected == (keep == 1);
        output[pos] = if kept {
            input[pos] * F::cast_from(scale)
        } else {
            F::new(0.0)
        };
    }

    impl PartitionMaskBackend for CubeBackend {
        fn partition_mask(
            input: FloatTensor<Self>,
            partitions: IntTensor<Self>,
            phase: u32,
            keep: bool,
            scale: f32,
        ) -> FloatTensor<Self> {
            super::CUBE_LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (input, partitions) = (into_contiguous(input), into_contiguous(partitions));
            let shape = input.shape();
            let output = empty_device_dtype(
                input.client.clone(),
                input.device.clone(),
                shape.clone(),
                input.dtype,
            );
            let units = shape.num_elements();
            // The kernel indexes with 32 bits: refuse what would wrap around.
            mcnn_backends::check_addressable("partition dropout's mask", units);
            if units == 0 {
                return output;
            }
            let cube_dim = CubeDim::new(&input.client, units);
            let cube_count = cubecl::calculate_cube_count_elemwise(&input.client, units, cube_dim);
            let dtypes = [
                dtype_to_storage_type(input.dtype),
                dtype_to_storage_type(partitions.dtype),
            ];
            partition_mask_kernel::launch(
                &input.client.clone(),
                cube_count,
                cube_dim,
                input.into_tensor_arg(),
                partitions.into_tensor_arg(),
                output.clone().into_tensor_arg(),
                phase,
                keep as u32,
                scale,
                dtypes,
            );
            output
        }
    }
}
