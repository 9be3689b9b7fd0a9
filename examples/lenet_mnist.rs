//! Trains LeNet-5 on MNIST and reports the test accuracy after every epoch.
//!
//! ```text
//! cargo run --release --example lenet_mnist                   # CPU (flex)
//! cargo run --release --example lenet_mnist --features wgpu -- --backend wgpu   # GPU
//! cargo run --release --example lenet_mnist --features ndarray -- --backend ndarray
//! ```
//!
//! The data is fetched into `--data-dir` (else `$MCNN_DATA`, else `./data`) on first use.
//! The last line printed is JSON:
//! `{"test_accuracy": …, "epochs": …, "backend": …, "seconds": …, …}`.

mod machine;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::data::dataset::Dataset as _;
use burn::module::Module;
use clap::Parser;
use machine::Machine;
use mcnn::backends::{host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::Source;
use mcnn::models::LeNet5Config;
use mcnn::training::{TrainingConfig, TrainingData};

#[derive(Parser, Debug)]
#[command(about = "Train LeNet-5 on MNIST")]
struct Args {
    /// Passes over the training set.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's peak learning rate (it decays to 0 along a half cosine unless --constant-lr).
    #[arg(long, default_value_t = 3e-3)]
    learning_rate: f64,
    /// Keep the learning rate constant instead of the default half-cosine decay to 0.
    #[arg(long)]
    constant_lr: bool,
    /// Seed of the initial weights and of the shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train on the first N training images only.
    #[arg(long)]
    train_limit: Option<usize>,
    #[command(flatten)]
    machine: Machine,
    /// Where to save the trained model (a Burn record).
    #[arg(long, default_value = "artifacts/lenet_mnist.bpk")]
    save: PathBuf,
    /// Do not save the trained model.
    #[arg(long)]
    no_save: bool,
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    let kind = args.machine.backend;
    let config = TrainingConfig::new()
        .with_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.learning_rate)
        .with_cosine_decay(!args.constant_lr)
        .with_seed(args.seed);
    config.check()?;
    let data = TrainingData::load(Source::Mnist, &args.machine.data_dir(), args.train_limit)?;

    // Weights are drawn on the host so that every backend starts from the same model.
    let host = host_device();
    host.seed(args.seed);
    let model = materialize(LeNet5Config::new().init(&host));
    let device = kind.device();
    eprintln!(
        "LeNet-5 ({} parameters) on MNIST: {} training and {} test images, backend {kind}",
        model.num_params(),
        data.train_set.len(),
        data.test_set.len()
    );

    let start = Instant::now();
    let (model, reports) = data.trainer(config).fit(model, &device, |_| {});
    let seconds = start.elapsed().as_secs_f64();

    if !args.no_save {
        if let Some(parent) = args.save.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        model
            .save_file(&args.save)
            .map_err(|e| format!("cannot save the model to {}: {e}", args.save.display()))?;
        eprintln!("saved the trained model to {}", args.save.display());
    }

    let last = reports.last().expect("at least one epoch");
    let epoch_seconds: Vec<f64> = reports.iter().map(|r| r.train_seconds).collect();
    let accuracies: Vec<f64> = reports.iter().map(|r| r.test_accuracy).collect();
    println!(
        "{}",
        serde_json::json!({
            "test_accuracy": last.test_accuracy,
            "epochs": args.epochs,
            "backend": kind.name(),
            "seconds": seconds,
            "epoch_seconds": epoch_seconds,
            "epoch_accuracies": accuracies,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "lr_schedule": if args.constant_lr { "constant" } else { "cosine" },
            "seed": args.seed,
            "train_images": data.train_set.len(),
        })
    );
    Ok(())
}
