//! Fan-in layers chained in the feature-major layout against the row-major op (itself tested
//! against the dense product, the reference and finite differences), by hand and by central
//! differences, on every compiled backend; each check proves the feature-major path ran.

mod common;

use burn::backend::Dispatch;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor, TensorData, Tolerance};
use mcnn_backends::{BackendKind, for_each_backend, host_device};
use mcnn_fan_in::feature_major::LANES;
use mcnn_fan_in::probe::{self, Path};
use mcnn_fan_in::{
    FeatureMajorBackend, fan_in, fan_in_feature_major, from_feature_major, to_feature_major,
    try_fan_in_feature_major,
};

fn paths(kind: BackendKind) -> [Path; 3] {
    match kind {
        BackendKind::Wgpu => [
            Path::CubeFeatureMajorForward,
            Path::CubeFeatureMajorWeightGrad,
            Path::CubeFeatureMajorInputGrad,
        ],
        _ => [
            Path::CpuFeatureMajorForward,
            Path::CpuFeatureMajorWeightGrad,
            Path::CpuFeatureMajorInputGrad,
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

#[test]
fn the_layout_by_hand_and_back() {
    for_each_backend(|kind, device| {
        let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
        let xt = to_feature_major(x.clone());
        assert_eq!(xt.dims(), [1, 2, LANES], "{kind}");
        let values = xt.clone().into_data().try_to_vec::<f32>().unwrap();
        let mut expected = vec![0.0f32; 2 * LANES];
        expected[..3].copy_from_slice(&[1.0, 3.0, 5.0]);
        expected[LANES..LANES + 3].copy_from_slice(&[2.0, 4.0, 6.0]);
        assert_eq!(values, expected, "{kind}");
        from_feature_major(xt, 3)
            .into_data()
            .assert_eq(&x.into_data(), true);
    });
}

/// Two layers with a bias and a ReLU between them (the lanes past the batch become non-zero in
/// between), rows in, rows out.
fn chain(c: &common::Case, second: &common::Case, x: Tensor<2>, w: [Tensor<2>; 2]) -> Tensor<2> {
    let [w1, w2] = w;
    let device = x.device();
    let batch = x.dims()[0];
    let hidden = fan_in_feature_major(
        to_feature_major(x),
        w1,
        c.indices.clone().to_device(&device),
        Some(c.bias.clone().to_device(&device)),
    );
    let out = fan_in_feature_major(
        relu(hidden),
        w2,
        second.indices.clone().to_device(&device),
        Some(second.bias.clone().to_device(&device)),
    );
    from_feature_major(out, batch)
}

/// The same two layers, row-major.
fn rows(c: &common::Case, second: &common::Case, x: Tensor<2>, w: [Tensor<2>; 2]) -> Tensor<2> {
    let [w1, w2] = w;
    let device = x.device();
    let hidden = fan_in(
        x,
        w1,
        c.indices.clone().to_device(&device),
        Some(c.bias.clone().to_device(&device)),
    );
    fan_in(
        relu(hidden),
        w2,
        second.indices.clone().to_device(&device),
        Some(second.bias.clone().to_device(&device)),
    )
}

/// A batch of 100 (two blocks, the second partial) through 37 → 29 → 11.
fn cases(host: &Device) -> (common::Case, common::Case) {
    let first = common::case(host, 100, 37, 29, 6);
    let second = common::case(host, 100, 29, 11, 4);
    (first, second)
}

#[test]
fn a_chain_equals_the_row_major_layers_forward_and_backward() {
    let host = host_device();
    let (c, second) = cases(&host);
    host.seed(3);
    let r = Tensor::<2>::random([100, 11], Distribution::Normal(0.0, 1.0), &host);
    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let run = |feature_major: bool| {
            let x = c.input.clone().to_device(&ad).autodiff().require_grad();
            let w1 = c.weight.clone().to_device(&ad).autodiff().require_grad();
            let w2 = second
                .weight
                .clone()
                .to_device(&ad)
                .autodiff()
                .require_grad();
            let weights = [w1.clone(), w2.clone()];
            let y = match feature_major {
                true => chain(&c, &second, x.clone(), weights),
                false => rows(&c, &second, x.clone(), weights),
            };
            let grads = (y.clone() * r.clone().to_device(&ad)).sum().backward();
            [
                y.into_data(),
                x.grad(&grads).unwrap().into_data(),
                w1.grad(&grads).unwrap().into_data(),
                w2.grad(&grads).unwrap().into_data(),
            ]
        };
        let [forward, weight_grad, input_grad] = paths(kind);
        let got = ran(forward, || {
            ran(weight_grad, || ran(input_grad, || run(true)))
        });
        let expected = run(false);
        for (name, (got, want)) in ["output", "dx", "dw1", "dw2"]
            .iter()
            .zip(got.iter().zip(&expected))
        {
            eprintln!("{kind}: {name}");
            got.assert_approx_eq::<f32>(want, Tolerance::absolute(1e-4));
        }
    });
}

/// `L = Σ r ⊙ y + ½ Σ y²` of one feature-major layer is quadratic in `w`: central
/// differences are exact up to rounding.
#[test]
fn weight_gradients_match_central_finite_differences() {
    let host = host_device();
    let c = common::case(&host, 70, 9, 5, 3);
    host.seed(4);
    let r = Tensor::<2>::random([70, 5], Distribution::Normal(0.0, 1.0), &host);
    for_each_backend(|kind, device| {
        let loss = |w: Tensor<2>, device: &Device| {
            let xt = to_feature_major(c.input.clone().to_device(device));
            let y = fan_in_feature_major(xt, w, c.indices.clone().to_device(device), None);
            let y = from_feature_major(y, 70);
            (y.clone() * r.clone().to_device(device) + y.powf_scalar(2.0) * 0.5).sum()
        };
        let ad = device.clone().autodiff();
        let w = c.weight.clone().to_device(&ad).autodiff().require_grad();
        let grads = loss(w.clone(), &ad).backward();
        let dw = w
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let wd = c.weight.to_data();
        for (at, &analytic) in dw.iter().enumerate() {
            let fd = common::central_difference(&wd, at, 0.05, &|w: TensorData| {
                loss(Tensor::from_data(w, &device), &device).into_scalar::<f32>() as f64
            });
            assert!(
                (fd - analytic as f64).abs() < 2e-3 * (1.0 + fd.abs()),
                "{kind} dw[{at}]: fd {fd} vs {analytic}"
            );
        }
    });
}

#[test]
#[should_panic(
    expected = "invalid `input` = shape [1, 4, 8]: [blocks, d_input, 64] (feature-major)"
)]
fn rows_are_not_taken_for_blocks() {
    let host = host_device();
    let c = common::case(&host, 2, 4, 3, 2);
    let _ = fan_in_feature_major(Tensor::zeros([1, 4, 8], &host), c.weight, c.indices, None);
}

#[test]
fn try_fan_in_feature_major_names_an_index_out_of_range() {
    for_each_backend(|kind, device| {
        let c = common::case(&host_device(), 5, 6, 4, 2).to_device(&device);
        let xt = to_feature_major(c.input);
        let indices = Tensor::from_ints([[0, 5], [2, 6], [4, 1], [3, 3]], &device);
        let error = try_fan_in_feature_major(xt.clone(), c.weight.clone(), indices, None)
            .expect_err("index 6 of 6 inputs");
        let message = error.to_string();
        assert!(message.contains("indices"), "{kind}: {message}");
        let fine = try_fan_in_feature_major(xt, c.weight, c.indices, Some(c.bias));
        assert_eq!(fine.unwrap().dims(), [1, 4, LANES], "{kind}");
    });
}

/// The backend op itself refuses blocks that do not hold the batch (the trait is public;
/// `from_feature_major` checks first). CPU backends: on wgpu the op runs inside Fusion's
/// stream, where a panic would stop the other tests' device.
#[test]
fn the_backend_op_names_blocks_that_do_not_hold_the_batch() {
    for_each_backend(|kind, device| {
        if kind == BackendKind::Wgpu {
            return;
        }
        let blocks = Tensor::<3>::zeros([1, 5, LANES], &device);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Tensor::<2>::from_dispatch(<Dispatch as FeatureMajorBackend>::feature_major_to_rows(
                blocks.into_dispatch(),
                100,
            ))
            .into_data()
        }))
        .expect_err("1 block for 100 samples");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains("1 blocks of 64 samples for a batch of 100"),
            "{kind}: {message}"
        );
    });
}
