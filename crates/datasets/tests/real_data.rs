//! The real files: counts, label histograms and known labels (docs/data-sources.md).
//!
//! The files are fetched on first use (CI fetches them before the tests); set `MCNN_DATA`
//! to use another data directory than the workspace's `data/`.

use std::path::PathBuf;

use burn::data::dataset::Dataset;
use mcnn_datasets::{ImageDataset, Source, Split};

fn data_dir() -> PathBuf {
    std::env::var_os(mcnn_datasets::DATA_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data")))
}

fn load(source: Source, split: Split) -> ImageDataset {
    ImageDataset::load(source, split, &data_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn mnist_counts_and_label_histograms() {
    let train = load(Source::Mnist, Split::Train);
    let test = load(Source::Mnist, Split::Test);
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(
        train.label_histogram(10),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.label_histogram(10),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The first training image is the famous 5; its pixels are not all zero.
    assert_eq!(train.labels()[0], 5);
    assert!(train.image(0).iter().any(|&p| p > 200));
}

#[test]
fn fashion_mnist_is_balanced() {
    let train = load(Source::FashionMnist, Split::Train);
    let test = load(Source::FashionMnist, Split::Test);
    assert_eq!(train.label_histogram(10), [6000; 10]);
    assert_eq!(test.label_histogram(10), [1000; 10]);
    assert_eq!(train.get(0).unwrap().image.len(), 784);
}

#[test]
fn cifar10_is_balanced_and_starts_with_the_known_labels() {
    let train = load(Source::Cifar10, Split::Train);
    let test = load(Source::Cifar10, Split::Test);
    assert_eq!(train.label_histogram(10), [5000; 10]);
    assert_eq!(test.label_histogram(10), [1000; 10]);
    assert_eq!(&test.labels()[..10], &[3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    assert_eq!(test.image(0).len(), 3 * 32 * 32);
}
