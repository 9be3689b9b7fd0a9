//! Where the taps of a sparse filter read: kernel size, stride and dilation.

use crate::FanInError;

/// The window of the direct sparse convolution ([`fan_in_conv`](crate::fan_in_conv)): a
/// filter's tap `t = (c · kh + ky) · kw + kx` reads input channel `c` at `(oy · stride[0] +
/// ky · dilation[0], ox · stride[1] + kx · dilation[1])` for output position `(oy, ox)`. The
/// input comes padded already (as `Conv2d` pads it), so there is no padding here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TapGeometry {
    /// Kernel height and width `[kh, kw]`.
    pub kernel_size: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Dilation along height and width.
    pub dilation: [usize; 2],
}

impl TapGeometry {
    /// A kernel of `kernel_size`, stride and dilation 1.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        Self {
            kernel_size,
            stride: [1, 1],
            dilation: [1, 1],
        }
    }

    /// The same window with another stride.
    pub fn with_stride(self, stride: [usize; 2]) -> Self {
        Self { stride, ..self }
    }

    /// The same window with another dilation.
    pub fn with_dilation(self, dilation: [usize; 2]) -> Self {
        Self { dilation, ..self }
    }

    /// Taps per input channel, `kh · kw`.
    pub fn taps_per_channel(&self) -> usize {
        self.kernel_size[0] * self.kernel_size[1]
    }

    /// The output's `[height, width]` for an input of `[height, width]`, `None` where the
    /// dilated kernel does not fit.
    pub fn output_size(&self, input: [usize; 2]) -> Option<[usize; 2]> {
        let size = |a: usize| {
            let span = self.dilation[a] * (self.kernel_size[a] - 1) + 1;
            (input[a] >= span).then(|| (input[a] - span) / self.stride[a] + 1)
        };
        Some([size(0)?, size(1)?])
    }

    /// Checks that every size, stride and dilation is at least 1.
    ///
    /// # Errors
    /// A [`FanInError`] naming the parameter and its value.
    pub fn check(&self) -> Result<(), FanInError> {
        for (name, value) in [
            ("kernel_size", self.kernel_size),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            if value.contains(&0) {
                return Err(FanInError::new(
                    name,
                    format!("{value:?}"),
                    "at least 1 along both axes",
                ));
            }
        }
        Ok(())
    }

    /// Where tap `t` reads, relative to the output position's corner, in a sample's flattened
    /// input `[channels, height, width]`.
    pub(crate) fn tap_offset(&self, tap: usize, [height, width]: [usize; 2]) -> usize {
        let [kh, kw] = self.kernel_size;
        let (channel, ky, kx) = (tap / (kh * kw), tap / kw % kh, tap % kw);
        (channel * height + ky * self.dilation[0]) * width + kx * self.dilation[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_as_conv2d_computes_them() {
        let window = TapGeometry::new([3, 5]);
        assert_eq!(window.output_size([8, 8]), Some([6, 4]));
        // ⌊(10 − 5) / 2⌋ + 1 = 3 rows; columns: span 2·4 + 1 = 9, ⌊(12 − 9) / 3⌋ + 1 = 2.
        let strided = TapGeometry::new([5, 5])
            .with_stride([2, 3])
            .with_dilation([1, 2]);
        assert_eq!(strided.output_size([10, 12]), Some([3, 2]));
        assert_eq!(strided.output_size([10, 8]), None);
    }

    #[test]
    fn tap_offsets_by_hand() {
        let window = TapGeometry::new([3, 2]).with_dilation([2, 3]);
        // Tap 11 = channel 1, ky 2, kx 1 in a 7 × 10 plane: (1·7 + 2·2)·10 + 1·3.
        assert_eq!(window.tap_offset(11, [7, 10]), 113);
        assert_eq!(window.tap_offset(0, [7, 10]), 0);
    }

    #[test]
    fn zero_sizes_are_errors_naming_the_parameter() {
        let error = TapGeometry::new([3, 3])
            .with_stride([1, 0])
            .check()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid `stride` = [1, 0]: at least 1 along both axes"
        );
        assert!(TapGeometry::new([1, 1]).check().is_ok());
    }
}
