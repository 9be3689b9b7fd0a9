//! What the examples' command lines share: where the data sets are, and the backend
//! (`#[command(flatten)] machine: Machine` gives an example `--data-dir` and `--backend`).

use std::path::PathBuf;

use mcnn::backends::BackendKind;
use mcnn::cli::{compiled_backend, default_backend};

/// `--data-dir` and `--backend`.
#[derive(clap::Args, Debug, Clone)]
pub struct Machine {
    /// Where the data sets are (fetched there if missing) [default: $MCNN_DATA, else ./data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Backend: flex, ndarray or wgpu, among those compiled in.
    #[arg(long, value_parser = compiled_backend, default_value_t = default_backend())]
    pub backend: BackendKind,
}

impl Machine {
    /// The data directory: `--data-dir`, else `$MCNN_DATA`, else `./data`.
    pub fn data_dir(&self) -> PathBuf {
        mcnn::datasets::data_dir(self.data_dir.clone())
    }
}
