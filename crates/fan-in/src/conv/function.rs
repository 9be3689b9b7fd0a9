//! The direct sparse convolution as a function on tensors.

use burn::backend::Dispatch;
use burn::tensor::{Int, Tensor};

use super::{FanInConvBackend, TapGeometry};
use crate::FanInError;
use crate::function::{check_edges, check_range};

/// `output[b, o, oy, ox] = Σ_m weight[o,m] · input[b, c, oy·sy + ky·dy, ox·sx + kx·dx] (+
/// bias[o])` where `taps[o,m] = (c · kh + ky) · kw + kx`: a convolution whose filters hold
/// only their `k` sampled taps, with the custom forward and backward of
/// [`FanInConvBackend`]. The input is padded already (no padding here); groups are taps of
/// the group's channels. Panics on bad shapes; see [`try_fan_in_conv`].
///
/// As with [`fan_in`](crate::fan_in), taps out of `0..c_in · kh · kw` are not looked for
/// (the CPU backends panic naming the first, the GPU would read an undefined value); validate
/// them once when you build them, or call [`try_fan_in_conv`].
///
/// # Shapes
/// - input: `[batch, c_in, height, width]`
/// - weight, taps: `[c_out, k]`
/// - bias: `[c_out]`
/// - output: `[batch, c_out, height_out, width_out]` (see [`TapGeometry::output_size`])
///
/// ```
/// # #[cfg(feature = "flex")] {
/// use burn::tensor::{Device, Int, Tensor};
/// use mcnn_fan_in::{TapGeometry, fan_in_conv};
///
/// let device = Device::flex();
/// let x = Tensor::<1, Int>::arange(0..18, &device).float().reshape([1, 2, 3, 3]);
/// // One 2×2 filter with two taps: channel 0 at (0, 0) times 1, channel 1 at (1, 1) times 10.
/// let taps = Tensor::from_ints([[0, 7]], &device);
/// let weight = Tensor::<2>::from_floats([[1.0, 10.0]], &device);
/// let y = fan_in_conv(x, weight, taps, TapGeometry::new([2, 2]), None);
/// let expected = [0.0 + 130.0, 1.0 + 140.0, 3.0 + 160.0, 4.0 + 170.0];
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), expected);
/// # }
/// ```
pub fn fan_in_conv(
    input: Tensor<4>,
    weight: Tensor<2>,
    taps: Tensor<2, Int>,
    geometry: TapGeometry,
    bias: Option<Tensor<1>>,
) -> Tensor<4> {
    apply(input, weight, taps, geometry, bias, false).unwrap_or_else(|error| panic!("{error}"))
}

/// [`fan_in_conv`] that returns errors instead of panicking: a zero size in the window, an
/// input smaller than the dilated kernel, bad shapes, and taps out of `0..c_in · kh · kw`
/// (found by a min and a max reduction, read back to the host together).
pub fn try_fan_in_conv(
    input: Tensor<4>,
    weight: Tensor<2>,
    taps: Tensor<2, Int>,
    geometry: TapGeometry,
    bias: Option<Tensor<1>>,
) -> Result<Tensor<4>, FanInError> {
    apply(input, weight, taps, geometry, bias, true)
}

fn apply(
    input: Tensor<4>,
    weight: Tensor<2>,
    taps: Tensor<2, Int>,
    geometry: TapGeometry,
    bias: Option<Tensor<1>>,
    check_taps: bool,
) -> Result<Tensor<4>, FanInError> {
    geometry.check()?;
    let [_, channels, height, width] = input.dims();
    if geometry.output_size([height, width]).is_none() {
        return Err(FanInError::new(
            "input",
            format!("of {height} × {width}"),
            format!(
                "at least the dilated kernel, {} × {}",
                geometry.dilation[0] * (geometry.kernel_size[0] - 1) + 1,
                geometry.dilation[1] * (geometry.kernel_size[1] - 1) + 1
            ),
        ));
    }
    if taps.dims() != weight.dims() {
        return Err(FanInError::new(
            "taps",
            format!("shape {:?}", taps.dims()),
            format!("the shape of `weight`, {:?}", weight.dims()),
        ));
    }
    check_edges(&weight, &taps, bias.as_ref())?;
    if check_taps {
        let taps_in = channels * geometry.taps_per_channel();
        check_range("taps", &taps, taps_in, "c_in · kh · kw, the filter's taps")?;
    }
    let output = Tensor::<4>::from_dispatch(<Dispatch as FanInConvBackend>::fan_in_conv_forward(
        input.into_dispatch(),
        weight.into_dispatch(),
        taps.into_dispatch(),
        geometry,
    ));
    Ok(match bias {
        Some(bias) => output + bias.reshape([1, -1, 1, 1]),
        None => output,
    })
}
