//! Experiment E2: Monte Carlo quantization of a trained network's `Linear` layers without
//! retraining, against magnitude pruning, random pruning, TWN ternary thresholding and
//! uniform rounding at equal sparsity or bits.
//!
//! ```text
//! cargo run --release --example sampled_linear_mnist -- --plot docs/figures/e2_mlp.svg
//! cargo run --release --example sampled_linear_mnist -- --model lenet --plot docs/figures/e2_lenet.svg
//! ```
//!
//! Trains the model (MLP 784-300-10 by default, or LeNet-5) on MNIST, then for every sampling
//! amount `K` samples every `Linear` (per neuron: `N = ⌈K · d_input⌉` per neuron; per layer:
//! `⌈K · weights⌉`) with several seeds and measures the test accuracy. The baselines run at
//! the fraction of non-zero weights that jittered per-neuron sampling reached in each layer
//! at the same `K`. Prints a Markdown table per method, the smallest fraction of weights at
//! which each method keeps 97% of the dense accuracy, and one JSON line with every point.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, Quantizer};
use burn::tensor::quantization::{Calibration, QuantScheme, QuantValue};
use burn::tensor::{DType, Tensor};
use clap::Parser;
use common::{Point, check_sweep, plot, print_tables};
use mcnn::backends::{BackendKind, host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::{ImageBatcher, ImageDataset, Source, Split, data_dir};
use mcnn::models::{ImageClassifier, LeNet5Config, Mlp, MlpConfig};
use mcnn::sampled_linear::{
    Baseline, Budget, Granularity, LayerReport, SamplingConfig, SamplingScheme, map_linear_weights,
    sample_activations, sample_linears,
};
use mcnn::training::{TrainingConfig, TrainingData, evaluate};

#[derive(Parser, Debug)]
#[command(about = "Monte Carlo quantization of Linear layers vs pruning and rounding (E2)")]
struct Args {
    /// `mlp` (784-HIDDEN-10) or `lenet` (its three fully connected layers are sampled).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// Hidden units of the MLP.
    #[arg(long, default_value_t = 300)]
    hidden: usize,
    /// Training passes over MNIST.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of the weights and the data order of the trained model.
    #[arg(long, default_value_t = 1)]
    train_seed: u64,
    /// Sampling seeds per point (their mean and spread are reported).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Sampling amounts K.
    #[arg(long, value_delimiter = ',', default_values_t = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0])]
    amounts: Vec<f64>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    backend: Option<String>,
    /// Activation sampling amounts for the MLP's hidden activations (MCQ), reported apart.
    #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0])]
    activation_amounts: Vec<f64>,
    /// Where to write the SVG plot (accuracy retained vs fraction of non-zero weights).
    #[arg(long)]
    plot: Option<PathBuf>,
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
    let dir = data_dir(args.data_dir.clone());
    let test_set =
        ImageDataset::load(Source::Mnist, Split::Test, &dir).map_err(|e| e.to_string())?;
    let batcher = ImageBatcher::for_source(Source::Mnist);
    let device = kind.device();
    let weights = SamplingConfig::new(Budget::Amount(1.0));
    let (sampled, _) =
        sample_linears(mlp.clone(), &weights, |_| true).map_err(|e| e.to_string())?;
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
    let kind = BackendKind::from_flag(args.backend.as_deref()).map_err(|e| e.to_string())?;
    match args.model.as_str() {
        "mlp" => {
            let host = host_device();
            host.seed(args.train_seed);
            let model = materialize(MlpConfig::new(vec![784, args.hidden, 10]).init(&host));
            let trained = experiment(model, &format!("MLP 784-{}-10", args.hidden), kind, args)?;
            activation_study(trained, kind, args)
        }
        "lenet" => {
            let host = host_device();
            host.seed(args.train_seed);
            let model = materialize(LeNet5Config::new().init(&host));
            experiment(model, "LeNet-5 (fc layers)", kind, args).map(|_| ())
        }
        other => Err(format!("--model must be mlp or lenet, got {other:?}")),
    }
}

fn experiment<M: ImageClassifier>(
    model: M,
    name: &str,
    kind: BackendKind,
    args: &Args,
) -> Result<M, String> {
    let data = TrainingData::load(Source::Mnist, &data_dir(args.data_dir.clone()), None)?;
    let device = kind.device();
    let config = TrainingConfig::new()
        .with_epochs(args.epochs)
        .with_seed(args.train_seed);
    config.check()?;
    eprintln!("E2 on {kind}: training {name} for {} epoch(s)", args.epochs);
    let (model, _) = data.trainer(config).fit(model, &device, |_| {});
    let model = model.valid();
    let accuracy = |m: &M| evaluate(m, &data.test_set, &data.batcher, 1000, &device);
    let dense = accuracy(&model);
    eprintln!("dense test accuracy {dense:.4}");

    let variants = [
        (SamplingScheme::Jittered, Granularity::PerNeuron),
        (SamplingScheme::Systematic, Granularity::PerNeuron),
        (SamplingScheme::Iid, Granularity::PerNeuron),
        (SamplingScheme::Jittered, Granularity::PerLayer),
    ];
    let mut points: Vec<Point> = Vec::new();
    // Per K, the per-layer non-zero fractions of the default variant: the baselines' targets.
    let mut targets: Vec<(f64, Vec<f64>)> = Vec::new();
    // The paths of the sampled `Linear` layers, from the mapper's reports.
    let mut paths: Vec<String> = Vec::new();
    for (v, &(scheme, granularity)) in variants.iter().enumerate() {
        for &k in &args.amounts {
            let mut point = None::<Point>;
            for seed in 0..args.seeds {
                let sampling = SamplingConfig::new(Budget::Amount(k))
                    .with_scheme(scheme)
                    .with_granularity(granularity)
                    .with_seed(1000 * seed);
                let (sampled, reports) = sample_linears(model.clone(), &sampling, |_| true)
                    .map_err(|e| e.to_string())?;
                let acc = accuracy(&sampled);
                if v == 0 && seed == 0 {
                    paths = reports.iter().map(|r| r.layer.clone()).collect();
                    targets.push((
                        k,
                        reports.iter().map(LayerReport::nonzero_fraction).collect(),
                    ));
                }
                let p = point.get_or_insert_with(|| {
                    Point::new(&reports, &sampling.describe(), format!("K = {k}"))
                });
                p.accuracies.push(acc);
            }
            let p = point.expect("at least one seed");
            p.log();
            points.push(p);
        }
    }

    for (k, fractions) in &targets {
        let baselines = [
            ("magnitude per neuron", Granularity::PerNeuron, false),
            ("magnitude per layer", Granularity::PerLayer, false),
            ("random per neuron", Granularity::PerNeuron, true),
        ];
        for (label, granularity, random) in baselines {
            let mut point = None::<Point>;
            let runs = if random { args.seeds } else { 1 };
            for seed in 0..runs {
                let (pruned, reports) = map_linear_weights(
                    model.clone(),
                    |_| true,
                    |layer, rows, d_out, d_in, i| {
                        let keep = fractions[i].clamp(1e-9, 1.0);
                        let baseline = if random {
                            Baseline::Random {
                                keep,
                                seed: 1000 * seed + i as u64,
                            }
                        } else {
                            Baseline::Magnitude { keep, granularity }
                        };
                        baseline.apply(rows, d_out, d_in, layer)
                    },
                )
                .map_err(|e| e.to_string())?;
                let acc = accuracy(&pruned);
                point
                    .get_or_insert_with(|| Point::new(&reports, label, format!("at K = {k}")))
                    .accuracies
                    .push(acc);
            }
            points.push(point.expect("at least one run"));
        }
    }
    let mut fixed = vec![Baseline::Ternary];
    fixed.extend((2..=8).map(|bits| Baseline::Uniform { bits }));
    for baseline in fixed {
        let (model, reports) =
            mcnn::sampled_linear::apply_baseline(model.clone(), baseline, |_| true)
                .map_err(|e| e.to_string())?;
        let acc = accuracy(&model);
        let (method, parameter) = match baseline {
            Baseline::Uniform { bits } => (
                "uniform rounding per layer".to_string(),
                format!("{bits} bits"),
            ),
            other => (other.describe(), String::new()),
        };
        let mut p = Point::new(&reports, &method, parameter);
        p.accuracies.push(acc);
        points.push(p);
    }
    // Burn's own post-training weight quantization, on the same Linear weights.
    for (value, bits) in [
        (QuantValue::Q8S, 8),
        (QuantValue::Q4S, 4),
        (QuantValue::Q2S, 2),
    ] {
        let scheme = QuantScheme::default().with_value(value);
        let quantized = model.clone().quantize_weights_group(
            &mut Quantizer::new(Calibration::MinMax, scheme),
            ParamGroup::from_paths(paths.iter().map(|p| format!("{p}.weight")).collect()),
        );
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (accuracy(&quantized), nonzero_fraction(&quantized))
        }));
        match run {
            Ok((acc, nonzero)) => points.push(Point {
                method: "Burn quantize_weights, per tensor".into(),
                parameter: format!("{value:?}"),
                nonzero,
                bits,
                ternary_layers: 0,
                accuracies: vec![acc],
            }),
            Err(_) => eprintln!("Burn quantize_weights {value:?}: not supported on {kind}"),
        }
    }

    print_tables(&format!("{name} on MNIST, {kind}"), dense, &points, 0.97);
    if let Some(path) = &args.plot {
        let title = format!(
            "{name} on MNIST, no retraining ({} sampling seeds per point)",
            args.seeds
        );
        plot(title, dense, &points, 0.97).write(path)?;
        eprintln!("wrote {}", path.display());
    }
    let json: Vec<_> = points
        .iter()
        .map(|p| serde_json::json!({"method": p.method, "parameter": p.parameter, "nonzero": p.nonzero, "bits": p.bits, "accuracies": p.accuracies}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"experiment": "E2", "model": name, "backend": kind.name(), "epochs": args.epochs,
            "train_seed": args.train_seed, "seeds": args.seeds, "dense_accuracy": dense, "points": json})
    );
    Ok(model)
}

/// The fraction of non-zero values among the quantized (`QFloat`) weights of `model`.
fn nonzero_fraction<M: Module>(model: &M) -> f64 {
    struct Count(usize, usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if matches!(value.dtype(), DType::QFloat(_)) {
                let data = value.dequantize().into_data().convert::<f32>();
                let values = data.try_to_vec::<f32>().expect("f32 after convert");
                self.0 += values.iter().filter(|&&v| v != 0.0).count();
                self.1 += values.len();
            }
        }
    }
    let mut count = Count(0, 0);
    model.visit(&mut count);
    count.0 as f64 / count.1.max(1) as f64
}
