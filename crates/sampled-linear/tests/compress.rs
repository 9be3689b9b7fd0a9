//! Whole models into compact layers: `LinearLayer` records as Burn's `Linear` while dense,
//! `compress` samples the selected layers exactly as the dense write-back does, and the layout
//! with the record rebuilds the compressed model from the dense constructor.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Distribution, Tensor, Tolerance};
use mcnn_backends::{host_device, materialize};
use sampled_linear::{
    Budget, CompactLayout, CompressionPlan, LayerKind, LayerSelection, LinearLayer, SamplingConfig,
    compress, compressible_layers, sample_weights,
};

#[derive(Module, Debug)]
struct Mlp<L: Module> {
    layers: Vec<L>,
    relu: Relu,
}

/// A 3-layer MLP of `LinearLayer`s (or of plain `Linear`s) with the same weights per seed.
fn mlp<L: From<Linear> + Module>(seed: u64, device: &Device) -> Mlp<L> {
    device.seed(seed);
    let sizes = [20, 16, 12, 5];
    Mlp {
        layers: sizes
            .windows(2)
            .map(|w| materialize(LinearConfig::new(w[0], w[1]).init(device)).into())
            .collect(),
        relu: Relu::new(),
    }
}

fn forward(model: &Mlp<LinearLayer>, mut x: Tensor<2>) -> Tensor<2> {
    for (i, layer) in model.layers.iter().enumerate() {
        x = layer.forward(x);
        if i + 1 < model.layers.len() {
            x = model.relu.forward(x);
        }
    }
    x
}

fn forward_plain(model: &Mlp<Linear>, mut x: Tensor<2>) -> Tensor<2> {
    for (i, layer) in model.layers.iter().enumerate() {
        x = layer.forward(x);
        if i + 1 < model.layers.len() {
            x = model.relu.forward(x);
        }
    }
    x
}

/// While dense, a `LinearLayer` is its `Linear`: checkpoints load both ways.
#[test]
fn dense_layers_record_as_burns_linear() {
    let host = host_device();
    let plain: Mlp<Linear> = mlp(1, &host);
    let ours: Mlp<LinearLayer> = mlp(2, &host).load_record(plain.clone().into_record());
    let x = Tensor::<2>::random([3, 20], Distribution::Default, &host);
    forward(&ours, x.clone())
        .into_data()
        .assert_eq(&forward_plain(&plain, x).into_data(), true);
    let back: Mlp<Linear> = mlp(3, &host).load_record(ours.clone().into_record());
    assert_eq!(
        back.layers[1].weight.val().into_data(),
        plain.layers[1].weight.val().into_data()
    );
    assert!(format!("{ours}").contains("Linear"), "{ours}");
}

#[test]
fn selections_pick_layers_by_position_and_kind() {
    let host = host_device();
    let model: Mlp<LinearLayer> = mlp(4, &host);
    let layers = compressible_layers(&model);
    let paths: Vec<&str> = layers.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, ["layers.0", "layers.1", "layers.2"]);
    assert!(
        layers
            .iter()
            .all(|l| l.kind == LayerKind::Linear && !l.sampled)
    );
    assert_eq!(layers[0].weights, 20 * 16);
    let config = SamplingConfig::new(Budget::Amount(0.5)).with_seed(3);
    for (selection, expected) in [
        (LayerSelection::All, [true, true, true]),
        (LayerSelection::Hidden, [true, true, false]),
        (LayerSelection::Inner, [false, true, false]),
        (LayerSelection::Linear, [true, true, true]),
        (LayerSelection::Conv, [false, false, false]),
    ] {
        let plan = CompressionPlan::new(config.clone()).with_layers(selection);
        let (compact, reports) = compress(model.clone(), &plan).unwrap();
        let sampled: Vec<bool> = compact.layers.iter().map(|l| l.is_sampled()).collect();
        assert_eq!(sampled, expected, "{selection}");
        assert_eq!(reports.len(), expected.iter().filter(|&&s| s).count());
        assert_eq!(selection.name().parse::<LayerSelection>(), Ok(selection));
    }
    assert!(
        "outer"
            .parse::<LayerSelection>()
            .unwrap_err()
            .contains("hidden")
    );
}

/// The compact model computes what the dense write-back of the same sampling computes (the
/// estimate `scale · q` stored densely): the same seeds per layer, the same counts.
#[test]
fn compressing_equals_sampling_in_place() {
    let host = host_device();
    let model: Mlp<LinearLayer> = mlp(5, &host);
    let config = SamplingConfig::new(Budget::Amount(0.4)).with_seed(8);
    let plan = CompressionPlan::new(config.clone())
        .with_layers(LayerSelection::Hidden)
        .with_amount("layers.1", 2.0);
    let (compact, reports) = compress(model.clone(), &plan).unwrap();
    assert_eq!(reports[1].samples_per_group, Some(32)); // ⌈2 · 16⌉
    // The same by the dense write-back, layer by layer with the plan's seeds and amounts.
    let (first, _) = sample_weights(model.clone(), &[LayerKind::Linear], &config, |path| {
        path == "layers.0"
    })
    .unwrap();
    let second_config = SamplingConfig {
        budget: Budget::Amount(2.0),
        ..config.clone().with_seed(9)
    };
    let (both, _) = sample_weights(first, &[LayerKind::Linear], &second_config, |path| {
        path == "layers.1"
    })
    .unwrap();
    let x = Tensor::<2>::random([4, 20], Distribution::Normal(0.0, 1.0), &host);
    forward(&compact, x.clone())
        .into_data()
        .assert_approx_eq::<f32>(&forward(&both, x).into_data(), Tolerance::absolute(1e-5));
    let error = compress(model.clone(), &plan.clone().with_amount("layers.7", 1.0)).unwrap_err();
    assert!(error.to_string().contains("layers.7"), "{error}");
    // An amount for a layer the selection leaves dense is a mistake, not ignored.
    let error = compress(model, &plan.with_amount("layers.2", 1.0)).unwrap_err();
    assert!(
        error.to_string().contains("layers.2") && error.to_string().contains("hidden"),
        "{error}"
    );
}

#[test]
fn the_layout_and_the_record_rebuild_the_model_in_a_dense_constructor() {
    let host = host_device();
    let plan = CompressionPlan::new(SamplingConfig::new(Budget::Amount(0.3)).with_seed(2))
        .with_layers(LayerSelection::Inner);
    let (compact, _) = compress(mlp::<LinearLayer>(6, &host), &plan).unwrap();
    let dir = std::env::temp_dir().join(format!("mcnn-compress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let layout = CompactLayout::of(&compact);
    assert_eq!(layout.layers.len(), 1);
    assert_eq!(layout.layers[0].path, "layers.1");
    layout.save(dir.join("layout.json")).unwrap();
    compact.clone().save_file(dir.join("model.bpk")).unwrap();

    let layout = CompactLayout::load(dir.join("layout.json")).unwrap();
    let fresh: Mlp<LinearLayer> = mlp(99, &host);
    let loaded = layout
        .apply(fresh)
        .unwrap()
        .load_file(dir.join("model.bpk"));
    let x = Tensor::<2>::random([3, 20], Distribution::Default, &host);
    forward(&loaded, x.clone())
        .into_data()
        .assert_eq(&forward(&compact, x).into_data(), true);
    assert!(format!("{loaded}").contains("nonzeros"), "{loaded}");

    // A layout for another model is an error naming the layer.
    let mut wrong = layout.clone();
    wrong.layers[0].path = "layers.5".into();
    let error = wrong.apply(mlp::<LinearLayer>(7, &host)).unwrap_err();
    assert!(error.contains("layers.5"), "{error}");
    let mut shapes = layout.clone();
    shapes.layers[0].path = "layers.0".into();
    let error = shapes.apply(mlp::<LinearLayer>(7, &host)).unwrap_err();
    assert!(
        error.contains("`layers.0`") && error.contains("inputs"),
        "{error}"
    );
    // A layout whose sizes were edited is an error naming the field, not an allocation of
    // what it claims.
    let mut huge = layout.clone();
    huge.layers[0].config["layout"]["bits"] = serde_json::json!(u64::MAX);
    let error = huge.apply(mlp::<LinearLayer>(7, &host)).unwrap_err();
    assert!(error.contains("bits = 18446744073709551615"), "{error}");
    std::fs::write(dir.join("bad.json"), "{}").unwrap();
    let error = CompactLayout::load(dir.join("bad.json")).unwrap_err();
    assert!(error.contains("bad.json"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_layer_that_cannot_be_sampled_is_named_by_its_path() {
    let host = host_device();
    let mut model: Mlp<LinearLayer> = mlp(8, &host);
    if let LinearLayer::Dense(linear) = &mut model.layers[2] {
        let weight = linear.weight.val();
        let nan = weight.clone().mul_scalar(f32::NAN);
        linear.weight = burn::module::Param::from_tensor(nan);
    }
    let plan = CompressionPlan::new(SamplingConfig::new(Budget::Amount(1.0)));
    let error = compress(model, &plan).unwrap_err().to_string();
    assert!(error.contains("layer `layers.2`"), "{error}");
}
