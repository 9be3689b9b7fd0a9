//! A model of `Conv2dLayer`s and `LinearLayer`s compressed in one call: the selected layers
//! become compact, compute what the dense write-back computes, and reload from the model's
//! dense constructor with the layout and the record.

use burn::module::Module;
use burn::nn::LinearConfig;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Distribution, Tensor, Tolerance};
use mcnn_backends::{host_device, materialize};
use sampled_conv::Conv2dLayer;
use sampled_linear::{
    Budget, CompactLayout, CompressionPlan, LayerKind, LayerSelection, LinearLayer, SamplingConfig,
    compress, compressible_layers, sample_weights,
};

#[derive(Module, Debug)]
struct Net {
    conv1: Conv2dLayer,
    conv2: Conv2dLayer,
    fc: LinearLayer,
}

impl Net {
    fn new(seed: u64, device: &Device) -> Self {
        device.seed(seed);
        materialize(Self {
            conv1: Conv2dConfig::new([3, 4], [3, 3]).init(device).into(),
            conv2: Conv2dConfig::new([4, 6], [3, 3])
                .with_groups(2)
                .init(device)
                .into(),
            fc: LinearConfig::new(6 * 4 * 4, 3).init(device).into(),
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.conv2.forward(self.conv1.forward(x).clamp_min(0.0));
        self.fc.forward(x.flatten(1, 3))
    }
}

#[test]
fn conv_and_linear_layers_compress_and_reload() {
    let host = host_device();
    let model = Net::new(1, &host);
    let layers = compressible_layers(&model);
    let kinds: Vec<LayerKind> = layers.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [LayerKind::Conv2d, LayerKind::Conv2d, LayerKind::Linear]
    );
    assert_eq!(layers[1].weights, 6 * 2 * 3 * 3);

    let config = SamplingConfig::new(Budget::Amount(0.6)).with_seed(4);
    let plan = CompressionPlan::new(config.clone()).with_layers(LayerSelection::Conv);
    let (compact, reports) = compress(model.clone(), &plan).unwrap();
    assert!(compact.conv1.is_sampled() && compact.conv2.is_sampled() && !compact.fc.is_sampled());
    assert_eq!(reports.len(), 2);
    // The dense write-back with the same seeds: conv1 with seed 4, conv2 with seed 5.
    let (both, _) =
        sample_weights(model.clone(), &LayerKind::ALL, &config, |path| path != "fc").unwrap();
    let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &host);
    let expected = compact.forward(x.clone()).into_data();
    expected.assert_approx_eq::<f32>(
        &both.forward(x.clone()).into_data(),
        Tolerance::absolute(1e-4),
    );

    let layout = CompactLayout::of(&compact);
    let kinds: Vec<&str> = layout.layers.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["Conv2d", "Conv2d"]);
    let record = compact.clone().into_record();
    let loaded = layout
        .apply(Net::new(9, &host))
        .unwrap()
        .load_record(record);
    loaded.forward(x).into_data().assert_eq(&expected, true);

    // Configurations land only on layers of their kind and shapes.
    let mut swapped = layout.clone();
    swapped.layers[0].path = "fc".into();
    let error = swapped.apply(Net::new(9, &host)).unwrap_err();
    assert!(
        error.contains("`fc`") && error.contains("Linear"),
        "{error}"
    );
    let mut other = layout;
    other.layers[0].path = "conv2".into();
    other.layers.truncate(1);
    let error = other.apply(Net::new(9, &host)).unwrap_err();
    assert!(
        error.contains("`conv2`") && error.contains("filters"),
        "{error}"
    );
}
