//! Backend selection for mcnn, and the harness that runs one test on every backend.
//!
//! Burn 0.22 picks the backend at run time through the [`Device`](burn::tensor::Device); which backends exist is
//! decided at compile time by features (`flex`, `ndarray`, `wgpu`). This crate names them
//! ([`BackendKind`]), parses them from the command line with clear errors, and gives the
//! tools to start every backend from the *same* weights: parameters are initialised lazily,
//! so a module must be materialised on the host before it is forked
//! ([`materialize`], [`fork_identical`]).
//!
//! ```
//! use mcnn_backends::BackendKind;
//!
//! for kind in BackendKind::compiled() {
//!     let device = kind.device();
//!     let x = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], &device);
//!     assert_eq!(x.sum().into_scalar::<f32>(), 3.0);
//! }
//! ```
#![allow(deprecated)] // NdArray is deprecated upstream in favour of Flex; we keep testing it.

/// The `Module` methods of a module whose state lives on the host, not in tensors on a device
/// (a recorded size, a step count): no devices to collect, nothing to move or fork, the same
/// in training and inference. Written inside the `impl Module` block, beside its `visit` and
/// `map`.
macro_rules! host_state_module {
    () => {
        fn collect_devices(&self, devices: burn::module::Devices) -> burn::module::Devices {
            devices
        }

        fn fork(self, _device: &burn::tensor::Device) -> Self {
            self
        }

        fn to_device(self, _device: &burn::tensor::Device) -> Self {
            self
        }

        fn train(self) -> Self {
            self
        }

        fn valid(&self) -> Self {
            self.clone()
        }

        fn materialize(self) -> Self {
            self
        }
    };
}

mod addressing;
pub mod bench;
mod harness;
mod host;
mod kind;
pub mod memory;
mod param_error;
mod recorded_size;
mod step_counter;

pub use addressing::check_addressable;
pub use harness::{for_each_backend, fork_identical, host_device, materialize};
pub use host::{host_ints, host_values};
pub use kind::{BackendError, BackendKind};
pub use param_error::ParamError;
pub use recorded_size::RecordedSize;
pub use step_counter::StepCounter;
