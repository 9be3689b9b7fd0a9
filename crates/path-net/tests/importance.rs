//! Importance-sampled walks: the frequencies of the steps follow `|w|` of the dense layers,
//! exactly for Sobol' points and within sampling noise for random walks; shapes are checked.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, TensorData};
use mcnn_backends::host_device;
use path_net::{Duplicates, PathGenerator, PathLinearConfig, PathNetConfig, importance_paths};

/// A bias-free `Linear` with the given `[d_input, d_output]` weights.
fn linear(weights: Vec<f32>, d_input: usize, d_output: usize) -> Linear {
    let host = host_device();
    let mut layer = LinearConfig::new(d_input, d_output)
        .with_bias(false)
        .init(&host);
    layer.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(weights, [d_input, d_output]),
        &host,
    ));
    layer
}

#[test]
fn sobol_walks_split_exactly_in_proportion_to_the_magnitudes() {
    // Input 1 has no outgoing weight: every path starts at input 0, then goes to output 0
    // with probability 1/4 and to output 2 with 3/4 (the sign does not matter).
    let dense = [linear(vec![1.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.0, 0.0], 2, 4)];
    let paths = importance_paths(&dense, 64, PathGenerator::Sobol).unwrap();
    assert!(paths.neurons[0].iter().all(|&n| n == 0));
    let mut hits = [0; 4];
    paths.neurons[1].iter().for_each(|&n| hits[n as usize] += 1);
    assert_eq!(hits, [16, 0, 48, 0]);
}

#[test]
fn random_walks_follow_the_magnitudes_through_every_layer() {
    // Layer 0: inputs of mass 1 and 3; layer 1: from hidden 0 always to output 1, from hidden
    // 1 uniformly (all-zero row).
    let dense = [
        linear(vec![1.0, 0.0, 1.0, 2.0], 2, 2),
        linear(vec![0.0, 5.0, 0.0, 0.0], 2, 2),
    ];
    let paths = importance_paths(&dense, 40_000, PathGenerator::RandomWalk { seed: 3 }).unwrap();
    let fraction = |layer: usize, neuron: u32| {
        paths.neurons[layer]
            .iter()
            .filter(|&&n| n == neuron)
            .count() as f64
            / 40_000.0
    };
    // Start: 1/4 at input 0, 3/4 at input 1.
    assert!((fraction(0, 0) - 0.25).abs() < 0.01);
    // Hidden 0: all of input 0, a third of input 1: 1/4 + 1/4 = 1/2.
    assert!((fraction(1, 0) - 0.5).abs() < 0.01);
    // Output 1: all of hidden 0, half of hidden 1: 3/4.
    assert!((fraction(2, 1) - 0.75).abs() < 0.01);
    for i in 0..40_000 {
        let (input, hidden) = (paths.neurons[0][i], paths.neurons[1][i]);
        assert!(!(input == 0 && hidden == 1), "a zero-weight edge was taken");
    }
}

#[test]
fn importance_nets_check_the_dense_shapes() {
    let host = host_device();
    let dense = [
        LinearConfig::new(6, 5).init(&host),
        LinearConfig::new(5, 3).init(&host),
    ];
    let config = PathNetConfig::new(vec![6, 5, 3], 60).with_layer(
        PathLinearConfig::new()
            .with_seed(1)
            .with_duplicates(Duplicates::Keep),
    );
    let net = config.try_init_importance(&dense, &host).unwrap();
    assert_eq!(net.edges(), 120);
    let wrong = PathNetConfig::new(vec![6, 4, 3], 60);
    let message = wrong
        .try_init_importance(&dense, &host)
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("invalid `dense` = layers of shapes") && message.contains("[6, 4, 3]"),
        "{message}"
    );
    let unchained = [
        LinearConfig::new(6, 5).init(&host),
        LinearConfig::new(4, 3).init(&host),
    ];
    let message = importance_paths(&unchained, 8, PathGenerator::Sobol)
        .unwrap_err()
        .to_string();
    assert!(message.contains("layer 1 with 4 inputs"), "{message}");
    let nan = [linear(vec![1.0, f32::NAN], 1, 2)];
    let message = importance_paths(&nan, 8, PathGenerator::Sobol)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("NaN of layer 0 at input 0, output 1"),
        "{message}"
    );
    assert!(importance_paths(&[], 8, PathGenerator::Sobol).is_err());
}
