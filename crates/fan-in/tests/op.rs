//! The fan-in op on every compiled backend against independent expectations: the dense
//! product, the plain-Burn reference and its autodiff gradients, and central finite
//! differences. Each check also proves the custom path ran.

mod common;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData, Tolerance};
use mcnn_backends::{BackendKind, for_each_backend, host_device};
use mcnn_fan_in::probe::{self, Path};
use mcnn_fan_in::{dense_weight, fan_in, fan_in_reference, try_fan_in};

fn tolerance() -> Tolerance<f32> {
    Tolerance::absolute(1e-4)
}

/// The forward, weight-gradient and input-gradient paths a backend is expected to run.
fn paths(kind: BackendKind) -> [Path; 3] {
    match kind {
        BackendKind::Wgpu => [Path::CubeForward, Path::CubeWeightGrad, Path::CubeInputGrad],
        _ => [Path::CpuForward, Path::CpuWeightGrad, Path::CpuInputGrad],
    }
}

/// Runs `f` and asserts that it ran `path` at least once more. `f` must read its results:
/// with Burn's fusion the kernels run when a value is read, not when it is requested.
fn ran<T>(path: Path, f: impl FnOnce() -> T) -> T {
    let before = probe::count(path);
    let value = f();
    assert!(probe::count(path) > before, "{path:?} did not run");
    value
}

#[test]
fn forward_equals_the_dense_product_and_the_reference() {
    let host = host_device();
    let c = common::case(&host, 6, 11, 9, 4);
    let dense = dense_weight(c.weight.clone(), c.indices.clone(), c.d_input);
    let expected = c.input.clone().matmul(dense.transpose()) + c.bias.clone().unsqueeze_dim(0);
    let expected = expected.into_data();
    fan_in_reference(c.input.clone(), c.weight.clone(), c.indices.clone())
        .add(c.bias.clone().unsqueeze_dim(0))
        .into_data()
        .assert_approx_eq::<f32>(&expected, tolerance());
    for_each_backend(|kind, device| {
        let c = c.to_device(&device);
        let y = ran(paths(kind)[0], || {
            fan_in(c.input, c.weight, c.indices, Some(c.bias)).into_data()
        });
        y.assert_approx_eq::<f32>(&expected, tolerance());
    });
}

#[test]
fn hand_computed_values_with_duplicate_indices() {
    for_each_backend(|_, device| {
        let x = Tensor::<2>::from_floats([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]], &device);
        let indices = Tensor::from_ints([[1, 1, 0], [2, 0, 0]], &device);
        let weight = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], &device);
        let y = fan_in(x, weight, indices, None);
        y.into_data()
            .assert_eq(&TensorData::from([[33.0f32, -99.5], [66.0, -199.0]]), false);
    });
}

/// Gradients through the autodiff backend, against values worked out by hand (the same
/// example as above): `L = Σ dy ⊙ y` with a fixed `dy`.
#[test]
fn hand_computed_gradients_with_duplicate_indices() {
    for_each_backend(|_, device| {
        let ad = device.autodiff();
        let x = Tensor::<2>::from_floats([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]], &ad);
        let w = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], &ad);
        let (x, w) = (x.autodiff().require_grad(), w.autodiff().require_grad());
        let indices = Tensor::from_ints([[1, 1, 0], [2, 0, 0]], &ad);
        let dy = Tensor::<2>::from_floats([[1.0, 2.0], [-1.0, 0.5]], &ad);
        let grads = (fan_in(x.clone(), w.clone(), indices, None) * dy)
            .sum()
            .backward();
        // dw[o,m] = Σ_b dy[b,o] x[b, idx[o,m]]; dx[b,j] = Σ_{idx[o,m]=j} w[o,m] dy[b,o].
        let dw = TensorData::from([[-10.0f32, -10.0, -1.0], [300.0, 3.0, 3.0]]);
        let dx = TensorData::from([[4.0f32, 3.0, -2.0], [-2.75, -3.0, -0.5]]);
        w.grad(&grads).unwrap().into_data().assert_eq(&dw, false);
        x.grad(&grads).unwrap().into_data().assert_eq(&dx, false);
    });
}

#[test]
fn gradients_equal_autodiff_of_the_reference() {
    let host = host_device();
    let c = common::case(&host, 5, 13, 8, 6);
    host.seed(5);
    let r = Tensor::<2>::random([5, 8], Distribution::Normal(0.0, 1.0), &host);
    // Reference gradients by Burn's autodiff on the host.
    let ad = host.clone().autodiff();
    let (x, w) = (
        c.input.clone().to_device(&ad).autodiff().require_grad(),
        c.weight.clone().to_device(&ad).autodiff().require_grad(),
    );
    let y = fan_in_reference(x.clone(), w.clone(), c.indices.clone().to_device(&ad));
    let grads = (y.clone() * r.clone().to_device(&ad) + y.powf_scalar(2.0) * 0.5)
        .sum()
        .backward();
    let (dx, dw) = (
        x.grad(&grads).unwrap().into_data(),
        w.grad(&grads).unwrap().into_data(),
    );

    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let c = c.to_device(&ad);
        let (x, w) = (
            c.input.autodiff().require_grad(),
            c.weight.autodiff().require_grad(),
        );
        let [_, weight_grad, input_grad] = paths(kind);
        let (x_grad, w_grad) = ran(Path::AutodiffBackward, || {
            ran(weight_grad, || {
                ran(input_grad, || {
                    let y = fan_in(x.clone(), w.clone(), c.indices, None);
                    let loss = y.clone() * r.clone().to_device(&ad) + y.powf_scalar(2.0) * 0.5;
                    let grads = loss.sum().backward();
                    let x_grad = x.grad(&grads).unwrap().into_data();
                    (x_grad, w.grad(&grads).unwrap().into_data())
                })
            })
        });
        x_grad.assert_approx_eq::<f32>(&dx, tolerance());
        w_grad.assert_approx_eq::<f32>(&dw, tolerance());
    });
}

/// `L = Σ r ⊙ y + ½ Σ y²` is quadratic in each of `x` and `w`, so central differences are
/// exact up to rounding: the step can be large and the comparison tight.
#[test]
fn gradients_match_central_finite_differences() {
    let host = host_device();
    let c = common::case(&host, 3, 7, 5, 3);
    host.seed(9);
    let r = Tensor::<2>::random([3, 5], Distribution::Normal(0.0, 1.0), &host);
    let loss = |x: Tensor<2>, w: Tensor<2>, device: &Device| -> f64 {
        let y = fan_in(x, w, c.indices.clone().to_device(device), None);
        let l = (y.clone() * r.clone().to_device(device) + y.powf_scalar(2.0) * 0.5).sum();
        l.into_scalar::<f32>() as f64
    };
    for_each_backend(|_, device| {
        let ad = device.clone().autodiff();
        let (x, w) = (
            c.input.clone().to_device(&ad).autodiff().require_grad(),
            c.weight.clone().to_device(&ad).autodiff().require_grad(),
        );
        let y = fan_in(x.clone(), w.clone(), c.indices.clone().to_device(&ad), None);
        let grads = (y.clone() * r.clone().to_device(&ad) + y.powf_scalar(2.0) * 0.5)
            .sum()
            .backward();
        let dx = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let dw = w
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();

        let h = 0.05f32;
        let central = |values: &TensorData, at: usize, rebuild: &dyn Fn(TensorData) -> f64| {
            common::central_difference(values, at, h, rebuild)
        };
        let (xd, wd) = (c.input.to_data(), c.weight.to_data());
        for (at, analytic) in dx.iter().enumerate() {
            let fd = central(&xd, at, &|x| {
                loss(
                    Tensor::from_data(x, &device),
                    c.weight.clone().to_device(&device),
                    &device,
                )
            });
            assert!(
                (fd - *analytic as f64).abs() < 2e-3 * (1.0 + fd.abs()),
                "dx[{at}]: fd {fd} vs {analytic}"
            );
        }
        for (at, analytic) in dw.iter().enumerate() {
            let fd = central(&wd, at, &|w| {
                loss(
                    c.input.clone().to_device(&device),
                    Tensor::from_data(w, &device),
                    &device,
                )
            });
            assert!(
                (fd - *analytic as f64).abs() < 2e-3 * (1.0 + fd.abs()),
                "dw[{at}]: fd {fd} vs {analytic}"
            );
        }
    });
}

#[test]
fn inputs_of_any_rank_keep_their_leading_axes() {
    for_each_backend(|_, device| {
        let c = common::case(&device, 6, 5, 4, 2);
        let flat = fan_in(c.input.clone(), c.weight.clone(), c.indices.clone(), None);
        let cube = fan_in(c.input.reshape([2, 3, 5]), c.weight, c.indices, None);
        assert_eq!(cube.dims(), [2, 3, 4]);
        cube.reshape([6, 4])
            .into_data()
            .assert_eq(&flat.into_data(), true);
    });
}

#[test]
fn bad_shapes_are_errors_naming_the_parameter() {
    let host = host_device();
    let c = common::case(&host, 2, 5, 4, 3);
    let wrong_indices = c.indices.clone().slice([0..4, 0..2]);
    let error = try_fan_in(c.input.clone(), c.weight.clone(), wrong_indices, None).unwrap_err();
    assert_eq!(error.parameter, "indices");
    assert_eq!(
        error.to_string(),
        "invalid `indices` = shape [4, 2]: the shape of `weight`, [4, 3]"
    );
    let error = try_fan_in(
        c.input,
        c.weight,
        c.indices,
        Some(Tensor::zeros([3], &host)),
    )
    .unwrap_err();
    assert_eq!(error.parameter, "bias");
}

#[test]
#[should_panic(
    expected = "fan-in index 5 at flat position 1 is out of range: indices must lie in 0..5"
)]
fn an_index_out_of_range_panics_on_the_cpu() {
    let host = host_device();
    let x = Tensor::<2>::ones([1, 5], &host);
    let indices = Tensor::from_ints([[0, 5]], &host);
    let _ = fan_in(x, Tensor::ones([1, 2], &host), indices, None).into_data();
}

/// `try_fan_in` looks for indices out of range and says so instead of panicking, on every
/// backend (on the GPU they would read undefined memory).
#[test]
fn try_fan_in_returns_an_error_for_an_index_out_of_range() {
    for_each_backend(|kind, device| {
        let x = Tensor::<2>::ones([1, 5], &device);
        for (bad, shown) in [(5, "holding 5"), (-1, "holding -1")] {
            let indices = Tensor::<2, Int>::from_ints([[0, bad]], &device);
            let error =
                try_fan_in(x.clone(), Tensor::ones([1, 2], &device), indices, None).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid `indices` = {shown}: every index in 0..5 (d_input, the input's \
                     last axis)"
                ),
                "{kind}"
            );
        }
        let fine = Tensor::<2, Int>::from_ints([[0, 4]], &device);
        assert!(try_fan_in(x, Tensor::ones([1, 2], &device), fine, None).is_ok());
    });
}

/// Zero-size axes give the empty (or zero) result on every backend, as the reference does,
/// forward and backward.
#[test]
fn empty_shapes_on_every_backend() {
    for_each_backend(|kind, device| {
        for (batch, d_input, d_output, k) in
            [(0, 3, 2, 2), (2, 1, 0, 2), (2, 3, 2, 0), (1, 1, 1, 1)]
        {
            let ad = device.clone().autodiff();
            let x = Tensor::<2>::ones([batch, d_input], &ad).require_grad();
            let w = Tensor::<2>::ones([d_output, k], &ad).require_grad();
            let indices = Tensor::<2, Int>::zeros([d_output, k], &ad);
            let y = try_fan_in(x.clone(), w.clone(), indices, None).unwrap();
            assert_eq!(y.dims(), [batch, d_output], "{kind}");
            let grads = y.sum().backward();
            assert_eq!(
                x.grad(&grads).map(|g| g.dims()),
                Some([batch, d_input]),
                "{kind}"
            );
            let expected = (batch * d_output * k > 0) as usize as f32 * batch as f32;
            if let Some(dw) = w.grad(&grads) {
                assert_eq!(dw.dims(), [d_output, k], "{kind}");
                let values = dw
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap();
                assert!(values.iter().all(|&v| v == expected), "{kind}: {values:?}");
            }
        }
    });
}
