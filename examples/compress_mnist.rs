//! A trained network compressed into compact Monte Carlo sampled layers that a user keeps:
//! saved, reloaded in a fresh process from the model's constructor, the layout and the record
//! alone, and measured against the dense model (bytes on disk, accuracy, forward time).
//!
//! ```text
//! cargo run --release --example compress_mnist -- --model mlp --amount 1 --out /tmp/mlp
//! cargo run --release --example compress_mnist -- --model mlp --layers hidden --amount 0.12 --out /tmp/mlp
//! cargo run --release --example compress_mnist -- --model lenet --layers inner --amount 0.5 --out /tmp/lenet --compare
//! ```
//!
//! Trains the model on MNIST (or loads `OUT/dense.bpk` from an earlier run), samples the
//! layers `--layers` selects at amount `--amount` (jittered per neuron or filter), saves
//! `OUT/compact.bpk` and `OUT/layout.json`, then runs itself again (`--reload`) to rebuild the
//! model from its constructor, the layout and the record, and checks that it gives the same
//! accuracy and bit-identical outputs. Forward times are the median of repeated forwards of
//! the same batch on the same backend in the same run. `--compare` adds Burn's own Q8S / Q4S
//! weight quantization and magnitude pruning at the sampled layers' non-zeros (stored as CSR
//! with `f32` values and 16-bit columns, bytes computed). The last line printed is one JSON
//! object with every number.

mod machine;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::{ParamGroup, Quantizer};
use burn::tensor::quantization::{Calibration, QuantScheme, QuantValue};
use burn::tensor::{Device, Tensor};
use clap::{Parser, ValueEnum};
use machine::Machine;
use mcnn::backends::{fork_identical, host_device, host_values, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::Source;
use mcnn::models::{ImageClassifier, LeNet5Config, MlpConfig};
use mcnn::sampled_linear::{
    Baseline, Budget, CompactLayout, CompressionPlan, Granularity, Kernel, LayerKind, LayerReport,
    LayerSelection, SamplingConfig, apply_baseline, compress, compressible_layers,
};
use mcnn::training::{TrainingConfig, TrainingData, evaluate};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModelKind {
    /// The MLP 784-300-10.
    Mlp,
    /// LeNet-5 (its convolutions and linear layers).
    Lenet,
}

#[derive(Parser, Debug)]
#[command(about = "Compress a trained network into compact sampled layers, save, reload, measure")]
struct Args {
    #[arg(long, value_enum, default_value = "mlp")]
    model: ModelKind,
    /// Sampling amount K: N = ⌈K · inputs⌉ samples per neuron or filter.
    #[arg(long, default_value_t = 1.0)]
    amount: f64,
    /// Which layers: all, hidden (all but the last), inner (all but the first and the last),
    /// conv, linear.
    #[arg(long, default_value = "all")]
    layers: LayerSelection,
    /// Where the dense and compact models are saved.
    #[arg(long)]
    out: PathBuf,
    /// Train again even if `OUT/dense.bpk` exists.
    #[arg(long)]
    retrain: bool,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of the training and of the sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Train on the first images only.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Images per timed forward.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Timed forwards per model (the median is reported).
    #[arg(long, default_value_t = 30)]
    repeats: usize,
    /// Also measure Burn's Q8S / Q4S and magnitude pruning.
    #[arg(long)]
    compare: bool,
    /// The sampled layers' forward kernel: auto (by density and size), sparse, dense.
    #[arg(long, value_parser = mcnn::cli::kernel, default_value = "auto")]
    kernel: Kernel,
    #[command(flatten)]
    machine: Machine,
    /// Internal: rebuild the compact model saved in OUT and report on it (what the first run
    /// runs in a child process).
    #[arg(long, hide = true)]
    reload: bool,
}

/// Test images whose outputs the reloaded model must reproduce bit for bit.
const PROBE: usize = 256;

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    if !(args.amount.is_finite() && args.amount > 0.0) {
        return Err(format!(
            "--amount must be finite and positive, got {}",
            args.amount
        ));
    }
    if args.batch == 0 || args.repeats == 0 {
        return Err("--batch and --repeats must be at least 1".into());
    }
    match args.model {
        ModelKind::Mlp => with_model(args, |device| {
            MlpConfig::new(vec![784, 300, 10]).init(device)
        }),
        ModelKind::Lenet => with_model(args, |device| LeNet5Config::new().init(device)),
    }
}

fn with_model<M: ImageClassifier>(args: &Args, build: impl Fn(&Device) -> M) -> Result<(), String> {
    let kind = args.machine.backend;
    let device = kind.device();
    let dir = &args.out;
    let data = TrainingData::load(Source::Mnist, &args.machine.data_dir(), args.train_limit)?;
    let probe = images(&data, PROBE, &device);
    if args.reload {
        return reload(args, build, &data, &device, probe);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
    let dense_path = dir.join("dense.bpk");
    let dense = if dense_path.exists() && !args.retrain {
        eprintln!("loading the trained model from {}", dense_path.display());
        build(&device)
            .try_load_file(&dense_path)
            .map_err(|e| format!("{}: {e} (run with --retrain)", dense_path.display()))?
    } else {
        let config = TrainingConfig::new()
            .with_epochs(args.epochs)
            .with_seed(args.seed);
        config.check()?;
        let host = host_device();
        host.seed(args.seed);
        let initial = fork_identical(&materialize(build(&host)), &device);
        let (model, _) = data.trainer(config).fit(initial, &device, |_| {});
        model
            .valid()
            .save_file(&dense_path)
            .map_err(|e| e.to_string())?;
        model.valid()
    };
    let dense_accuracy = accuracy(&dense, &data, &device);

    let sampling = SamplingConfig::new(Budget::Amount(args.amount)).with_seed(args.seed);
    let plan = CompressionPlan::new(sampling).with_layers(args.layers);
    let (compact, reports) = compress(dense.clone(), &plan).map_err(|e| e.to_string())?;
    if reports.is_empty() {
        return Err(format!(
            "--layers {} selects no layer of the {:?}",
            args.layers, args.model
        ));
    }
    // The kernel is configuration: set in the layout, it reaches every sampled layer.
    let mut layout = CompactLayout::of(&compact);
    for entry in &mut layout.layers {
        entry.config["kernel"] = serde_json::to_value(args.kernel).expect("serializes");
    }
    let compact = layout
        .apply(build(&device))?
        .load_record(compact.into_record());
    let compact_path = dir.join("compact.bpk");
    compact
        .clone()
        .save_file(&compact_path)
        .map_err(|e| e.to_string())?;
    layout.save(dir.join("layout.json"))?;
    let compact_accuracy = accuracy(&compact, &data, &device);
    write_outputs(
        &dir.join("probe_outputs.bin"),
        compact.forward(probe.clone()),
    )?;

    eprintln!("reloading {} in a new process", compact_path.display());
    let child = reload_in_child(args)?;

    let weights: usize = compressible_layers(&dense).iter().map(|l| l.weights).sum();
    let sampled_weights: usize = reports.iter().map(LayerReport::weights).sum();
    let nonzero: usize = reports.iter().map(|r| r.nonzero).sum();
    let stored_bits: u64 = reports.iter().filter_map(|r| r.stored_bits).sum();
    let batch = images(&data, args.batch, &device);
    let dense_ms = forward_ms(&dense, &batch, args.repeats, &device);
    let compact_ms = forward_ms(&compact, &batch, args.repeats, &device);
    let (dense_bytes, compact_bytes) = (file_bytes(&dense_path)?, file_bytes(&compact_path)?);

    println!(
        "{} on MNIST, {kind}, K = {}, layers {}:\n",
        model_name(args),
        args.amount,
        args.layers
    );
    println!("{}", LayerReport::markdown(&reports));
    println!(
        "| model | bytes on disk | test accuracy | forward ms (batch {}) |\n|---|---|---|---|",
        args.batch
    );
    println!("| dense f32 | {dense_bytes} | {dense_accuracy:.4} | {dense_ms:.3} |");
    println!(
        "| Monte Carlo compact | {compact_bytes} ({:.1}%) | {compact_accuracy:.4} ({:.1}% retained) | {compact_ms:.3} ({:.2}×) |",
        100.0 * compact_bytes as f64 / dense_bytes as f64,
        100.0 * compact_accuracy / dense_accuracy,
        compact_ms / dense_ms
    );
    println!(
        "| reloaded in a new process | {compact_bytes} | {:.4} | outputs identical: {} |",
        child.accuracy, child.identical
    );
    let comparison = if args.compare {
        compare(&dense, &reports, &data, &batch, args, &device, dir)?
    } else {
        Vec::new()
    };
    let json = serde_json::json!({
        "experiment": "compress", "model": model_name(args), "backend": kind.to_string(),
        "amount": args.amount, "layers": args.layers.name(), "seed": args.seed,
        "kernel": format!("{:?}", args.kernel).to_lowercase(),
        "dense_bytes": dense_bytes, "compact_bytes": compact_bytes,
        "dense_accuracy": dense_accuracy, "compact_accuracy": compact_accuracy,
        "reloaded_accuracy": child.accuracy, "reloaded_identical": child.identical,
        "nonzero_fraction": (nonzero + weights - sampled_weights) as f64 / weights as f64,
        "nonzero_fraction_sampled": nonzero as f64 / sampled_weights as f64,
        "bits_per_nonzero": stored_bits as f64 / nonzero.max(1) as f64,
        "dense_forward_ms": dense_ms, "compact_forward_ms": compact_ms, "batch": args.batch,
        "methods": comparison,
    });
    println!("{json}");
    Ok(())
}

/// What the child process found.
struct Reloaded {
    accuracy: f64,
    identical: bool,
}

/// Runs this program again with `--reload` on the same directory and reads its JSON line.
fn reload_in_child(args: &Args) -> Result<Reloaded, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.args(["--reload", "--out"]).arg(&args.out).args([
        "--model",
        model_name(args),
        "--backend",
        args.machine.backend.name(),
    ]);
    if let Some(dir) = &args.machine.data_dir {
        command.arg("--data-dir").arg(dir);
    }
    let output = command
        .output()
        .map_err(|e| format!("reloading in a child process: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the reloading process failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("the reloading process said {line:?}: {e}"))?;
    Ok(Reloaded {
        accuracy: v["reloaded_accuracy"]
            .as_f64()
            .ok_or("no reloaded_accuracy")?,
        identical: v["identical_outputs"]
            .as_bool()
            .ok_or("no identical_outputs")?,
    })
}

/// The child's side: the model from its constructor, the layout and the record alone.
fn reload<M: ImageClassifier>(
    args: &Args,
    build: impl Fn(&Device) -> M,
    data: &TrainingData,
    device: &Device,
    probe: Tensor<4>,
) -> Result<(), String> {
    let dir = &args.out;
    let layout = CompactLayout::load(dir.join("layout.json"))?;
    let model = layout
        .apply(build(device))?
        .try_load_file(dir.join("compact.bpk"))
        .map_err(|e| format!("{}: {e}", dir.join("compact.bpk").display()))?;
    let outputs = host_values(model.forward(probe));
    let expected = read_outputs(&dir.join("probe_outputs.bin"))?;
    let identical = outputs.len() == expected.len()
        && outputs
            .iter()
            .zip(&expected)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    let json = serde_json::json!({
        "reloaded_accuracy": accuracy(&model, data, device), "identical_outputs": identical,
    });
    println!("{json}");
    Ok(())
}

/// Burn's own weight quantization and magnitude pruning at the sampled layers' non-zeros.
fn compare<M: ImageClassifier>(
    dense: &M,
    reports: &[LayerReport],
    data: &TrainingData,
    batch: &Tensor<4>,
    args: &Args,
    device: &Device,
    dir: &Path,
) -> Result<Vec<serde_json::Value>, String> {
    let mut rows = Vec::new();
    let paths: Vec<String> = reports
        .iter()
        .map(|r| format!("{}.weight", r.layer))
        .collect();
    for (value, name) in [(QuantValue::Q8S, "Burn Q8S"), (QuantValue::Q4S, "Burn Q4S")] {
        let scheme = QuantScheme::default().with_value(value);
        let quantized = dense.clone().quantize_weights_group(
            &mut Quantizer::new(Calibration::MinMax, scheme),
            ParamGroup::from_paths(paths.clone()),
        );
        let path = dir.join(format!("{}.bpk", name.replace(' ', "_")));
        let measured = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            quantized
                .clone()
                .save_file(&path)
                .map_err(|e| e.to_string())?;
            let bytes = file_bytes(&path)?;
            let acc = accuracy(&quantized, data, device);
            Ok::<_, String>((
                bytes,
                acc,
                forward_ms(&quantized, batch, args.repeats, device),
            ))
        }));
        match measured {
            Ok(Ok((bytes, acc, ms))) => {
                println!(
                    "| {name} (sampled layers' weights, per tensor) | {bytes} | {acc:.4} | {ms:.3} |"
                );
                rows.push(serde_json::json!({"method": name, "bytes": bytes, "accuracy": acc, "forward_ms": ms}));
            }
            _ => println!("| {name} | – | not supported on this backend | – |"),
        }
    }
    // Magnitude pruning of every sampled layer to its non-zeros, as CSR: f32 values, 16-bit
    // columns (every layer here has at most 65 536 inputs), a 32-bit offset per row.
    let mut pruned = dense.clone();
    let mut csr_bits = 0u64;
    for report in reports {
        let keep = report.nonzero_fraction();
        let baseline = Baseline::Magnitude {
            keep,
            granularity: Granularity::PerNeuron,
        };
        let layer = report.layer.clone();
        (pruned, _) = apply_baseline(pruned, &LayerKind::ALL, baseline, |path| path == layer)
            .map_err(|e| e.to_string())?;
        csr_bits += report.nonzero as u64 * (32 + 16) + (report.d_output as u64 + 1) * 32;
    }
    let other_bits: u64 = reports.iter().map(|r| 32 * r.weights() as u64).sum();
    let dense_bytes = file_bytes(&dir.join("dense.bpk"))? as u64;
    let bytes = dense_bytes - other_bits / 8 + csr_bits / 8;
    let acc = accuracy(&pruned, data, device);
    println!(
        "| magnitude-pruned to the same non-zeros, CSR f32 (bytes computed) | {bytes} | {acc:.4} | – |"
    );
    rows.push(serde_json::json!({"method": "magnitude CSR f32", "bytes": bytes, "accuracy": acc}));
    Ok(rows)
}

fn model_name(args: &Args) -> &'static str {
    match args.model {
        ModelKind::Mlp => "mlp",
        ModelKind::Lenet => "lenet",
    }
}

fn accuracy<M: ImageClassifier>(model: &M, data: &TrainingData, device: &Device) -> f64 {
    evaluate(model, &data.test_set, &data.batcher, 1000, device)
}

/// The first `count` test images as a batch on `device`.
fn images(data: &TrainingData, count: usize, device: &Device) -> Tensor<4> {
    let test = &data.test_set;
    let items: Vec<_> = (0..count.min(test.len()))
        .filter_map(|i| test.get(i).ok())
        .collect();
    data.batcher.batch(items, device).images
}

/// The median time of `repeats` forwards of `batch` (after three to warm up), synchronised.
fn forward_ms<M: ImageClassifier>(
    model: &M,
    batch: &Tensor<4>,
    repeats: usize,
    device: &Device,
) -> f64 {
    let model = model.valid().fork(device);
    let mut times: Vec<f64> = (0..repeats + 3)
        .map(|_| {
            let start = Instant::now();
            let y = model.forward(batch.clone());
            device.sync().expect("sync");
            drop(y);
            start.elapsed().as_secs_f64() * 1e3
        })
        .skip(3)
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn file_bytes(path: &Path) -> Result<usize, String> {
    std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn write_outputs(path: &Path, outputs: Tensor<2>) -> Result<(), String> {
    let bytes: Vec<u8> = host_values(outputs)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_outputs(path: &Path) -> Result<Vec<f32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
