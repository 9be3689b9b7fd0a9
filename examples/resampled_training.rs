//! Training with the weights re-sampled at every step (the DropConnect relation of issue 6):
//! an MLP 784-HIDDEN-10 on MNIST whose two layers are `ResampledLinear`, at several sampling
//! amounts K, against the same MLP with dense `Linear` layers.
//!
//! ```text
//! cargo run --release --example resampled_training -- --amounts 0.1,0.25,0.5,1
//! ```
//!
//! Every run starts from the same weights (drawn on the host from `--seed`) and sees the data
//! in the same order. Prints, per model, the test accuracy (with the dense weights, the
//! estimator's expectation), the training seconds per epoch, and the accuracy after
//! post-training sampling at the same K (as in E2): does training through samples make the
//! network robust to being sampled? The last line is one JSON object for scripts: backend,
//! kernel, the dense step in ms, the accuracies, and `step_ratio_to_dense` per amount (each
//! re-sampled run's seconds per epoch over the dense run's, same backend, same run).
//! `--kernel sparse` or `dense` forces the training forward's kernel (`auto` chooses by the
//! sample's density).

mod machine;

use std::process::ExitCode;

use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::nn::Relu;
use burn::tensor::Tensor;
use clap::Parser;
use machine::Machine;
use mcnn::backends::{host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::Source;
use mcnn::learner::ModelStats;
use mcnn::models::{ImageClassifier, Mlp, MlpConfig};
use mcnn::sampled_linear::{
    Budget, Kernel, LayerKind, ResampledLinear, SamplingConfig, sample_weights,
};
use mcnn::training::{TrainingConfig, TrainingData, evaluate};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "MLP on MNIST trained through re-sampled weights vs dense")]
struct Args {
    /// Sampling amounts K (N = ⌈K · d_input⌉ samples per neuron and step).
    #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.25, 0.5, 1.0])]
    amounts: Vec<f64>,
    #[arg(long, default_value_t = 300)]
    hidden: usize,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Seed of the initial weights, the data order and the samples.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The training forward's kernel: auto (by density and size), sparse (the fan-in op) or
    /// dense (the product with the masked weights).
    #[arg(long, value_parser = mcnn::cli::kernel, default_value = "auto")]
    kernel: Kernel,
    #[command(flatten)]
    machine: Machine,
}

/// The MLP with re-sampled layers.
#[derive(Module, Debug)]
struct ResampledMlp {
    layers: Vec<ResampledLinear>,
    activation: Relu,
}

impl ImageClassifier for ResampledMlp {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, c, h, w] = images.dims();
        let mut x = images.reshape([batch, c * h * w]);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x
    }

    /// The last training step's samples.
    fn stats(&self) -> ModelStats {
        ModelStats::of_resampled(&self.layers)
    }
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    let kind = args.machine.backend;
    let data = TrainingData::load(Source::Mnist, &args.machine.data_dir(), None)?;
    let device = kind.device();
    let config = TrainingConfig::new()
        .with_epochs(args.epochs)
        .with_seed(args.seed);
    config.check()?;
    let batch_size = config.batch_size;
    let trainer = data.trainer(config);
    let host = host_device();
    host.seed(args.seed);
    let dense = materialize(MlpConfig::new(vec![784, args.hidden, 10]).init(&host));

    // Post-training sampling of a trained MLP at amount K: mean test accuracy over 3 seeds.
    let sampled_accuracy = |mlp: &Mlp, k: f64| -> Result<f64, String> {
        let mut sum = 0.0;
        for seed in 0..3u64 {
            let sampling = SamplingConfig::new(Budget::Amount(k)).with_seed(1000 * seed);
            let (sampled, _) =
                sample_weights(mlp.clone(), &[LayerKind::Linear], &sampling, |_| true)
                    .map_err(|e| e.to_string())?;
            sum += evaluate(&sampled, &data.test_set, &data.batcher, 1000, &device);
        }
        Ok(sum / 3.0)
    };
    println!(
        "| model | test accuracy (dense weights) | train s / epoch | step time vs dense | \
         accuracy sampled after training at the same K (3 seeds) |\n|---|---|---|---|---|"
    );
    eprintln!("{kind}: dense MLP 784-{}-10", args.hidden);
    let (dense_trained, reports) = trainer.fit(dense.clone(), &device, |_| {});
    let dense_trained = dense_trained.valid();
    let (dense_acc, dense_s) = summary(&reports);
    let at_k: Vec<String> = args
        .amounts
        .iter()
        .map(|&k| sampled_accuracy(&dense_trained, k).map(|a| format!("K = {k}: {a:.4}")))
        .collect::<Result<_, _>>()?;
    println!(
        "| dense | {dense_acc:.4} | {dense_s:.2} | 1 | {} |",
        at_k.join(", ")
    );
    let steps_per_epoch = data.train_set.len().div_ceil(batch_size) as f64;
    let mut ratios = serde_json::Map::new();
    let mut accuracies = serde_json::Map::new();
    for &k in &args.amounts {
        let sampling = SamplingConfig::new(Budget::Amount(k)).with_seed(args.seed);
        sampling.check().map_err(|e| e.to_string())?;
        let model = ResampledMlp {
            layers: dense
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let seed = args.seed.wrapping_add(1_000_000 * i as u64);
                    let dense = l.as_dense().expect("a freshly made MLP is dense").clone();
                    ResampledLinear::from_linear(dense, sampling.clone().with_seed(seed))
                        .with_kernel(args.kernel)
                })
                .collect(),
            activation: Relu::new(),
        };
        eprintln!("{kind}: re-sampled, K = {k}");
        let (trained, reports) = trainer.fit(model, &device, |_| {});
        let (acc, s) = summary(&reports);
        let as_mlp = Mlp {
            layers: trained
                .valid()
                .layers
                .into_iter()
                .map(|l| l.linear.into())
                .collect(),
            activation: Relu::new(),
        };
        let sampled = sampled_accuracy(&as_mlp, k)?;
        println!(
            "| re-sampled, K = {k} | {acc:.4} | {s:.2} | {:.2} | K = {k}: {sampled:.4} |",
            s / dense_s
        );
        ratios.insert(k.to_string(), json!(s / dense_s));
        accuracies.insert(k.to_string(), json!(acc));
    }
    // Last line: one JSON object, for scripts (the issue's interface for checking).
    println!(
        "{}",
        json!({
            "backend": kind.to_string(),
            "kernel": format!("{:?}", args.kernel).to_lowercase(),
            "hidden": args.hidden,
            "epochs": args.epochs,
            "seed": args.seed,
            "batch_size": batch_size,
            "dense_step_ms": 1000.0 * dense_s / steps_per_epoch,
            "dense_accuracy": dense_acc,
            "step_ratio_to_dense": ratios,
            "accuracy": accuracies,
        })
    );
    Ok(())
}

/// Last test accuracy and mean training seconds per epoch.
fn summary(reports: &[mcnn::training::EpochReport]) -> (f64, f64) {
    let seconds = reports.iter().map(|r| r.train_seconds).sum::<f64>() / reports.len() as f64;
    (reports.last().expect("one epoch").test_accuracy, seconds)
}
