//! Experiments E3 and E4: Monte Carlo quantization of a trained CNN's convolutions (one
//! distribution per filter, or per layer) and fully connected layers, without retraining,
//! against magnitude pruning (alone and with its survivors quantized), random pruning, TWN
//! ternary thresholding and uniform rounding, at equal non-zeros and at equal bytes.
//!
//! ```text
//! cargo run --release --example sampled_conv_cifar -- --filters 32,64 --layers inner --epochs 10 --plot e3.svg
//! cargo run --release --example sampled_conv_cifar -- --model alexnet --width 0.25 --epochs 3 --layers inner
//! ```
//!
//! Trains LeNet-5 (optionally wider: `--filters`, `--hidden`) or an AlexNet-style network on
//! CIFAR-10, then for every sampling amount `K` samples the `Conv2d` filters and `Linear`
//! neurons of the layers `--layers` selects (`inner`: all but the first convolution and the
//! last `Linear`, the slides' and the quantization literature's protocol; `all`; `conv`) with
//! several seeds and measures the test accuracy. The baselines run at the per-layer fractions
//! of non-zero weights that per-filter sampling reached at the same `K`. Prints a Markdown
//! table per method, the smallest non-zeros and bytes keeping 88% of the dense accuracy (the
//! slides' LeNet point: 88% at 50% sampled), and a JSON line.

mod machine;

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::data::dataset::Dataset;
use clap::{Parser, ValueEnum};
use common::study::{self, StudySetup};
use common::{Measure, check_sweep, plot, print_tables};
use machine::Machine;
use mcnn::backends::{BackendKind, host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::Source;
use mcnn::models::{AlexNetCifarConfig, ImageClassifier, LeNet5Config};
use mcnn::sampled_linear::{Baseline, Granularity, LayerKind, LayerSelection, SamplingScheme};
use mcnn::training::{TrainingConfig, TrainingData, evaluate};

/// The share of the dense accuracy the slides report kept at 50% sampled (LeNet, CIFAR-10).
const THRESHOLD: f64 = 0.88;

/// `--model`: the network trained and compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Model {
    Lenet,
    Alexnet,
}

#[derive(Parser, Debug)]
#[command(about = "Monte Carlo quantization of Conv2d filters vs pruning and rounding (E3, E4)")]
struct Args {
    /// `lenet` (LeNet-5 for 32×32 colour images) or `alexnet` (AlexNet-style).
    #[arg(long, value_enum, default_value = "lenet")]
    model: Model,
    /// AlexNet's channel counts `[64, 192, 384, 256, 256]` and hidden width 1024, times this.
    #[arg(long, default_value_t = 0.25)]
    width: f64,
    /// Training passes over CIFAR-10.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Train on the first N images only (all 50 000 by default): a reduced budget.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Seed of the weights and the data order of the trained model.
    #[arg(long, default_value_t = 1)]
    train_seed: u64,
    /// Sampling seeds per point.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Sampling amounts K.
    #[arg(long, value_delimiter = ',', default_values_t = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0])]
    amounts: Vec<f64>,
    /// Which layers are compressed: inner (all but the first and the last), all, hidden (all
    /// but the last), conv, linear.
    #[arg(long, default_value = "inner")]
    layers: LayerSelection,
    /// LeNet's filters in its two convolutions (LeNet-5: 6,16).
    #[arg(long, value_delimiter = ',', default_values_t = [6, 16])]
    filters: Vec<usize>,
    /// LeNet's two hidden fully connected widths (LeNet-5: 120,84).
    #[arg(long, value_delimiter = ',', default_values_t = [120, 84])]
    hidden: Vec<usize>,
    #[command(flatten)]
    machine: Machine,
    /// Where to write the SVG plot (accuracy retained vs fraction of non-zero weights).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Where to write the SVG plot of accuracy retained vs model bytes.
    #[arg(long)]
    plot_bytes: Option<PathBuf>,
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    check_sweep(args.seeds, &args.amounts)?;
    let pair = |values: &[usize], flag: &str| match values {
        [a, b] if *a > 0 && *b > 0 => Ok([*a, *b]),
        _ => Err(format!(
            "--{flag} takes two positive numbers, got {values:?}"
        )),
    };
    let (filters, hidden) = (
        pair(&args.filters, "filters")?,
        pair(&args.hidden, "hidden")?,
    );
    let kind = args.machine.backend;
    let host = host_device();
    host.seed(args.train_seed);
    match args.model {
        Model::Lenet => {
            let model = LeNet5Config::new()
                .with_in_channels(3)
                .with_image_size(32)
                .with_padding(0)
                .with_filters(filters)
                .with_hidden(hidden)
                .init(&host);
            let name = match (filters, hidden) {
                ([6, 16], [120, 84]) => "LeNet-5".to_string(),
                _ => format!("LeNet, filters {filters:?}, hidden {hidden:?}"),
            };
            experiment(materialize(model), &name, kind, args)
        }
        Model::Alexnet => {
            if !(args.width > 0.0 && args.width.is_finite()) {
                return Err(format!("--width must be positive, got {}", args.width));
            }
            let scale = |n: usize| ((n as f64 * args.width).round() as usize).max(1);
            let channels = [64, 192, 384, 256, 256].map(scale);
            let model = AlexNetCifarConfig::new()
                .with_channels(channels)
                .with_hidden(scale(1024))
                .init(&host);
            let name = format!("AlexNet-style {channels:?}, hidden {}", scale(1024));
            experiment(materialize(model), &name, kind, args)
        }
    }
}

fn experiment<M: ImageClassifier>(
    model: M,
    name: &str,
    kind: BackendKind,
    args: &Args,
) -> Result<(), String> {
    let data = TrainingData::load(Source::Cifar10, &args.machine.data_dir(), args.train_limit)?;
    let device = kind.device();
    let config = TrainingConfig::new()
        .with_epochs(args.epochs)
        .with_seed(args.train_seed);
    config.check()?;
    eprintln!(
        "{} on {kind}: training {name} on {} CIFAR-10 images for {} epoch(s)",
        experiment_id(args),
        data.train_set.len(),
        args.epochs
    );
    let (model, _) = data.trainer(config).fit(model, &device, |_| {});
    let accuracy = |m: &M| evaluate(m, &data.test_set, &data.batcher, 500, &device);
    let dense = accuracy(&model);
    eprintln!("dense test accuracy {dense:.4}");
    let setup = StudySetup {
        kinds: vec![LayerKind::Conv2d, LayerKind::Linear],
        selection: args.layers,
        amounts: args.amounts.clone(),
        seeds: args.seeds,
        layer_amounts: Vec::new(),
        variants: vec![
            (SamplingScheme::Jittered, Granularity::PerNeuron),
            (SamplingScheme::Threshold, Granularity::PerNeuron),
            (SamplingScheme::Systematic, Granularity::PerNeuron),
            (SamplingScheme::Jittered, Granularity::PerLayer),
        ],
        row: "filter",
        prune_quantize_bits: vec![2, 3, 4],
        fixed: vec![
            Baseline::Ternary,
            Baseline::Uniform { bits: 2 },
            Baseline::Uniform { bits: 4 },
            Baseline::Uniform { bits: 8 },
        ],
        burn: Vec::new(),
    };
    let found = study::run(&model, &setup, accuracy, dense)?;
    eprintln!("compressed layers: {}", found.selected.join(", "));
    study::print_stats(&found.default_reports);
    let points = found.points;
    print_tables(
        &format!("{name} on CIFAR-10, layers {}, {kind}", args.layers),
        dense,
        &points,
        THRESHOLD,
    );
    let at_half = points
        .iter()
        .find(|p| p.parameter == "K = 0.5" && p.method == "jittered per filter");
    if let Some(p) = at_half {
        println!(
            "\nAt K = 0.5 (jittered per filter): {:.2}% of the compressed layers' weights non-zero ({:.2}% of all), accuracy {:.4}, {:.1}% retained (slides: 88% at 50% sampled).",
            100.0 * p.nonzero,
            100.0 * p.nonzero_all,
            p.mean(),
            100.0 * p.retained()
        );
    }
    for (path, measure) in [
        (&args.plot, Measure::Nonzero),
        (&args.plot_bytes, Measure::Bytes),
    ] {
        if let Some(path) = path {
            let title = format!(
                "{name} on CIFAR-10, layers {}, no retraining ({} seeds per point)",
                args.layers, args.seeds
            );
            plot(title, &points, THRESHOLD, measure).write(path)?;
            eprintln!("wrote {}", path.display());
        }
    }
    let json: Vec<_> = points
        .iter()
        .map(|p| serde_json::json!({"method": p.method, "parameter": p.parameter, "nonzero": p.nonzero,
            "nonzero_all": p.nonzero_all, "bytes": p.bytes, "bits": p.bits, "accuracies": p.accuracies,
            "retained": p.retained()}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"experiment": experiment_id(args), "model": name, "backend": kind.name(), "epochs": args.epochs,
            "train_images": data.train_set.len(), "train_seed": args.train_seed, "seeds": args.seeds,
            "layers": args.layers.name(), "dense_accuracy": dense, "points": json})
    );
    Ok(())
}

/// E3 is LeNet-5, E4 the AlexNet-style network.
fn experiment_id(args: &Args) -> &'static str {
    match args.model {
        Model::Alexnet => "E4",
        Model::Lenet => "E3",
    }
}
