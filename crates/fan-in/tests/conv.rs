//! The direct sparse convolution on every compiled backend against independent expectations:
//! hand-computed values, Burn's dense `conv2d` with the filters materialised and its autodiff
//! gradients, and central finite differences. Each check also proves the custom path ran.

mod common;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData, Tolerance};
use mcnn_backends::{BackendKind, for_each_backend, host_device};
use mcnn_fan_in::probe::{self, Path};
use mcnn_fan_in::{TapGeometry, fan_in_conv, fan_in_conv_reference, try_fan_in_conv};

/// The forward, weight-gradient and input-gradient paths a backend is expected to run.
fn paths(kind: BackendKind) -> [Path; 3] {
    match kind {
        BackendKind::Wgpu => [
            Path::CubeConvForward,
            Path::CubeConvWeightGrad,
            Path::CubeConvInputGrad,
        ],
        _ => [
            Path::CpuConvForward,
            Path::CpuConvWeightGrad,
            Path::CpuConvInputGrad,
        ],
    }
}

/// Runs `f` and asserts that it ran `path` at least once more (`f` must read its results).
fn ran<T>(path: Path, f: impl FnOnce() -> T) -> T {
    let before = probe::count(path);
    let value = f();
    assert!(probe::count(path) > before, "{path:?} did not run");
    value
}

/// Windows that exercise every tile shape of the CPU kernel and every index of the GPU's:
/// outputs wider and narrower than a tile, strides, dilations, non-square kernels.
fn geometries() -> Vec<(TapGeometry, [usize; 2])> {
    vec![
        (TapGeometry::new([3, 3]), [10, 12]),
        (TapGeometry::new([5, 5]), [14, 14]),
        (TapGeometry::new([2, 3]).with_stride([2, 1]), [9, 11]),
        (
            TapGeometry::new([3, 2])
                .with_stride([1, 2])
                .with_dilation([2, 3]),
            [11, 24],
        ),
        (TapGeometry::new([1, 1]), [3, 5]),
    ]
}

#[test]
fn hand_computed_values() {
    for_each_backend(|_, device| {
        // Channel 0 holds 0..9, channel 1 holds 10·(0..9), both 3 × 3.
        let values: Vec<f32> = (0..9)
            .chain((0..9).map(|v| 10 * v))
            .map(|v| v as f32)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 2, 3, 3]), &device);
        // A 2 × 2 window: filter 0 reads channel 0 at (1, 1) and channel 1 at (0, 0) twice;
        // filter 1 reads channel 1 at (0, 1).
        let taps = Tensor::<2, Int>::from_ints([[3, 4, 4], [5, 5, 5]], &device);
        let weight = Tensor::<2>::from_floats([[2.0, 0.5, 0.5], [1.0, 0.0, 0.0]], &device);
        let y = fan_in_conv(x, weight, taps, TapGeometry::new([2, 2]), None);
        // Filter 0: 2·x0[oy+1, ox+1] + x1[oy, ox]; filter 1: x1[oy, ox+1].
        let expected =
            TensorData::from([[[[8.0f32, 20.0], [44.0, 56.0]], [[10.0, 20.0], [40.0, 50.0]]]]);
        y.into_data().assert_eq(&expected, false);
    });
}

#[test]
fn forward_equals_burns_dense_convolution() {
    let host = host_device();
    for (geometry, size) in geometries() {
        let c = common::conv_case(&host, [3, 4, size[0], size[1]], 5, 7, geometry);
        let expected =
            fan_in_conv_reference(c.input.clone(), c.weight.clone(), c.taps.clone(), geometry)
                + c.bias.clone().reshape([1, -1, 1, 1]);
        let expected = expected.into_data();
        for_each_backend(|kind, device| {
            let c = c.to_device(&device);
            let y = ran(paths(kind)[0], || {
                fan_in_conv(c.input, c.weight, c.taps, geometry, Some(c.bias)).into_data()
            });
            assert_eq!(y.shape(), expected.shape(), "{kind} {geometry:?}");
            y.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-4));
        });
    }
}

/// `L = Σ r ⊙ y + ½ Σ y²`, with `y` the op's output.
fn loss(y: Tensor<4>, r: &Tensor<4>) -> Tensor<1> {
    (y.clone() * r.clone().to_device(&y.device()) + y.powf_scalar(2.0) * 0.5).sum()
}

#[test]
fn gradients_equal_autodiff_of_burns_convolution() {
    let host = host_device();
    for (geometry, size) in geometries() {
        let c = common::conv_case(&host, [2, 3, size[0], size[1]], 4, 5, geometry);
        let r_dims =
            fan_in_conv_reference(c.input.clone(), c.weight.clone(), c.taps.clone(), geometry)
                .dims();
        host.seed(5);
        let r = Tensor::<4>::random(r_dims, Distribution::Normal(0.0, 1.0), &host);
        let ad = host.clone().autodiff();
        let (x, w) = (
            c.input.clone().to_device(&ad).autodiff().require_grad(),
            c.weight.clone().to_device(&ad).autodiff().require_grad(),
        );
        let y = fan_in_conv_reference(
            x.clone(),
            w.clone(),
            c.taps.clone().to_device(&ad),
            geometry,
        );
        let grads = loss(y, &r).backward();
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
            let (x_grad, w_grad) = ran(weight_grad, || {
                ran(input_grad, || {
                    let y = fan_in_conv(x.clone(), w.clone(), c.taps, geometry, None);
                    let grads = loss(y, &r).backward();
                    let x_grad = x.grad(&grads).unwrap().into_data();
                    (x_grad, w.grad(&grads).unwrap().into_data())
                })
            });
            x_grad.assert_approx_eq::<f32>(&dx, Tolerance::absolute(2e-3));
            w_grad.assert_approx_eq::<f32>(&dw, Tolerance::absolute(2e-3));
        });
    }
}

/// The loss is quadratic in each of `x` and `w`: central differences are exact up to
/// rounding, so the step can be large and the comparison tight.
#[test]
fn gradients_match_central_finite_differences() {
    let host = host_device();
    let geometry = TapGeometry::new([2, 3])
        .with_stride([2, 1])
        .with_dilation([1, 2]);
    let c = common::conv_case(&host, [2, 2, 5, 7], 3, 4, geometry);
    let out_dims = [2, 3, 2, 3];
    host.seed(9);
    let r = Tensor::<4>::random(out_dims, Distribution::Normal(0.0, 1.0), &host);
    let value = |x: Tensor<4>, w: Tensor<2>, device: &Device| -> f64 {
        let y = fan_in_conv(x, w, c.taps.clone().to_device(device), geometry, None);
        loss(y, &r).into_scalar::<f32>() as f64
    };
    for_each_backend(|kind, device| {
        let ad = device.clone().autodiff();
        let (x, w) = (
            c.input.clone().to_device(&ad).autodiff().require_grad(),
            c.weight.clone().to_device(&ad).autodiff().require_grad(),
        );
        let y = fan_in_conv(
            x.clone(),
            w.clone(),
            c.taps.clone().to_device(&ad),
            geometry,
            None,
        );
        assert_eq!(y.dims(), out_dims);
        let grads = ran(Path::AutodiffBackward, || loss(y, &r).backward());
        let analytic = |t: Option<Tensor<4>>| t.unwrap().into_data().try_to_vec::<f32>().unwrap();
        let dx = analytic(x.grad(&grads));
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
        let check = |name: &str, at: usize, fd: f64, analytic: f32| {
            assert!(
                (fd - analytic as f64).abs() < 2e-3 * (1.0 + fd.abs()),
                "{kind} {name}[{at}]: fd {fd} vs {analytic}"
            );
        };
        for (at, &analytic) in dx.iter().enumerate() {
            let fd = central(&xd, at, &|x| {
                value(
                    Tensor::from_data(x, &device),
                    c.weight.clone().to_device(&device),
                    &device,
                )
            });
            check("dx", at, fd, analytic);
        }
        for (at, &analytic) in dw.iter().enumerate() {
            let fd = central(&wd, at, &|w| {
                value(
                    c.input.clone().to_device(&device),
                    Tensor::from_data(w, &device),
                    &device,
                )
            });
            check("dw", at, fd, analytic);
        }
    });
}

#[test]
fn bad_input_is_an_error_naming_the_parameter() {
    let host = host_device();
    let geometry = TapGeometry::new([3, 3]);
    let c = common::conv_case(&host, [1, 2, 4, 4], 2, 3, geometry);
    let error = |r: Result<Tensor<4>, mcnn_fan_in::FanInError>| r.unwrap_err().to_string();
    assert_eq!(
        error(try_fan_in_conv(
            c.input.clone().slice([0..1, 0..2, 0..2, 0..4]),
            c.weight.clone(),
            c.taps.clone(),
            geometry,
            None,
        )),
        "invalid `input` = of 2 × 4: at least the dilated kernel, 3 × 3"
    );
    assert_eq!(
        error(try_fan_in_conv(
            c.input.clone(),
            c.weight.clone(),
            c.taps.clone(),
            geometry.with_dilation([0, 1]),
            None,
        )),
        "invalid `dilation` = [0, 1]: at least 1 along both axes"
    );
    assert_eq!(
        error(try_fan_in_conv(
            c.input.clone(),
            c.weight.clone(),
            c.taps.clone().slice([0..2, 0..2]),
            geometry,
            None,
        )),
        "invalid `taps` = shape [2, 2]: the shape of `weight`, [2, 3]"
    );
    for_each_backend(|kind, device| {
        let c = c.to_device(&device);
        let taps = Tensor::<2, Int>::from_ints([[0, 1, 18], [0, 0, 0]], &device);
        assert_eq!(
            error(try_fan_in_conv(c.input, c.weight, taps, geometry, None)),
            "invalid `taps` = holding 18: every index in 0..18 (c_in · kh · kw, the filter's \
             taps)",
            "{kind}"
        );
    });
}

#[test]
#[should_panic(
    expected = "fan-in index 18 at flat position 2 is out of range: indices must lie in 0..18 \
                (c_in · kh · kw, the filter's taps)"
)]
fn a_tap_out_of_range_panics_on_the_cpu() {
    let host = host_device();
    let x = Tensor::<4>::ones([1, 2, 4, 4], &host);
    let taps = Tensor::from_ints([[0, 1, 18]], &host);
    let w = Tensor::ones([1, 3], &host);
    let _ = fan_in_conv(x, w, taps, TapGeometry::new([3, 3]), None).into_data();
}

/// Zero-size axes give the empty (or zero) result on every backend, forward and backward.
#[test]
fn empty_shapes_on_every_backend() {
    for_each_backend(|kind, device| {
        for (batch, filters, k) in [(0, 2, 2), (2, 0, 2), (2, 2, 0)] {
            let ad = device.clone().autodiff();
            let x = Tensor::<4>::ones([batch, 2, 4, 4], &ad).require_grad();
            let w = Tensor::<2>::ones([filters, k], &ad).require_grad();
            let taps = Tensor::<2, Int>::zeros([filters, k], &ad);
            let y = try_fan_in_conv(x.clone(), w.clone(), taps, TapGeometry::new([3, 3]), None)
                .unwrap();
            assert_eq!(y.dims(), [batch, filters, 2, 2], "{kind}");
            let grads = y.sum().backward();
            assert_eq!(
                x.grad(&grads).map(|g| g.dims()),
                Some([batch, 2, 4, 4]),
                "{kind}"
            );
        }
    });
}
