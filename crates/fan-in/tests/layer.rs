//! `FanInLinear`: construction, validation, equivalence with the dense layer it stands for,
//! save/load, and training on every compiled backend.

mod common;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Bool, Distribution, Int, Tensor, TensorData, Tolerance};
use mcnn_backends::{for_each_backend, fork_identical, host_device};
use mcnn_fan_in::{FanInLinear, FanInLinearConfig};

#[test]
fn config_init_draws_fan_in_distinct_inputs_per_row() {
    let host = host_device();
    let layer = FanInLinearConfig::new(30, 12, 5).with_seed(3).init(&host);
    assert_eq!(layer.weight.dims(), [12, 5]);
    assert_eq!(layer.fan_in(), 5);
    let indices = layer
        .indices
        .val()
        .into_data()
        .iter::<i64>()
        .collect::<Vec<_>>();
    for row in indices.chunks(5) {
        assert!(row.windows(2).all(|w| w[0] < w[1]) && row.iter().all(|&j| (0..30).contains(&j)));
    }
    let again = FanInLinearConfig::new(30, 12, 5).with_seed(3).init(&host);
    again
        .indices
        .val()
        .into_data()
        .assert_eq(&layer.indices.val().into_data(), true);
    // Kaiming uniform with fan-in k = 5: |w| ≤ sqrt(1/5).
    let max = layer.weight.val().abs().max().into_scalar::<f32>();
    assert!(max <= (1.0f32 / 5.0).sqrt() + 1e-6, "{max}");
}

#[test]
fn bad_configurations_name_the_field() {
    let host = host_device();
    let error = FanInLinearConfig::new(10, 4, 11)
        .try_init(&host)
        .unwrap_err();
    assert_eq!(error.parameter, "fan_in");
    assert!(error.to_string().contains("11"), "{error}");
    assert_eq!(
        FanInLinearConfig::new(10, 4, 0)
            .try_init(&host)
            .unwrap_err()
            .parameter,
        "fan_in"
    );
    assert_eq!(
        FanInLinearConfig::new(0, 4, 1)
            .try_init(&host)
            .unwrap_err()
            .parameter,
        "d_input"
    );
    assert_eq!(
        FanInLinearConfig::new(10, 0, 1)
            .try_init(&host)
            .unwrap_err()
            .parameter,
        "d_output"
    );
}

#[test]
fn explicit_indices_are_validated() {
    let host = host_device();
    let weight = Tensor::<2>::ones([2, 2], &host);
    let out_of_range = Tensor::<2, Int>::from_ints([[0, 1], [4, 2]], &host);
    let error = FanInLinear::try_from_indices(weight.clone(), out_of_range, None, 4).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `indices` = 4 at [1, 0]: 0..4 (d_input)"
    );
    let wrong_shape = Tensor::<2, Int>::from_ints([[0, 1, 2]], &host);
    let error = FanInLinear::try_from_indices(weight.clone(), wrong_shape, None, 4).unwrap_err();
    assert_eq!(error.parameter, "indices");
    let bias = Some(Tensor::zeros([3], &host));
    let indices = Tensor::<2, Int>::from_ints([[0, 1], [3, 2]], &host);
    let error = FanInLinear::try_from_indices(weight, indices, bias, 4).unwrap_err();
    assert_eq!(error.parameter, "bias");
}

#[test]
fn masked_dense_layer_equals_the_masked_product_with_padded_rows() {
    let host = host_device();
    host.seed(4);
    let weight = Tensor::<2>::random([5, 9], Distribution::Normal(0.0, 1.0), &host);
    // Rows keep 3, 1, 0, 9 and 2 entries: k = 9, most rows padded, one row empty.
    let keep: Vec<bool> = (0..5 * 9)
        .map(|i| match i / 9 {
            0 => i % 9 < 3,
            1 => i % 9 == 4,
            2 => false,
            3 => true,
            _ => i % 9 == 1 || i % 9 == 8,
        })
        .collect();
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(keep, [5, 9]), &host);
    let bias = Tensor::<1>::random([5], Distribution::Normal(0.0, 1.0), &host);
    let layer = FanInLinear::from_masked_dense(weight.clone(), mask.clone(), Some(bias.clone()));
    assert_eq!(layer.fan_in(), 9);
    let masked = weight.mask_fill(mask.bool_not(), 0.0);
    layer
        .to_dense()
        .into_data()
        .assert_eq(&masked.clone().into_data(), true);
    let x = Tensor::<2>::random([4, 9], Distribution::Normal(0.0, 1.0), &host);
    let expected = (x.clone().matmul(masked.transpose()) + bias.unsqueeze_dim(0)).into_data();
    for_each_backend(|_, device| {
        let layer = fork_identical(&layer, &device);
        let y = layer.forward(x.clone().to_device(&device)).into_data();
        y.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    });
}

#[test]
fn save_and_load_round_trip_keeps_weights_and_indices() {
    let host = host_device();
    let layer = FanInLinearConfig::new(16, 6, 4).with_seed(8).init(&host);
    let path = std::env::temp_dir().join(format!("mcnn-fan-in-{}.bpk", std::process::id()));
    let x = Tensor::<2>::random([3, 16], Distribution::Normal(0.0, 1.0), &host);
    let expected = layer.forward(x.clone()).into_data();
    layer.clone().save_file(&path).unwrap();
    // A layer with another pattern and other weights, overwritten by the file.
    let loaded = FanInLinearConfig::new(16, 6, 4)
        .with_seed(99)
        .init(&host)
        .load_file(&path);
    loaded
        .indices
        .val()
        .into_data()
        .assert_eq(&layer.indices.val().into_data(), true);
    loaded.forward(x).into_data().assert_eq(&expected, true);
    // Burn maps the file lazily: remove it only after the values were read.
    std::fs::remove_file(&path).ok();
}

#[test]
fn display_shows_the_shape() {
    let layer = FanInLinearConfig::new(8, 3, 2)
        .with_bias(false)
        .init(&host_device());
    let text = format!("{layer}");
    assert!(
        text.contains("d_input: 8") && text.contains("fan_in: 2") && text.contains("bias: false"),
        "{text}"
    );
}

/// A student with the teacher's connection pattern and fresh weights learns the teacher's
/// function: the custom backward trains a layer, and an optimizer leaves the indices alone.
#[test]
fn a_small_net_trains_on_every_backend() {
    let host = host_device();
    host.seed(21);
    let teacher = FanInLinearConfig::new(24, 8, 6).with_seed(5).init(&host);
    let x = Tensor::<2>::random([64, 24], Distribution::Normal(0.0, 1.0), &host);
    let target = teacher.forward(x.clone());
    let student = FanInLinearConfig::new(24, 8, 6).with_seed(5).init(&host);
    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let mut model = fork_identical(&student, &ad).train();
        let (x, target) = (x.clone().to_device(&ad), target.clone().to_device(&ad));
        let mut optimizer = AdamConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..150 {
            let loss = (model.forward(x.clone()) - target.clone())
                .powf_scalar(2.0)
                .mean();
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(3e-2, model, grads);
        }
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(last < first * 1e-2, "{kind}: loss {first} -> {last}");
        model
            .indices
            .val()
            .into_data()
            .assert_eq(&teacher.indices.val().into_data(), true);
    });
}
