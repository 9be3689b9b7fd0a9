//! Loads a LeNet-5 trained elsewhere (PyTorch, `tools/peers/lenet_mnist_torch.py --save`),
//! through burn-store, compresses it by Monte Carlo quantization and reports its MNIST test
//! accuracy before and after, with the model's bytes.
//!
//! ```text
//! python3 tools/peers/lenet_mnist_torch.py --epochs 2 --save artifacts/lenet_torch.safetensors
//! cargo run --release --example pretrained_mnist -- --weights artifacts/lenet_torch.safetensors
//! ```
//!
//! `--weights` takes a SafeTensors file or a PyTorch `.pt` / `.pth` `state_dict`. Each amount
//! `K` samples `K · n` weights per neuron (filter) of the layers `--layers` selects, with
//! `--seeds` sampling seeds (the non-zeros and bytes are their means). The last line printed is JSON: `{"dense_accuracy": …,
//! "dense_bytes": …, "points": [{"amount": …, "accuracy": …, "bytes": …, …}], …}`.

mod machine;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use clap::Parser;
use machine::Machine;
use mcnn::backends::host_device;
use mcnn::cli::exit_code;
use mcnn::datasets::Source;
use mcnn::models::{LeNet5, LeNet5Config};
use mcnn::pretrained::{LENET5_PYTORCH_KEYS, load_pytorch};
use mcnn::sampled_linear::{
    Budget, CompressibleLayer, CompressionPlan, LayerSelection, SamplingConfig, StoredSize,
    compress, compressible_layers,
};
use mcnn::sweep::mean_sd;
use mcnn::training::{TrainingData, evaluate};

#[derive(Parser, Debug)]
#[command(about = "Load a PyTorch-trained LeNet-5, compress it, report accuracy before and after")]
struct Args {
    /// The PyTorch weights: a .safetensors file or a .pt / .pth state_dict.
    #[arg(long)]
    weights: PathBuf,
    /// Samples per neuron as a multiple of its inputs (K).
    #[arg(long, value_delimiter = ',', default_values_t = [0.25, 0.5, 1.0, 2.0])]
    amounts: Vec<f64>,
    /// Which layers are sampled: all, hidden, inner, conv or linear.
    #[arg(long, default_value = "all")]
    layers: LayerSelection,
    /// Sampling seeds per amount.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    #[command(flatten)]
    machine: Machine,
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    if let Some(k) = args.amounts.iter().find(|k| !(k.is_finite() && **k > 0.0)) {
        return Err(format!("--amounts must be finite and positive, got {k}"));
    }
    let device = args.machine.backend.device();
    let model = LeNet5Config::new().init(&host_device());
    let dense = load_pytorch(model, &args.weights, &LENET5_PYTORCH_KEYS)?.fork(&device);
    eprintln!("loaded {}", args.weights.display());
    let data = TrainingData::load(Source::Mnist, &args.machine.data_dir(), None)?;
    let accuracy = |model: &LeNet5| evaluate(model, &data.test_set, &data.batcher, 500, &device);
    let dense_accuracy = accuracy(&dense);
    let dense_bytes = stored_bytes(&compressible_layers(&dense));
    eprintln!("dense (as trained): accuracy {dense_accuracy:.4}, {dense_bytes} bytes");
    eprintln!("| K | accuracy (mean ± sd) | non-zero, sampled layers | bytes |\n|---|---|---|---|");

    let mut points = Vec::new();
    for &amount in &args.amounts {
        // Over the seeds: the sampled layers' sizes, the model's bytes.
        let (mut accuracies, mut sampled, mut bytes) = (Vec::new(), StoredSize::default(), 0);
        for seed in 0..args.seeds {
            let sampling = SamplingConfig::new(Budget::Amount(amount)).with_seed(seed);
            let plan = CompressionPlan::new(sampling).with_layers(args.layers);
            let (compact, reports) = compress(dense.clone(), &plan).map_err(|e| e.to_string())?;
            if reports.is_empty() {
                return Err(format!(
                    "--layers {} selects no layer of LeNet-5",
                    args.layers
                ));
            }
            accuracies.push(accuracy(&compact));
            let layers = compressible_layers(&compact);
            for layer in layers.iter().filter(|l| l.sampled) {
                sampled = sampled + layer.size;
            }
            bytes += stored_bytes(&layers);
        }
        let (mean, sd) = mean_sd(&accuracies);
        let bytes = bytes as f64 / args.seeds as f64;
        let fraction = sampled.nonzero_fraction();
        eprintln!("| {amount} | {mean:.4} ± {sd:.4} | {fraction:.3} | {bytes:.0} |");
        points.push(serde_json::json!({
            "amount": amount,
            "accuracy": mean,
            "accuracy_sd": sd,
            "accuracies": accuracies,
            "nonzero_fraction_sampled": fraction,
            "bytes": bytes,
        }));
    }
    println!(
        "{}",
        serde_json::json!({
            "weights": args.weights,
            "model": "LeNet-5",
            "layers": args.layers.name(),
            "backend": args.machine.backend.name(),
            "dense_accuracy": dense_accuracy,
            "dense_bytes": dense_bytes,
            "points": points,
        })
    );
    Ok(())
}

/// Bytes of the layers' records (the model's weights; pooling and activations have none).
fn stored_bytes(layers: &[CompressibleLayer]) -> usize {
    layers.iter().map(|l| l.size.stored_bytes).sum()
}
