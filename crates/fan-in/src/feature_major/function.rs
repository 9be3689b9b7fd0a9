//! The feature-major ops as functions on tensors.

use burn::backend::Dispatch;
use burn::tensor::{Int, Tensor};

use super::{FeatureMajorBackend, LANES};
use crate::FanInError;
use crate::function::{check_edges, check_range};

/// A batch `[batch, features]` in the feature-major layout `[⌈batch / LANES⌉, features,
/// LANES]`: `xt[n, j, l] = x[n · LANES + l, j]`, lanes past the batch zero. Differentiable
/// (its gradient is [`from_feature_major`] of the output gradient).
pub fn to_feature_major(input: Tensor<2>) -> Tensor<3> {
    Tensor::from_dispatch(<Dispatch as FeatureMajorBackend>::feature_major_from_rows(
        input.into_dispatch(),
    ))
}

/// The first `batch` samples of feature-major activations `[blocks, features, LANES]`, as
/// rows `[batch, features]`: the inverse of [`to_feature_major`]. Differentiable.
///
/// # Panics
/// If the blocks are not `[⌈batch / LANES⌉, features, LANES]`.
pub fn from_feature_major(input: Tensor<3>, batch: usize) -> Tensor<2> {
    let [blocks, _, lanes] = input.dims();
    assert!(
        lanes == LANES && blocks == batch.div_ceil(LANES),
        "from_feature_major: blocks of shape {:?} for a batch of {batch}: [{}, features, {LANES}] \
         expected",
        input.dims(),
        batch.div_ceil(LANES)
    );
    Tensor::from_dispatch(<Dispatch as FeatureMajorBackend>::feature_major_to_rows(
        input.into_dispatch(),
        batch,
    ))
}

/// The fan-in op on feature-major activations: `output[n, o, l] = Σ_k weight[o,k] · input[n,
/// indices[o,k], l] (+ bias[o])`, the same values as [`fan_in`](crate::fan_in) on the rows,
/// without transposing them in or out (see [the module](crate::feature_major)). Panics on
/// bad shapes; see [`try_fan_in_feature_major`].
///
/// Indices out of `0..d_input` are an error that this function does not look for, as
/// [`fan_in`](crate::fan_in): the CPU backends check every index and panic with its position;
/// on the GPU such an index reads an undefined value (in this layout, possibly a feature of
/// other samples) and is left out of the input gradient. Validate indices once when you build
/// them, as `PathLinear` does, or call [`try_fan_in_feature_major`].
///
/// # Shapes
/// - input: `[blocks, d_input, LANES]` (from [`to_feature_major`] or a previous layer)
/// - weight, indices: `[d_output, k]`
/// - bias: `[d_output]`
/// - output: `[blocks, d_output, LANES]`
///
/// ```
/// # #[cfg(feature = "flex")] {
/// use burn::tensor::{Device, Distribution, Tensor};
/// use mcnn_fan_in::{fan_in, fan_in_feature_major, from_feature_major, to_feature_major};
///
/// let device = Device::flex();
/// let x = Tensor::<2>::random([100, 6], Distribution::Default, &device);
/// let indices = Tensor::from_ints([[0, 5], [2, 2], [4, 1]], &device);
/// let weight = Tensor::<2>::from_floats([[1.0, -1.0], [0.5, 0.5], [2.0, 3.0]], &device);
/// let hidden = fan_in_feature_major(to_feature_major(x.clone()), weight.clone(), indices.clone(), None);
/// let rows = from_feature_major(hidden, 100);
/// rows.into_data().assert_eq(&fan_in(x, weight, indices, None).into_data(), true);
/// # }
/// ```
pub fn fan_in_feature_major(
    input: Tensor<3>,
    weight: Tensor<2>,
    indices: Tensor<2, Int>,
    bias: Option<Tensor<1>>,
) -> Tensor<3> {
    apply(input, weight, indices, bias, false).unwrap_or_else(|error| panic!("{error}"))
}

/// [`fan_in_feature_major`] that returns errors instead of panicking: bad shapes, and indices
/// out of `0..d_input` (found by a min and a max reduction, read back to the host together).
pub fn try_fan_in_feature_major(
    input: Tensor<3>,
    weight: Tensor<2>,
    indices: Tensor<2, Int>,
    bias: Option<Tensor<1>>,
) -> Result<Tensor<3>, FanInError> {
    apply(input, weight, indices, bias, true)
}

/// The op, after checking the shapes and, if `check_indices`, the range of the indices.
fn apply(
    input: Tensor<3>,
    weight: Tensor<2>,
    indices: Tensor<2, Int>,
    bias: Option<Tensor<1>>,
    check_indices: bool,
) -> Result<Tensor<3>, FanInError> {
    let [_, _, lanes] = input.dims();
    if lanes != LANES {
        return Err(FanInError::new(
            "input",
            format!("shape {:?}", input.dims()),
            format!("[blocks, d_input, {LANES}] (feature-major)"),
        ));
    }
    check_edges(&weight, &indices, bias.as_ref())?;
    if check_indices {
        let d_input = input.dims()[1];
        check_range(
            "indices",
            &indices,
            d_input,
            "d_input, the input's features",
        )?;
    }
    let output =
        Tensor::<3>::from_dispatch(<Dispatch as FeatureMajorBackend>::feature_major_forward(
            input.into_dispatch(),
            weight.into_dispatch(),
            indices.into_dispatch(),
        ));
    Ok(match bias {
        Some(bias) => output + bias.reshape([1, -1, 1]),
        None => output,
    })
}
