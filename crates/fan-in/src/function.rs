//! The fan-in op as a function on tensors, for users who want it without the module.

use burn::backend::Dispatch;
use burn::tensor::{Int, Tensor};

use crate::{FanInBackend, FanInError};

/// `output[.., o] = Σ_k weight[o,k] · input[.., indices[o,k]] (+ bias[o])`, with the custom
/// forward and backward of [`FanInBackend`]. Panics on bad shapes; see [`try_fan_in`].
///
/// Indices out of `0..d_input` are an error that this function does not look for (it would
/// cost a read back per call): the CPU backends check every index and panic with its
/// position; on the GPU an out-of-range index reads an undefined value and is left out of the
/// input gradient. Validate indices once
/// when you build them, as the layers do, or call [`try_fan_in`], which checks them.
///
/// # Shapes
/// - input: `[..., d_input]`
/// - weight, indices: `[d_output, k]`
/// - bias: `[d_output]`
/// - output: `[..., d_output]`
pub fn fan_in<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    indices: Tensor<2, Int>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    apply(input, weight, indices, bias, false).unwrap_or_else(|error| panic!("{error}"))
}

/// [`fan_in`] that returns errors instead of panicking: bad shapes, and indices out of
/// `0..d_input` (found by a min and a max reduction, read back to the host together).
pub fn try_fan_in<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    indices: Tensor<2, Int>,
    bias: Option<Tensor<1>>,
) -> Result<Tensor<D>, FanInError> {
    apply(input, weight, indices, bias, true)
}

/// The op, after checking the shapes and, if `check_indices`, the range of the indices.
fn apply<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    indices: Tensor<2, Int>,
    bias: Option<Tensor<1>>,
    check_indices: bool,
) -> Result<Tensor<D>, FanInError> {
    if D == 0 {
        return Err(FanInError::new(
            "input",
            "a rank-0 tensor",
            "rank 1 or more: [..., d_input]",
        ));
    }
    let dims = input.dims();
    let d_input = dims[D - 1];
    let d_output = check_edges(&weight, &indices, bias.as_ref())?;
    if check_indices {
        check_range(
            "indices",
            &indices,
            d_input,
            "d_input, the input's last axis",
        )?;
    }
    let rows = dims[..D - 1].iter().product();
    let flat = input.reshape([rows, d_input]);
    let output = Tensor::<2>::from_dispatch(<Dispatch as FanInBackend>::fan_in_forward(
        flat.into_dispatch(),
        weight.into_dispatch(),
        indices.into_dispatch(),
    ));
    let output = match bias {
        Some(bias) => output + bias.unsqueeze_dim(0),
        None => output,
    };
    let mut out_dims = dims;
    out_dims[D - 1] = d_output;
    Ok(output.reshape(out_dims))
}

/// Checks that every value of `indices` (the parameter `name`) lies in `0..bound`, which
/// `what` explains.
pub(crate) fn check_range(
    name: &'static str,
    indices: &Tensor<2, Int>,
    bound: usize,
    what: &str,
) -> Result<(), FanInError> {
    if indices.dims().contains(&0) {
        return Ok(());
    }
    // One read-back for both extremes.
    let extremes = Tensor::cat(vec![indices.clone().min(), indices.clone().max()], 0);
    let extremes = extremes
        .into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .expect("integers");
    match (extremes[0], extremes[1]) {
        (low, _) if low < 0 => Err(FanInError::new(
            name,
            format!("holding {low}"),
            format!("every index in 0..{bound} ({what})"),
        )),
        (_, high) if high >= bound as i64 => Err(FanInError::new(
            name,
            format!("holding {high}"),
            format!("every index in 0..{bound} ({what})"),
        )),
        _ => Ok(()),
    }
}

/// Checks that `indices` has the shape of `weight`, `[d_output, k]`, and `bias` the shape
/// `[d_output]`; returns `d_output`.
pub(crate) fn check_edges(
    weight: &Tensor<2>,
    indices: &Tensor<2, Int>,
    bias: Option<&Tensor<1>>,
) -> Result<usize, FanInError> {
    let [d_output, k] = weight.dims();
    if indices.dims() != [d_output, k] {
        return Err(FanInError::new(
            "indices",
            format!("shape {:?}", indices.dims()),
            format!("the shape of `weight`, [{d_output}, {k}]"),
        ));
    }
    if let Some(bias) = bias
        && bias.dims() != [d_output]
    {
        return Err(FanInError::new(
            "bias",
            format!("shape {:?}", bias.dims()),
            format!("[{d_output}] (d_output)"),
        ));
    }
    Ok(d_output)
}
