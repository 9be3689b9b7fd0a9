use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Int, Tensor};

use crate::BackendKind;

/// The device on which weights and data are created before they are forked to the backends
/// under comparison: the default CPU backend of the build.
///
/// Random streams differ between backends for the same seed, so anything random that must
/// be identical everywhere is drawn here.
///
/// # Panics
/// If no CPU backend (flex or ndarray) is compiled in.
pub fn host_device() -> Device {
    BackendKind::default_cpu()
        .unwrap_or_else(|err| panic!("{err}"))
        .device()
}

/// Forces every lazily initialised parameter of `module` to take its value now, on the
/// device it was created for.
///
/// Burn initialises parameters on first use; forking an uninitialised module re-draws its
/// weights on the target device's generator, so two backends would start from different
/// weights. Materialising first makes a later `fork` a copy.
pub fn materialize<M: Module>(module: M) -> M {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
        fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
    module
}

/// A copy of `module` on `device` holding exactly the same parameter values, whatever
/// backend `device` belongs to.
pub fn fork_identical<M: Module>(module: &M, device: &Device) -> M {
    materialize(module.clone()).fork(device)
}

/// Runs `test` once per compiled backend, with the backend's kind and default device.
///
/// The name of the backend is printed first, so that a failure in the output says where it
/// happened. Use [`fork_identical`] inside to start every backend from the same module.
///
/// ```
/// mcnn_backends::for_each_backend(|kind, device| {
///     let x = burn::tensor::Tensor::<2>::ones([2, 3], &device);
///     assert_eq!(x.sum().into_scalar::<f32>(), 6.0, "on {kind}");
/// });
/// ```
pub fn for_each_backend(mut test: impl FnMut(BackendKind, Device)) {
    let kinds = BackendKind::compiled();
    assert!(!kinds.is_empty(), "no backend compiled in");
    for kind in kinds {
        eprintln!("-- backend {kind}");
        test(kind, kind.device());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::TensorData;

    fn weights(linear: &Linear) -> TensorData {
        linear.weight.val().into_data()
    }

    #[test]
    fn forked_modules_start_from_identical_weights() {
        let host = host_device();
        host.seed(7);
        let model = LinearConfig::new(5, 3).init(&host);
        let expected = weights(&fork_identical(&model, &host));
        for_each_backend(|kind, device| {
            let forked = fork_identical(&model, &device);
            weights(&forked).assert_eq(&expected, true);
            assert_eq!(forked.weight.val().device(), device, "on {kind}");
        });
    }

    #[test]
    fn every_compiled_backend_is_visited_once() {
        let mut seen = Vec::new();
        for_each_backend(|kind, _| seen.push(kind));
        assert_eq!(seen, BackendKind::compiled());
    }
}
