//! `FanInLinear`: construction, validation, equivalence with the dense layer it stands for,
//! save/load, and training on every compiled backend.

mod common;

use burn::module::Module;
use burn::nn::LinearConfig;
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
    // Burn's Linear layout, [d_input = 9, d_output = 5].
    let weight = Tensor::<2>::random([9, 5], Distribution::Normal(0.0, 1.0), &host);
    // Outputs keep 3, 1, 0, 9 and 2 inputs: k = 9, most rows padded, one row empty.
    let keep: Vec<bool> = (0..9 * 5)
        .map(|i| {
            let (j, o) = (i / 5, i % 5);
            match o {
                0 => j < 3,
                1 => j == 4,
                2 => false,
                3 => true,
                _ => j == 1 || j == 8,
            }
        })
        .collect();
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(keep, [9, 5]), &host);
    let bias = Tensor::<1>::random([5], Distribution::Normal(0.0, 1.0), &host);
    let layer = FanInLinear::from_masked_dense(weight.clone(), mask.clone(), Some(bias.clone()));
    assert_eq!(layer.fan_in(), 9);
    let masked = weight.mask_fill(mask.bool_not(), 0.0);
    layer
        .dense_weight()
        .into_data()
        .assert_eq(&masked.clone().into_data(), true);
    let x = Tensor::<2>::random([4, 9], Distribution::Normal(0.0, 1.0), &host);
    let expected = (x.clone().matmul(masked) + bias.unsqueeze_dim(0)).into_data();
    for_each_backend(|_, device| {
        let layer = fork_identical(&layer, &device);
        let y = layer.forward(x.clone().to_device(&device)).into_data();
        y.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    });
}

/// A square `Linear` with a full mask is the same layer (a transposed weight would differ),
/// and a mask of the other layout is refused by name.
#[test]
fn from_linear_takes_burns_layout() {
    let host = host_device();
    host.seed(11);
    let linear = LinearConfig::new(6, 6).init(&host);
    let full = Tensor::<2, Bool>::full([6, 6], true, &host);
    let layer = FanInLinear::from_linear(&linear, full).unwrap();
    let x = Tensor::<2>::random([3, 6], Distribution::Normal(0.0, 1.0), &host);
    layer
        .forward(x.clone())
        .into_data()
        .assert_approx_eq::<f32>(&linear.forward(x).into_data(), Tolerance::absolute(1e-5));
    let rectangular = LinearConfig::new(6, 4).init(&host);
    let transposed = Tensor::<2, Bool>::full([4, 6], true, &host);
    let error = FanInLinear::from_linear(&rectangular, transposed).unwrap_err();
    assert_eq!(error.parameter, "mask");
    assert!(error.allowed.contains("[d_input, d_output]"), "{error}");
}

/// `d_input` does not show in the shapes of the weights and indices, so it is recorded on
/// its own: a record of a 64-input layer is refused by a 32-input layer with the same `k`.
#[test]
fn a_record_of_another_input_width_is_refused_at_load_time() {
    let host = host_device();
    let wide = FanInLinearConfig::new(64, 3, 4).init(&host);
    let error = FanInLinearConfig::new(32, 3, 4)
        .init(&host)
        .try_load_record(wide.into_record())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("d_input: shape mismatch") && error.contains("[0, 64]"),
        "{error}"
    );
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
