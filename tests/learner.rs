//! Training through burn-train ([`mcnn::learner`]): the same steps as the hand-written loop,
//! checkpoints that a resumed run continues from, and mcnn's model metrics logged.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use mcnn::backends::{host_device, materialize};
use mcnn::datasets::{ImageBatch, ImageBatcher, ImageDataset, ImageShape};
use mcnn::learner::{Classifier, LearnerConfig, ModelStat, ModelStats, fit, last_checkpoint};
use mcnn::models::{
    AlexNetCifarConfig, ImageClassifier, LeNet5, LeNet5Config, LeNet5Dropout, MlpConfig,
};
use mcnn::partition_dropout::PartitionDropoutConfig;
use mcnn::path_net::PathNetConfig;
use mcnn::sampled_linear::{
    Budget, CompressionPlan, LayerSelection, ResampledLinear, ResampledLinearConfig,
    SamplingConfig, compress,
};
use mcnn::training::{TrainingConfig, TrainingData};

/// 28×28 grey images of pseudo-random pixels, the label the brightest of ten bands: a data
/// set that trains fast and is learnable.
fn synthetic(len: usize, seed: u64) -> ImageDataset {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u8
    };
    let mut images = Vec::with_capacity(len * 784);
    let mut labels = Vec::with_capacity(len);
    for _ in 0..len {
        let label = next() % 10;
        for row in 0..28 {
            for _ in 0..28 {
                let bright = row * 10 / 28 == label as usize;
                images.push(if bright { 128 | next() } else { next() >> 2 });
            }
        }
        labels.push(label);
    }
    ImageDataset::from_parts(ImageShape::new(1, 28, 28), images, labels)
}

fn data() -> TrainingData {
    let shape = ImageShape::new(1, 28, 28);
    TrainingData {
        train_set: synthetic(192, 1),
        test_set: synthetic(100, 2),
        batcher: ImageBatcher::new(shape, &[0.3], &[0.3]),
    }
}

fn lenet(seed: u64) -> LeNet5 {
    let host = host_device();
    host.seed(seed);
    materialize(LeNet5Config::new().init(&host))
}

fn fc3(model: &LeNet5) -> Vec<f32> {
    model
        .fc3
        .as_dense()
        .expect("dense")
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn learner_takes_the_hand_written_loops_steps() {
    let data = data();
    let device = host_device();
    let dir = tempfile::tempdir().unwrap();
    let config = LearnerConfig::new().with_epochs(2).with_learning_rate(1e-3);
    // One initial model for both: other tests draw from the host's generator meanwhile.
    let initial = lenet(3);
    let learned = fit(
        initial.clone(),
        &data,
        &config,
        dir.path(),
        false,
        &[],
        &device,
    )
    .unwrap();
    let hand = TrainingConfig::new()
        .with_epochs(2)
        .with_learning_rate(1e-3)
        .with_cosine_decay(false)
        .with_progress(false);
    let (looped, reports) = data.trainer(hand).fit(initial.clone(), &device, |_| {});
    let (a, b) = (fc3(&learned.model), fc3(&looped));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-5, "largest difference {diff}");
    assert_eq!(learned.test_accuracy, reports[1].test_accuracy);
    assert_ne!(fc3(&initial), a, "training changed the weights");
}

#[test]
fn a_resumed_run_continues_from_its_checkpoint() {
    let data = data();
    let device = host_device();
    let dir = tempfile::tempdir().unwrap();
    let config = LearnerConfig::new();
    let first = fit(lenet(5), &data, &config, dir.path(), false, &[], &device).unwrap();
    assert_eq!((first.resumed_from, first.last_epoch), (None, 1));
    assert_eq!(last_checkpoint(dir.path()), Some(1));

    // A new run does not overwrite it; resuming needs a checkpoint.
    let again = fit(lenet(5), &data, &config, dir.path(), false, &[], &device).unwrap_err();
    assert!(
        again.contains("up to epoch 1") && again.contains("resume"),
        "{again}"
    );
    let empty = tempfile::tempdir().unwrap();
    let nothing = fit(lenet(5), &data, &config, empty.path(), true, &[], &device).unwrap_err();
    assert!(nothing.contains("no checkpoint"), "{nothing}");

    // Resumed from another initialisation with a learning rate of 0, the model is the
    // checkpoint's: the run loaded it.
    let frozen = config.clone().with_learning_rate(0.0);
    let resumed = fit(lenet(99), &data, &frozen, dir.path(), true, &[], &device).unwrap();
    assert_eq!((resumed.resumed_from, resumed.last_epoch), (Some(1), 2));
    assert_eq!(fc3(&resumed.model), fc3(&first.model));
    assert_eq!(resumed.test_accuracy, first.test_accuracy);
    assert_eq!(last_checkpoint(dir.path()), Some(2));

    // And it trains on from there.
    let trained = fit(lenet(99), &data, &config, dir.path(), true, &[], &device).unwrap();
    assert_eq!(trained.resumed_from, Some(2));
    assert!(!trained.interrupted);
    assert_ne!(fc3(&trained.model), fc3(&first.model));

    // Another model does not resume this run: an error, not burn-train's panic.
    let mlp = MlpConfig::new(vec![784, 16, 10]).init(&device);
    let other = fit(mlp, &data, &config, dir.path(), true, &[], &device).unwrap_err();
    assert!(
        other.contains("model-3.bpk") && other.contains("does not load"),
        "{other}"
    );
}

/// The values burn-train logged for `metric` at every step of epoch 1 of training (its file
/// names the metric with `_` for spaces; a line is `value,count`, the epoch's value last as
/// `value,final`).
fn logged(dir: &Path, metric: &str) -> Vec<f64> {
    let file = format!("{}.log", metric.replace(' ', "_"));
    let path = dir.join("train").join("epoch-1").join(file);
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    log.lines()
        .filter(|line| !line.ends_with(",final"))
        .map(|line| line.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn model_metrics_are_logged_by_burn_train() {
    let data = data();
    let device = host_device();
    let net = PathNetConfig::new(vec![784, 32, 10], 512).init(&device);
    let edges = net.edges();
    let stats = net.stats();
    assert_eq!(stats.path_weights, Some(edges));
    assert_eq!(ModelStat::present_in(&stats), [ModelStat::PathWeights]);
    let dir = tempfile::tempdir().unwrap();
    let config = LearnerConfig::new();
    let metrics = ModelStat::present_in(&stats);
    fit(net, &data, &config, dir.path(), false, &metrics, &device).unwrap();
    // 192 images in batches of 64: three steps.
    let log = logged(dir.path(), ModelStat::PathWeights.name());
    assert_eq!(log, [edges as f64; 3]);
}

#[test]
fn the_partition_phase_follows_the_training_steps() {
    let device = host_device();
    let model = LeNet5Dropout {
        lenet: lenet(1),
        after_fc1: PartitionDropoutConfig::new(3).init(),
        after_fc2: PartitionDropoutConfig::new(3).with_seed(1).init(),
    };
    let phase = |m: &LeNet5Dropout<_>| m.stats().partition_phase.unwrap();
    assert_eq!((phase(&model).phase, phase(&model).partitions), (0, 3));
    let ad = device.clone().autodiff();
    let training = model.fork(&ad);
    let images = Tensor::<4>::ones([2, 1, 28, 28], &ad);
    for step in 1..=4 {
        ImageClassifier::forward(&training, images.clone());
        assert_eq!(phase(&training).phase, step % 3);
    }
    let dir = tempfile::tempdir().unwrap();
    let metrics = ModelStat::present_in(&training.stats());
    assert_eq!(metrics, [ModelStat::PartitionPhase]);
    let fresh = LeNet5Dropout {
        lenet: lenet(1),
        after_fc1: PartitionDropoutConfig::new(3).init(),
        after_fc2: PartitionDropoutConfig::new(3).with_seed(1).init(),
    };
    fit(
        fresh,
        &data(),
        &LearnerConfig::new(),
        dir.path(),
        false,
        &metrics,
        &device,
    )
    .unwrap();
    // 192 images, batches of 64: phases 0, 1, 2 of the steps.
    assert_eq!(
        logged(dir.path(), ModelStat::PartitionPhase.name()),
        [0.0, 1.0, 2.0]
    );
}

#[test]
fn sampled_layer_stats_are_the_compressed_layers() {
    let dense = lenet(2);
    assert_eq!(dense.stats(), ModelStats::default());
    let plan = CompressionPlan::new(SamplingConfig::new(Budget::Amount(0.5)))
        .with_layers(LayerSelection::Linear);
    let (compact, reports) = compress(dense, &plan).unwrap();
    let sampled = compact.stats().sampled.expect("three sampled layers");
    let weights: usize = reports.iter().map(|r| r.weights()).sum();
    let nonzero: usize = reports.iter().map(|r| r.nonzero).sum();
    assert_eq!(sampled.weights, 400 * 120 + 120 * 84 + 84 * 10);
    assert_eq!((sampled.weights, sampled.nonzeros), (weights, nonzero));
    let fc = [&compact.fc1, &compact.fc2, &compact.fc3];
    let bytes: usize = fc
        .iter()
        .map(|l| l.as_sampled().unwrap().stored_bytes())
        .sum();
    assert_eq!(sampled.stored_bytes, bytes);
    assert_eq!(
        compact.stats().value(ModelStat::BitsPerWeight),
        Some(8.0 * bytes as f64 / weights as f64)
    );
    assert_eq!(
        compact.stats().value(ModelStat::NonZeroFraction),
        Some(nonzero as f64 / weights as f64)
    );
}

/// One training and one inference step of `model` on two images of shape `images`: the logits'
/// shape, and a gradient for every parameter tensor.
fn steps<M: ImageClassifier>(model: M, images: [usize; 4], parameters: usize) {
    use burn::train::{InferenceStep, TrainStep};
    let device = host_device();
    let classifier = Classifier::new(model)
        .fork(&device.clone().autodiff())
        .train();
    let batch = |device: &burn::tensor::Device| ImageBatch {
        images: Tensor::random(images, Distribution::Default, device),
        targets: Tensor::from_ints([1, 7], device),
    };
    let output = TrainStep::step(&classifier, batch(&device.clone().autodiff()));
    assert_eq!(output.item.classification.output.dims(), [images[0], 10]);
    assert_eq!(output.grads.len(), parameters);
    let inference = classifier.valid();
    let output = InferenceStep::step(&inference, batch(&device));
    assert_eq!(output.classification.output.dims(), [images[0], 10]);
}

#[test]
fn every_reference_model_takes_burn_trains_steps() {
    let device = host_device();
    // Weight and bias of every layer.
    steps(lenet(1), [2, 1, 28, 28], 10);
    steps(
        LeNet5Dropout {
            lenet: lenet(1),
            after_fc1: PartitionDropoutConfig::new(2).init(),
            after_fc2: PartitionDropoutConfig::new(2).init(),
        },
        [2, 1, 28, 28],
        10,
    );
    steps(
        MlpConfig::new(vec![784, 30, 10]).init(&device),
        [2, 1, 28, 28],
        4,
    );
    steps(
        PathNetConfig::new(vec![784, 30, 10], 256).init(&device),
        [2, 1, 28, 28],
        4,
    );
    let alexnet = AlexNetCifarConfig::new()
        .with_channels([4, 4, 4, 4, 4])
        .with_hidden(8)
        .init(&device);
    steps(alexnet, [2, 3, 32, 32], 16);
}

/// An MLP 784-32-10 trained through re-sampled weights.
#[derive(Module, Debug)]
struct ResampledMlp {
    layers: Vec<ResampledLinear>,
}

impl ImageClassifier for ResampledMlp {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = images.flatten(1, 3);
        let x = self.layers[0].forward(x).clamp_min(0.0);
        self.layers[1].forward(x)
    }

    fn stats(&self) -> ModelStats {
        ModelStats::of_resampled(&self.layers)
    }
}

#[test]
fn resampled_layers_report_each_steps_sample() {
    let device = host_device();
    let sampling = SamplingConfig::new(Budget::Amount(0.25));
    let layer =
        |d_in, d_out| ResampledLinearConfig::new(d_in, d_out, sampling.clone()).init(&device);
    let model = ResampledMlp {
        layers: vec![layer(784, 32), layer(32, 10)],
    };
    assert_eq!(
        model.stats().sampled,
        None,
        "nothing sampled before training"
    );
    let metrics = [ModelStat::NonZeroFraction, ModelStat::BitsPerWeight];
    let dir = tempfile::tempdir().unwrap();
    let report = fit(
        model,
        &data(),
        &LearnerConfig::new(),
        dir.path(),
        false,
        &metrics,
        &device,
    )
    .unwrap();
    let fractions = logged(dir.path(), ModelStat::NonZeroFraction.name());
    let bits = logged(dir.path(), ModelStat::BitsPerWeight.name());
    assert_eq!((fractions.len(), bits.len()), (3, 3));
    // N = ⌈K·n⌉ samples per neuron: at most a quarter of each row non-zero (plus rounding up).
    let bound = (196.0 * 32.0 + 8.0 * 10.0) / (784.0 * 32.0 + 32.0 * 10.0);
    for (&fraction, &bits) in fractions.iter().zip(&bits) {
        assert!(fraction > 0.1 && fraction <= bound, "{fractions:?}");
        assert!(bits > 0.0 && bits < 32.0, "{bits}");
    }
    // The last step's sample, as the layers report it.
    let last = report
        .model
        .layers
        .iter()
        .map(|l| l.last_sample().unwrap())
        .reduce(|a, b| a + b)
        .unwrap();
    assert!((fractions[2] - last.nonzero_fraction()).abs() < 1e-12);
    assert!((bits[2] - last.bits_per_weight()).abs() < 1e-9);
}
