//! The 32-bit addressing of this workspace's CubeCL kernels.

/// Checks that a tensor of `elements` elements fits a CubeCL kernel of this workspace: they
/// index with CubeCL's default 32-bit positions and buffer lengths, so a tensor of `2^32`
/// elements or more would wrap around silently.
///
/// # Panics
/// If `elements` is `2^32` or more, naming `op`.
pub fn check_addressable(op: &str, elements: usize) {
    assert!(
        u32::try_from(elements).is_ok(),
        "{op}: a tensor of {elements} elements on a CubeCL device; its kernels index with 32 \
         bits, at most 2^32 − 1 elements per tensor (split the batch)"
    );
}

#[cfg(test)]
mod tests {
    use super::check_addressable;

    #[test]
    fn tensors_of_up_to_u32_max_elements_are_addressable() {
        check_addressable("fan_in", u32::MAX as usize);
    }

    #[test]
    #[should_panic(expected = "fan_in: a tensor of 4294967296 elements on a CubeCL device")]
    fn a_tensor_of_2_to_the_32_elements_is_refused_naming_the_op() {
        check_addressable("fan_in", 1 << 32);
    }
}
