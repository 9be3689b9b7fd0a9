//! Experiment E2: Monte Carlo quantization of a trained network's `Linear` layers without
//! retraining, against magnitude pruning (alone and with its survivors quantized), random
//! pruning, TWN ternary thresholding, uniform rounding and Burn's quantizer, at equal non-zeros
//! and at equal bytes.
//!
//! ```text
//! cargo run --release --example sampled_linear_mnist -- --layers hidden --amounts 0.12 --seeds 3
//! cargo run --release --example sampled_linear_mnist -- --train-seeds 3 --seeds 5 --plot e2.svg --plot-bytes e2_bytes.svg
//! cargo run --release --example sampled_linear_mnist -- --model lenet --layers all
//! ```
//!
//! Trains the model (MLP 784-300-10 by default, or LeNet-5 whose three fully connected layers
//! are the candidates) on MNIST, with `--train-seeds` training seeds, then for every sampling
//! amount `K` samples the layers `--layers` selects (`hidden`, the default, keeps the output
//! layer dense as the slides' protocol does; `all` samples every one; per neuron:
//! `N = ⌈K · d_input⌉`) with `--seeds` sampling seeds and measures the test accuracy. The
//! baselines run at the per-layer fractions of non-zero weights that jittered per-neuron
//! sampling reached at the same `K`. Every point's model bytes count the compact format (packed
//! integers and scales) for integer methods. Prints a Markdown table per method, the smallest
//! non-zeros and bytes at which each method keeps 97% of the dense accuracy, per-layer weight
//! statistics, and as its last line one JSON object: `dense_accuracy`, `retained`,
//! `nonzero_fraction_all`, `nonzero_fraction_sampled` (of jittered per-neuron sampling at the
//! first amount, means over training and sampling seeds) and every point.

mod machine;

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::quantization::QuantValue;
use clap::{Parser, ValueEnum};
use common::study::{self, StudySetup};
use common::{Measure, check_sweep, plot, print_tables};
use machine::Machine;
use mcnn::backends::{BackendKind, host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::{ImageBatcher, ImageDataset, Source, Split};
use mcnn::models::{ImageClassifier, LeNet5Config, Mlp, MlpConfig};
use mcnn::sampled_linear::{
    Baseline, Budget, Granularity, LayerKind, LayerSelection, SamplingConfig, SamplingScheme,
    sample_activations, sample_weights,
};
use mcnn::training::{TrainingConfig, TrainingData, evaluate};

/// `--model`: the network trained and compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Model {
    Mlp,
    Lenet,
}

#[derive(Parser, Debug)]
#[command(about = "Monte Carlo quantization of Linear layers vs pruning and rounding (E2)")]
struct Args {
    /// `mlp` (784-HIDDEN-10) or `lenet` (its three fully connected layers are the candidates).
    #[arg(long, value_enum, default_value = "mlp")]
    model: Model,
    /// Hidden units of the MLP.
    #[arg(long, default_value_t = 300)]
    hidden: usize,
    /// Which layers are compressed: all, hidden (all but the last), inner (all but the first
    /// and the last), linear.
    #[arg(long, default_value = "hidden")]
    layers: LayerSelection,
    /// Sampling amounts for given layers in place of `K`, as PATH=K (e.g. `layers.1=0.3`).
    #[arg(long, value_delimiter = ',')]
    layer_amount: Vec<String>,
    /// Training passes over MNIST.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of the weights and the data order of the (first) trained model.
    #[arg(long, default_value_t = 1)]
    train_seed: u64,
    /// Trained models (seeds `train_seed`, `train_seed + 1`, …); points gather their runs.
    #[arg(long, default_value_t = 1)]
    train_seeds: u64,
    /// Sampling seeds per point and trained model.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Sampling amounts K.
    #[arg(long, value_delimiter = ',', default_values_t = [0.02, 0.05, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0])]
    amounts: Vec<f64>,
    #[command(flatten)]
    machine: Machine,
    /// Activation sampling amounts for the MLP's hidden activations (MCQ), reported apart.
    #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0])]
    activation_amounts: Vec<f64>,
    /// Where to write the SVG plot (accuracy retained vs fraction of non-zero weights).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Where to write the SVG plot of accuracy retained vs model bytes.
    #[arg(long)]
    plot_bytes: Option<PathBuf>,
}

/// An MLP whose hidden activations (the inputs of every layer but the first, which sees
/// normalised pixels that can be negative) are Monte Carlo sampled per example (MCQ).
#[derive(Module, Debug)]
struct ActivationSampledMlp {
    mlp: Mlp,
    #[module(skip)]
    sampling: SamplingConfig,
}

impl ImageClassifier for ActivationSampledMlp {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, c, h, w] = images.dims();
        let mut x = images.reshape([batch, c * h * w]);
        let last = self.mlp.layers.len() - 1;
        for (i, layer) in self.mlp.layers.iter().enumerate() {
            if i > 0 {
                x = sample_activations(x, &self.sampling).unwrap_or_else(|e| panic!("{e}"));
            }
            x = layer.forward(x);
            if i < last {
                x = self.mlp.activation.forward(x);
            }
        }
        x
    }
}

/// The effect of activation sampling alone and on top of weight sampling (K = 1, jittered per
/// neuron), for the trained MLP: a table of test accuracies per activation amount.
fn activation_study(mlp: Mlp, kind: BackendKind, args: &Args) -> Result<(), String> {
    let dir = args.machine.data_dir();
    let test_set =
        ImageDataset::load(Source::Mnist, Split::Test, &dir).map_err(|e| e.to_string())?;
    let batcher = ImageBatcher::for_source(Source::Mnist);
    let device = kind.device();
    let weights = SamplingConfig::new(Budget::Amount(1.0));
    let (sampled, _) = sample_weights(mlp.clone(), &[LayerKind::Linear], &weights, |_| true)
        .map_err(|e| e.to_string())?;
    println!("\nActivation sampling (MCQ) of the hidden layer's output, per example, jittered:\n");
    println!("| activation amount K_a | dense weights | weights sampled at K = 1 |\n|---|---|---|");
    let dense = evaluate(&mlp, &test_set, &batcher, 1000, &device);
    let both = evaluate(&sampled, &test_set, &batcher, 1000, &device);
    println!("| none | {dense:.4} | {both:.4} |");
    for &k in &args.activation_amounts {
        let sampling = SamplingConfig::new(Budget::Amount(k)).with_seed(7);
        sampling.check().map_err(|e| e.to_string())?;
        let [a, b] = [&mlp, &sampled].map(|m| {
            let wrapped = ActivationSampledMlp {
                mlp: m.clone(),
                sampling: sampling.clone(),
            };
            evaluate(&wrapped, &test_set, &batcher, 1000, &device)
        });
        println!("| {k} | {a:.4} | {b:.4} |");
    }
    Ok(())
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    check_sweep(args.seeds, &args.amounts)?;
    if args.train_seeds == 0 {
        return Err("--train-seeds must be at least 1".into());
    }
    let layer_amounts = parse_layer_amounts(&args.layer_amount)?;
    let kind = args.machine.backend;
    match args.model {
        Model::Mlp => {
            let name = format!("MLP 784-{}-10", args.hidden);
            let build =
                |host: &burn::tensor::Device| MlpConfig::new(vec![784, args.hidden, 10]).init(host);
            let trained = experiment(build, &name, kind, args, &layer_amounts)?;
            activation_study(trained, kind, args)
        }
        Model::Lenet => {
            let build = |host: &burn::tensor::Device| LeNet5Config::new().init(host);
            experiment(build, "LeNet-5 (fc layers)", kind, args, &layer_amounts).map(|_| ())
        }
    }
}

/// `PATH=K` pairs of `--layer-amount`.
fn parse_layer_amounts(pairs: &[String]) -> Result<Vec<(String, f64)>, String> {
    pairs
        .iter()
        .map(|pair| {
            let bad =
                || format!("--layer-amount {pair:?}: expected PATH=K with K finite and positive");
            let (path, k) = pair.split_once('=').ok_or_else(bad)?;
            let k: f64 = k.parse().map_err(|_| bad())?;
            (k.is_finite() && k > 0.0)
                .then(|| (path.to_string(), k))
                .ok_or_else(bad)
        })
        .collect()
}

/// Trains `--train-seeds` models of `build` and runs the study on each; returns the first
/// trained model.
fn experiment<M: ImageClassifier>(
    build: impl Fn(&burn::tensor::Device) -> M,
    name: &str,
    kind: BackendKind,
    args: &Args,
    layer_amounts: &[(String, f64)],
) -> Result<M, String> {
    let data = TrainingData::load(Source::Mnist, &args.machine.data_dir(), None)?;
    let device = kind.device();
    let setup = StudySetup {
        kinds: vec![LayerKind::Linear],
        selection: args.layers,
        amounts: args.amounts.clone(),
        seeds: args.seeds,
        layer_amounts: layer_amounts.to_vec(),
        variants: vec![
            (SamplingScheme::Jittered, Granularity::PerNeuron),
            (SamplingScheme::Threshold, Granularity::PerNeuron),
            (SamplingScheme::Systematic, Granularity::PerNeuron),
            (SamplingScheme::Iid, Granularity::PerNeuron),
            (SamplingScheme::Jittered, Granularity::PerLayer),
        ],
        row: "neuron",
        prune_quantize_bits: vec![2, 3, 4, 8],
        fixed: std::iter::once(Baseline::Ternary)
            .chain((2..=8).map(|bits| Baseline::Uniform { bits }))
            .collect(),
        burn: vec![QuantValue::Q8S, QuantValue::Q4S, QuantValue::Q2S],
    };
    let mut runs = Vec::new();
    let mut denses = Vec::new();
    let mut first = None;
    let mut stats = Vec::new();
    for t in 0..args.train_seeds {
        let seed = args.train_seed + t;
        let host = host_device();
        host.seed(seed);
        let model = materialize(build(&host));
        let config = TrainingConfig::new()
            .with_epochs(args.epochs)
            .with_seed(seed);
        config.check()?;
        eprintln!(
            "E2 on {kind}: training {name} for {} epoch(s), seed {seed}",
            args.epochs
        );
        let (model, _) = data.trainer(config).fit(model, &device, |_| {});
        let model = model.valid();
        let accuracy = |m: &M| evaluate(m, &data.test_set, &data.batcher, 1000, &device);
        let dense = accuracy(&model);
        eprintln!("dense test accuracy {dense:.4}");
        let found = study::run(&model, &setup, accuracy, dense)?;
        if t == 0 {
            eprintln!("compressed layers: {}", found.selected.join(", "));
            stats = found.default_reports.clone();
        }
        runs.push(found.points);
        denses.push(dense);
        first.get_or_insert(model);
    }
    let points = study::merge(runs);
    let dense = mcnn::sweep::mean_sd(&denses).0;
    let title = format!(
        "{name} on MNIST, layers {}, {kind}, {} trained model(s)",
        args.layers, args.train_seeds
    );
    print_tables(&title, dense, &points, 0.97);
    study::print_stats(&stats);
    for (path, measure) in [
        (&args.plot, Measure::Nonzero),
        (&args.plot_bytes, Measure::Bytes),
    ] {
        if let Some(path) = path {
            let title = format!(
                "{name} on MNIST, layers {}, no retraining ({} × {} seeds per point)",
                args.layers, args.train_seeds, args.seeds
            );
            plot(title, &points, 0.97, measure).write(path)?;
            eprintln!("wrote {}", path.display());
        }
    }
    let headline = points
        .iter()
        .find(|p| p.method == "jittered per neuron")
        .expect("the default variant runs");
    let json: Vec<_> = points
        .iter()
        .map(|p| serde_json::json!({"method": p.method, "parameter": p.parameter, "nonzero": p.nonzero,
            "nonzero_all": p.nonzero_all, "bytes": p.bytes, "bits": p.bits, "accuracies": p.accuracies,
            "dense": p.dense, "retained": p.retained()}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"experiment": "E2", "model": name, "backend": kind.name(), "epochs": args.epochs,
            "layers": args.layers.name(), "train_seed": args.train_seed, "train_seeds": args.train_seeds,
            "seeds": args.seeds, "amount": args.amounts[0], "dense_accuracy": dense,
            "dense_accuracies": denses, "retained": headline.retained(),
            "nonzero_fraction_all": headline.nonzero_all, "nonzero_fraction_sampled": headline.nonzero,
            "points": json})
    );
    Ok(first.expect("at least one trained model"))
}
