//! GPU-vs-CPU accuracy sweeps: one grid (experiment × values × seeds × backends), every
//! (value, seed) started from identical initial weights on every backend, results appended
//! as each run finishes, resumable and shardable, reported with the backends' difference.
//!
//! ```text
//! cargo run --release --example sweep --features wgpu -- --experiment paths \
//!     --values 4096,16384 --backends flex,wgpu --seeds 3 --out sweep.jsonl --plot sweep.svg
//! # on machine i of n:   ... --shard i/n --out part-i.jsonl
//! # then, anywhere:      cat part-*.jsonl > all.jsonl && ... --report --out all.jsonl
//! ```
//!
//! Experiments (all on MNIST): `paths` (a `PathNet` 784/300/300/10 of `value` Sobol' paths),
//! `partitions` (LeNet-5 with partition dropout of `value` partitions after both hidden
//! layers) and `sampled` (the MLP 784-300-10 trained, then its `Linear` layers sampled at
//! amount K = `value`, jittered per neuron, sampling seed = the run's seed). A rerun with the
//! same `--out` skips the runs already in it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mcnn::backends::{BackendKind, fork_identical, host_device, materialize};
use mcnn::datasets::{ImageBatcher, ImageDataset, Source, Split, data_dir};
use mcnn::models::{ImageClassifier, LeNet5Config, LeNet5Dropout, MlpConfig};
use mcnn::partition_dropout::PartitionDropoutConfig;
use mcnn::path_net::PathNetConfig;
use mcnn::plot::{LinePlot, Series};
use mcnn::sampled_linear::{Budget, SamplingConfig, sample_linears};
use mcnn::sweep::{Difference, Grid, ResultsFile, RunKey, RunRow, Shard, cells};
use mcnn::training::{TrainingConfig, evaluate, train};

#[derive(Parser, Debug)]
#[command(about = "Accuracy sweeps across backends: resumable, shardable, with a report")]
struct Args {
    /// `paths`, `partitions` or `sampled`.
    #[arg(long)]
    experiment: String,
    /// The swept values: numbers of paths or of partitions, or sampling amounts K.
    #[arg(long, value_delimiter = ',')]
    values: Vec<String>,
    /// Backends, each compiled in (`flex`, `ndarray`, `wgpu`).
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    backends: Vec<String>,
    /// Seeds 1..=N per value.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Training passes.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Train on the first N images only.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Step losses kept per run (the first steps of the first epoch).
    #[arg(long, default_value_t = 5)]
    recorded_steps: usize,
    /// The results file (JSON lines), appended as runs finish; a rerun resumes from it.
    #[arg(long)]
    out: PathBuf,
    /// `i/n`: run only every n-th run of the grid, starting with the i-th.
    #[arg(long)]
    shard: Option<String>,
    /// Train nothing: report the runs in `--out`.
    #[arg(long)]
    report: bool,
    /// SVG: accuracy vs value, one line per backend.
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.report {
        let results = ResultsFile::open(&args.out).map_err(|e| e.to_string())?;
        return report(results.rows(), args);
    }
    let valid = |value: &String| match args.experiment.as_str() {
        "sampled" => value.parse::<f64>().is_ok_and(|k| k.is_finite() && k > 0.0),
        _ => value.parse::<usize>().is_ok_and(|n| n >= 1),
    };
    let allowed = match args.experiment.as_str() {
        "paths" | "partitions" => "whole numbers ≥ 1",
        "sampled" => "finite positive sampling amounts K",
        other => {
            return Err(format!(
                "--experiment: unknown {other:?} (paths, partitions, sampled)"
            ));
        }
    };
    if args.values.is_empty() || !args.values.iter().all(valid) {
        return Err(format!("--values must be {allowed}, got {:?}", args.values));
    }
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    let kinds = args
        .backends
        .iter()
        .map(|name| BackendKind::from_flag(Some(name)).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(|e| e.to_string())?,
        None => Shard::ALL,
    };
    let mut results = ResultsFile::open(&args.out).map_err(|e| e.to_string())?;
    let grid = Grid::new(
        &args.experiment,
        args.values.clone(),
        args.seeds,
        kinds.iter().map(BackendKind::to_string).collect(),
    );
    let mine: Vec<RunKey> = grid
        .runs()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shard.contains(*i))
        .map(|(_, key)| key)
        .collect();
    let todo: Vec<&RunKey> = mine.iter().filter(|k| !results.is_done(k)).collect();
    eprintln!(
        "sweep {}: {} runs in the grid, {} in shard {}/{}, {} already in {}, {} to do",
        args.experiment,
        grid.runs().len(),
        mine.len(),
        shard.index,
        shard.count,
        mine.len() - todo.len(),
        args.out.display(),
        todo.len()
    );

    let dir = data_dir(args.data_dir.clone());
    let mut train_set =
        ImageDataset::load(Source::Mnist, Split::Train, &dir).map_err(|e| e.to_string())?;
    if let Some(limit) = args.train_limit {
        train_set = train_set.truncated(limit);
    }
    let test_set =
        ImageDataset::load(Source::Mnist, Split::Test, &dir).map_err(|e| e.to_string())?;
    let batcher = ImageBatcher::for_source(Source::Mnist);
    let started = Instant::now();
    for (done, key) in todo.iter().enumerate() {
        let elapsed = started.elapsed().as_secs_f64();
        let eta = if done == 0 {
            "–".to_string()
        } else {
            format!(
                "{:.0} s",
                elapsed / done as f64 * (todo.len() - done) as f64
            )
        };
        eprintln!(
            "[run {}/{}, {elapsed:.0} s, ETA {eta}] {} = {}, seed {}, on {}",
            done + 1,
            todo.len(),
            key.experiment,
            key.setting,
            key.seed,
            key.backend
        );
        let kind = BackendKind::from_flag(Some(&key.backend)).map_err(|e| e.to_string())?;
        let config = TrainingConfig::new()
            .with_epochs(args.epochs)
            .with_seed(key.seed)
            .with_recorded_steps(args.recorded_steps);
        config.check()?;
        let trainer = Trainer {
            train_set: &train_set,
            test_set: &test_set,
            batcher: &batcher,
            config: &config,
            kind,
        };
        // Weights drawn on the host from the run's seed, then copied to the backend: every
        // backend of a (value, seed) starts from the same network.
        let host = host_device();
        host.seed(key.seed);
        let count = || key.setting.parse::<usize>().expect("checked above");
        let (accuracy, seconds, losses) = match key.experiment.as_str() {
            "paths" => trainer.accuracy_after_training(materialize(
                PathNetConfig::new(vec![784, 300, 300, 10], count()).init(&host),
            )),
            "partitions" => trainer.accuracy_after_training(LeNet5Dropout {
                lenet: materialize(LeNet5Config::new().init(&host)),
                after_fc1: PartitionDropoutConfig::new(count()).init(),
                after_fc2: PartitionDropoutConfig::new(count()).init(),
            }),
            _ => {
                // Train the dense MLP on the backend, then sample its Linear layers at K.
                let k: f64 = key.setting.parse().expect("checked above");
                let mlp = materialize(MlpConfig::new(vec![784, 300, 10]).init(&host));
                let (trained, _, seconds, losses) = trainer.fit(mlp);
                let sampling = SamplingConfig::new(Budget::Amount(k)).with_seed(key.seed);
                let (sampled, _) =
                    sample_linears(trained, &sampling, |_| true).map_err(|e| e.to_string())?;
                let accuracy = evaluate(&sampled, &test_set, &batcher, 1000, &kind.device());
                (accuracy, seconds, losses)
            }
        };
        eprintln!("  accuracy {accuracy:.4}, {seconds:.2} s/epoch");
        results
            .append(RunRow {
                key: (*key).clone(),
                accuracy,
                seconds_per_epoch: seconds,
                first_losses: losses,
            })
            .map_err(|e| e.to_string())?;
    }
    report(results.rows(), args)
}

struct Trainer<'a> {
    train_set: &'a ImageDataset,
    test_set: &'a ImageDataset,
    batcher: &'a ImageBatcher,
    config: &'a TrainingConfig,
    kind: BackendKind,
}

impl Trainer<'_> {
    /// [`fit`](Self::fit) without the model.
    fn accuracy_after_training<M: ImageClassifier>(&self, model: M) -> (f64, f64, Vec<f64>) {
        let (_, accuracy, seconds, losses) = self.fit(model);
        (accuracy, seconds, losses)
    }

    /// Trains a copy of `model` on the trainer's backend: the trained model, its final
    /// accuracy, mean seconds per epoch, and the first epoch's first step losses.
    fn fit<M: ImageClassifier>(&self, model: M) -> (M, f64, f64, Vec<f64>) {
        let device = self.kind.device();
        let model = fork_identical(&model, &device);
        let (model, reports) = train(
            model,
            self.train_set,
            self.test_set,
            self.batcher,
            self.config,
            &device,
            |_| {},
        );
        let seconds = reports.iter().map(|r| r.train_seconds).sum::<f64>() / reports.len() as f64;
        let last = reports.last().expect("at least one epoch");
        let losses = reports[0].step_losses.clone();
        (model, last.test_accuracy, seconds, losses)
    }
}

/// Per value and backend the mean ± sd accuracy and time, the difference of every backend
/// from the first with Welch's t, the largest step-loss difference, and the plot.
fn report(rows: &[RunRow], args: &Args) -> Result<(), String> {
    if rows.is_empty() {
        return Err(format!(
            "{}: no finished runs to report",
            args.out.display()
        ));
    }
    let cells = cells(rows);
    println!("| value | backend | runs | accuracy (mean ± sd) | s/epoch |");
    println!("|---|---|---|---|---|");
    for c in &cells {
        println!(
            "| {} | {} | {} | {:.4} ± {:.4} | {:.2} |",
            c.setting, c.backend, c.runs, c.accuracy.0, c.accuracy.1, c.seconds_per_epoch
        );
    }
    let backends: Vec<&str> = {
        let mut names: Vec<&str> = Vec::new();
        cells.iter().for_each(|c| {
            if !names.contains(&c.backend.as_str()) {
                names.push(&c.backend);
            }
        });
        names
    };
    if backends.len() > 1 {
        println!(
            "\n| value | backends | accuracy difference | Welch t | within seed noise (|t| < 2) | largest step-loss difference |"
        );
        println!("|---|---|---|---|---|---|");
        for a in cells.iter().filter(|c| c.backend == backends[0]) {
            for b in cells
                .iter()
                .filter(|c| c.setting == a.setting && c.backend != a.backend)
            {
                let d = Difference::between(a, b);
                let loss_gap = rows
                    .iter()
                    .filter(|r| r.key.setting == a.setting && r.key.backend == a.backend)
                    .filter_map(|ra| {
                        let rb = rows.iter().find(|r| {
                            r.key.setting == b.setting
                                && r.key.backend == b.backend
                                && r.key.seed == ra.key.seed
                        })?;
                        ra.first_losses
                            .iter()
                            .zip(&rb.first_losses)
                            .map(|(x, y)| (x - y).abs())
                            .reduce(f64::max)
                    })
                    .reduce(f64::max);
                println!(
                    "| {} | {} − {} | {:+.4} | {} | {} | {} |",
                    a.setting,
                    b.backend,
                    a.backend,
                    d.difference,
                    d.t.map_or("–".into(), |t| format!("{t:+.2}")),
                    d.within_noise()
                        .map_or("–", |w| if w { "yes" } else { "no" }),
                    loss_gap.map_or("–".into(), |g| format!("{g:.1e}"))
                );
            }
        }
    }
    if let Some(path) = &args.plot {
        let series = backends
            .iter()
            .map(|backend| Series {
                name: backend.to_string(),
                points: cells
                    .iter()
                    .filter(|c| c.backend == *backend)
                    .filter_map(|c| Some((c.setting.parse::<f64>().ok()?, c.accuracy.0)))
                    .collect(),
                markers_only: false,
            })
            .collect();
        LinePlot {
            title: format!(
                "Sweep {}: test accuracy per backend (mean over seeds)",
                rows[0].key.experiment
            ),
            x_label: "value".into(),
            y_label: "test accuracy".into(),
            log_x: true,
            y_reference: None,
            series,
        }
        .write(path)?;
    }
    Ok(())
}
