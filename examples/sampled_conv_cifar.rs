//! Experiments E3 and E4: Monte Carlo quantization of a trained CNN's convolutions (one
//! distribution per filter, or per layer) and fully connected layers, without retraining,
//! against magnitude pruning, random pruning, TWN ternary thresholding and uniform rounding.
//!
//! ```text
//! cargo run --release --example sampled_conv_cifar -- --epochs 10 --plot docs/figures/e3_lenet.svg
//! cargo run --release --example sampled_conv_cifar -- --model alexnet --width 0.25 --epochs 3
//! ```
//!
//! Trains LeNet-5 (or an AlexNet-style network) on CIFAR-10, then for every sampling amount
//! `K` samples every `Conv2d` filter and `Linear` neuron (`--layers conv`: the convolutions
//! only) with several seeds and measures the test accuracy. The baselines run at the
//! per-layer fractions of non-zero weights that per-filter sampling reached at the same `K`.
//! Prints a Markdown table per method, the smallest fraction of non-zero weights keeping 88%
//! of the dense accuracy (the slides' LeNet point: 88% at 50% sampled), and a JSON line.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::data::dataset::Dataset;
use clap::Parser;
use common::{Point, check_sweep, plot, print_tables};
use mcnn::backends::{BackendKind, host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::{Source, data_dir};
use mcnn::models::{AlexNetCifarConfig, ImageClassifier, LeNet5Config};
use mcnn::sampled_conv::{apply_baseline_model, sample_model};
use mcnn::sampled_linear::{
    Baseline, Budget, Granularity, LayerKind, LayerReport, SamplingConfig, SamplingScheme,
    map_weights,
};
use mcnn::training::{TrainingConfig, TrainingData, evaluate};

/// The share of the dense accuracy the slides report kept at 50% sampled (LeNet, CIFAR-10).
const THRESHOLD: f64 = 0.88;

#[derive(Parser, Debug)]
#[command(about = "Monte Carlo quantization of Conv2d filters vs pruning and rounding (E3, E4)")]
struct Args {
    /// `lenet` (LeNet-5 for 32×32 colour images) or `alexnet` (AlexNet-style).
    #[arg(long, default_value = "lenet")]
    model: String,
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
    /// `all` (convolutions and fully connected layers) or `conv` (convolutions only).
    #[arg(long, default_value = "all")]
    layers: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    backend: Option<String>,
    /// Where to write the SVG plot (accuracy retained vs fraction of non-zero weights).
    #[arg(long)]
    plot: Option<PathBuf>,
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    check_sweep(args.seeds, &args.amounts)?;
    if !matches!(args.layers.as_str(), "all" | "conv") {
        return Err(format!(
            "--layers must be all or conv, got {:?}",
            args.layers
        ));
    }
    let kind = BackendKind::from_flag(args.backend.as_deref()).map_err(|e| e.to_string())?;
    let host = host_device();
    host.seed(args.train_seed);
    match args.model.as_str() {
        "lenet" => {
            let model = LeNet5Config::new()
                .with_in_channels(3)
                .with_image_size(32)
                .with_padding(0)
                .init(&host);
            experiment(materialize(model), "LeNet-5", kind, args)
        }
        "alexnet" => {
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
        other => Err(format!("--model must be lenet or alexnet, got {other:?}")),
    }
}

fn experiment<M: ImageClassifier>(
    model: M,
    name: &str,
    kind: BackendKind,
    args: &Args,
) -> Result<(), String> {
    let data = TrainingData::load(
        Source::Cifar10,
        &data_dir(args.data_dir.clone()),
        args.train_limit,
    )?;
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
    let conv_only = args.layers == "conv";
    let selected = |path: &str| !conv_only || path.starts_with("conv");

    let variants = [
        (SamplingScheme::Jittered, Granularity::PerNeuron),
        (SamplingScheme::Systematic, Granularity::PerNeuron),
        (SamplingScheme::Jittered, Granularity::PerLayer),
    ];
    let mut points: Vec<Point> = Vec::new();
    // Per K, the per-layer non-zero fractions of per-filter jittered sampling.
    let mut targets: Vec<(f64, Vec<f64>)> = Vec::new();
    for (v, &(scheme, granularity)) in variants.iter().enumerate() {
        for &k in &args.amounts {
            let mut point = None::<Point>;
            for seed in 0..args.seeds {
                let sampling = SamplingConfig::new(Budget::Amount(k))
                    .with_scheme(scheme)
                    .with_granularity(granularity)
                    .with_seed(1000 * seed);
                let (sampled, reports) =
                    sample_model(model.clone(), &sampling, selected).map_err(|e| e.to_string())?;
                if v == 0 && seed == 0 {
                    let fractions = reports.iter().map(LayerReport::nonzero_fraction).collect();
                    targets.push((k, fractions));
                }
                let method = sampling.describe().replace("neuron", "filter");
                point
                    .get_or_insert_with(|| Point::new(&reports, &method, format!("K = {k}")))
                    .accuracies
                    .push(accuracy(&sampled));
            }
            let p = point.expect("at least one seed");
            p.log();
            points.push(p);
        }
    }
    for (k, fractions) in &targets {
        for (label, random) in [("magnitude per filter", false), ("random per filter", true)] {
            let mut point = None::<Point>;
            for seed in 0..if random { args.seeds } else { 1 } {
                let (pruned, reports) = map_weights(
                    model.clone(),
                    &[LayerKind::Linear, LayerKind::Conv2d],
                    selected,
                    |layer, rows, d_out, d_in, i| {
                        let keep = fractions[i].clamp(1e-9, 1.0);
                        let baseline = if random {
                            Baseline::Random {
                                keep,
                                seed: 1000 * seed + i as u64,
                            }
                        } else {
                            Baseline::Magnitude {
                                keep,
                                granularity: Granularity::PerNeuron,
                            }
                        };
                        baseline.apply(rows, d_out, d_in, layer)
                    },
                )
                .map_err(|e| e.to_string())?;
                point
                    .get_or_insert_with(|| Point::new(&reports, label, format!("at K = {k}")))
                    .accuracies
                    .push(accuracy(&pruned));
            }
            points.push(point.expect("at least one run"));
        }
    }
    for baseline in [
        Baseline::Ternary,
        Baseline::Uniform { bits: 2 },
        Baseline::Uniform { bits: 4 },
        Baseline::Uniform { bits: 8 },
    ] {
        let (compressed, reports) =
            apply_baseline_model(model.clone(), baseline, selected).map_err(|e| e.to_string())?;
        let (method, parameter) = match baseline {
            Baseline::Uniform { bits } => {
                ("uniform rounding per layer".into(), format!("{bits} bits"))
            }
            other => (other.describe(), String::new()),
        };
        let mut p = Point::new(&reports, &method, parameter);
        p.accuracies.push(accuracy(&compressed));
        points.push(p);
    }

    let layers = if conv_only {
        "convolutions"
    } else {
        "all layers"
    };
    print_tables(
        &format!("{name} on CIFAR-10, {layers} sampled, {kind}"),
        dense,
        &points,
        THRESHOLD,
    );
    let at_half = points
        .iter()
        .find(|p| p.parameter == "K = 0.5" && p.method.starts_with("jittered per filter"));
    if let Some(p) = at_half {
        println!(
            "\nAt K = 0.5 (jittered per filter): {:.2}% of the weights non-zero, accuracy {:.4}, {:.1}% retained (slides: 88% at 50% sampled).",
            100.0 * p.nonzero,
            p.mean(),
            100.0 * p.mean() / dense
        );
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{name} on CIFAR-10, {layers}, no retraining ({} seeds per point)",
            args.seeds
        );
        plot(title, dense, &points, THRESHOLD).write(path)?;
        eprintln!("wrote {}", path.display());
    }
    let json: Vec<_> = points
        .iter()
        .map(|p| serde_json::json!({"method": p.method, "parameter": p.parameter, "nonzero": p.nonzero, "bits": p.bits, "accuracies": p.accuracies}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"experiment": experiment_id(args), "model": name, "backend": kind.name(), "epochs": args.epochs,
            "train_images": data.train_set.len(), "train_seed": args.train_seed, "seeds": args.seeds,
            "layers": args.layers, "dense_accuracy": dense, "points": json})
    );
    Ok(())
}

/// E3 is LeNet-5, E4 the AlexNet-style network.
fn experiment_id(args: &Args) -> &'static str {
    if args.model == "alexnet" { "E4" } else { "E3" }
}
