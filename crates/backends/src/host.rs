//! Reading tensors back to the host.

use burn::tensor::{Int, Tensor};

/// The values of a float tensor on the host as `f32`, row-major, whatever its dtype and
/// device (a read back from the device: one sync).
///
/// It reads a fresh copy (`tensor · 1`, the same values, NaN and −0 included): with Burn 0.22,
/// reading a tensor whose storage is shared, as a module's parameters are, took about 5 ms for
/// 235 k weights on ndarray against 0.02 ms for the fresh copy (the `read_` rows of
/// `cargo bench -p sampled-linear --bench sampled_linear`; docs/RESULTS.md).
pub fn host_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .mul_scalar(1.0)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 after convert")
}

/// The integers of `tensor` on the host as `i32` (a backend's wider integers narrowed), read
/// through a fresh copy (`tensor + 0`) for the reason [`host_values`] gives.
pub fn host_ints<const D: usize>(tensor: Tensor<D, Int>) -> Vec<i32> {
    tensor
        .add_scalar(0)
        .into_data()
        .convert::<i32>()
        .try_into_vec::<i32>()
        .expect("i32 after convert")
}

#[cfg(all(test, any(feature = "flex", feature = "ndarray")))]
mod tests {
    use super::*;
    use burn::tensor::DType;

    #[test]
    fn integers_come_back_as_i32_with_their_bits() {
        let device = crate::host_device();
        // A packed word with the top bit set reads back as the same 32 bits.
        let words = [1, -2, i32::MIN, 0x7fff_ffff];
        let x = Tensor::<1, Int>::from_ints(words, &device);
        assert_eq!(host_ints(x), words);
    }

    #[test]
    fn values_of_a_half_precision_tensor_come_back_as_f32() {
        let device = crate::host_device();
        let x = Tensor::<2>::from_floats([[1.0, -2.5], [0.25, 4.0]], &device);
        assert_eq!(host_values(x.clone()), vec![1.0, -2.5, 0.25, 4.0]);
        if device.supports_dtype(DType::F16) {
            assert_eq!(host_values(x.cast(DType::F16)), vec![1.0, -2.5, 0.25, 4.0]);
        }
    }
}
