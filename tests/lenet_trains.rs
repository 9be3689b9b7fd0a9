//! LeNet-5 learns real MNIST: a short run on a subset, on the default CPU backend.

use mcnn::backends::{host_device, materialize};
use mcnn::datasets::{ImageBatcher, ImageDataset, Source, Split};
use mcnn::models::LeNet5Config;
use mcnn::training::{TrainingConfig, evaluate, train};

#[test]
fn lenet_learns_a_mnist_subset() {
    // $MCNN_DATA, else ./data: tests run in the package's folder.
    let dir = mcnn::datasets::data_dir(None);
    let train_set = ImageDataset::load(Source::Mnist, Split::Train, &dir)
        .unwrap()
        .truncated(3000);
    let test_set = ImageDataset::load(Source::Mnist, Split::Test, &dir)
        .unwrap()
        .truncated(1000);
    let batcher = ImageBatcher::for_source(Source::Mnist);
    let host = host_device();
    host.seed(1);
    let model = materialize(LeNet5Config::new().init(&host));
    let before = evaluate(&model, &test_set, &batcher, 500, &host);
    let config = TrainingConfig::new().with_epochs(2).with_progress(false);
    let mut seen = Vec::new();
    let (model, reports) = train(
        model,
        &train_set,
        &test_set,
        &batcher,
        &config,
        &host,
        |r| seen.push(r.epoch),
    );
    assert_eq!(seen, [1, 2]);
    let after = evaluate(&model, &test_set, &batcher, 500, &host);
    assert_eq!(after, reports[1].test_accuracy);
    assert!(before < 0.3, "an untrained model guesses: {before}");
    assert!(after > 0.85, "3000 images, 2 epochs: {after}");
    assert!(reports[1].train_loss < reports[0].train_loss);
}
