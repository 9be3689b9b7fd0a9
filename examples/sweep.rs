//! GPU-vs-CPU accuracy sweeps: one grid (experiment × values × seeds × backends), every
//! (value, seed) started from identical initial weights on every backend, results appended
//! as each run finishes, resumable and shardable, reported with the backends' difference.
//!
//! ```text
//! cargo run --release --example sweep --features wgpu -- --experiment paths \
//!     --values 4096,16384 --backends flex,wgpu --seeds 3 --out sweep.jsonl --plot sweep.svg
//! # on machine i of n:   ... --shard i/n --out part-i.jsonl
//! # as array task i of a Slurm job array or a Kubernetes Indexed Job (tools/cluster/):
//! #                      ... --shard auto --out part-{shard}.jsonl
//! # then, anywhere:      ... --merge part-1.jsonl,part-2.jsonl --out all.jsonl --plot all.svg
//! ```
//!
//! Experiments ([`mcnn::sweep::Experiment`]): `paths` (MNIST, a `PathNet` 784/300/300/10 of
//! `value` Sobol' paths; `random/4096`, `owen/4096` and `importance/4096` draw them otherwise,
//! `dense` is the dense MLP of the same widths), `partitions` (MNIST, LeNet-5 with partition dropout of `value`
//! partitions after both hidden layers), `sampled` (MNIST, the MLP 784-300-10 trained, then
//! its `Linear` layers sampled at amount K = `value`) and `sampled-conv` (CIFAR-10, LeNet-5
//! trained, then its convolution filters and `Linear` neurons sampled at K). Sampling is
//! jittered per neuron or filter, its seed the run's seed. The sampling experiments take a
//! layer selection: `sampled/hidden` keeps the MLP's output layer dense (the slides'
//! protocol), `sampled-conv/inner` LeNet's first convolution and last `Linear`; without one
//! every layer is sampled. A rerun with the same `--out` skips the runs already in it.
//!
//! `--shard auto` reads the shard from the scheduler ([`mcnn::sweep::Shard::from_env`]):
//! Slurm's `SLURM_ARRAY_TASK_ID` (task `SLURM_ARRAY_TASK_MIN` is shard 1, the count from
//! `SLURM_ARRAY_TASK_MAX` or `SLURM_ARRAY_TASK_COUNT`), or a Kubernetes Indexed Job's
//! `JOB_COMPLETION_INDEX` with the count from `--shard-count` or `MCNN_SHARD_COUNT`. `{shard}`
//! in `--out` becomes the shard's index, so each array task writes, and a requeued one
//! resumes, its own part.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mcnn::backends::{BackendError, BackendKind};
use mcnn::cli::exit_code;
use mcnn::datasets::data_dir;
use mcnn::plot::{LinePlot, Series};
use mcnn::sweep::{
    Cell, Experiment, Grid, PathSource, ResultsFile, RunKey, RunRow, Runner, SettingValue, Shard,
    ShardSpec, cells,
};
use mcnn::training::{Trainer, TrainingConfig, TrainingData};

#[derive(Parser, Debug)]
#[command(about = "Accuracy sweeps across backends: resumable, shardable, with a report")]
struct Args {
    /// `paths`, `partitions`, `sampled` or `sampled-conv`; the last two optionally with a layer
    /// selection: `sampled/hidden`, `sampled-conv/inner` (all, hidden, inner, conv, linear).
    #[arg(long, required_unless_present_any = ["report", "merge"])]
    experiment: Option<Experiment>,
    /// The swept values: numbers of paths (`4096`, `random/4096`, … or `dense`) or of
    /// partitions, or sampling amounts K.
    #[arg(long, value_delimiter = ',')]
    values: Vec<String>,
    /// Backends, each compiled in (`flex`, `ndarray`, `wgpu`).
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    backends: Vec<BackendKind>,
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
    /// The results file (JSON lines), appended as runs finish; a rerun resumes from it. With
    /// `--shard`, `{shard}` in it is replaced by the shard's index: each shard's own part.
    #[arg(long)]
    out: PathBuf,
    /// `i/n`: run only every n-th run of the grid, starting with the i-th (in the sampling
    /// experiments every n-th (seed, backend) with all its values: one training each).
    /// `auto`: i and n from a Slurm job array (`SLURM_ARRAY_TASK_ID`, `_MIN`, `_MAX` or
    /// `_COUNT`) or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, n from `--shard-count`
    /// or `MCNN_SHARD_COUNT`).
    #[arg(long)]
    shard: Option<ShardSpec>,
    /// The number of shards, for `--shard auto` where the scheduler does not say it (a
    /// Kubernetes Indexed Job's completions); checked against what it does say.
    #[arg(long, requires = "shard")]
    shard_count: Option<usize>,
    /// Train nothing: report the runs in `--out`.
    #[arg(long, conflicts_with_all = ["experiment", "values", "shard", "merge"])]
    report: bool,
    /// Train nothing: append the runs of these results files (the parts of a sharded sweep)
    /// that `--out` lacks, then report.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["experiment", "values", "shard"])]
    merge: Vec<PathBuf>,
    /// SVG: accuracy vs value, one line per backend.
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    let shard = match args.shard {
        Some(spec) => Some(
            spec.resolve(|name| std::env::var(name).ok(), args.shard_count)
                .map_err(|e| format!("--shard: {e}"))?,
        ),
        None => None,
    };
    // Each shard's own part where `--out` names it by `{shard}`.
    let out = match shard {
        Some(shard) => shard.part_path(&args.out),
        None if args.out.to_string_lossy().contains(Shard::PLACEHOLDER) => {
            return Err(format!(
                "--out {}: {} is replaced by a shard's index, and there is no --shard",
                args.out.display(),
                Shard::PLACEHOLDER
            ));
        }
        None => args.out.clone(),
    };
    if !args.merge.is_empty() {
        let mut results = ResultsFile::open(&out).map_err(|e| e.to_string())?;
        for part in &args.merge {
            let rows = ResultsFile::read(part).map_err(|e| e.to_string())?;
            let added = results.merge(&rows).map_err(|e| e.to_string())?;
            eprintln!(
                "merged {}: {added} of its {} runs added to {}",
                part.display(),
                rows.len(),
                out.display()
            );
        }
        return report(results.rows(), &out, args);
    }
    if args.report {
        let rows = ResultsFile::read(&out).map_err(|e| e.to_string())?;
        return report(&rows, &out, args);
    }
    let experiment = args.experiment.expect("clap requires it");
    // Its canonical name (`sampled/all` is `sampled`): what the results file records.
    let name = &experiment.name();
    // The settings parsed (and checked) once, before anything runs.
    let grid = Grid::new(experiment, &args.values, args.seeds, args.backends.clone())
        .map_err(|e| format!("--values: {e}"))?;
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    for kind in &args.backends {
        if !kind.is_compiled() {
            return Err(BackendError::NotCompiled(*kind).to_string());
        }
    }
    let shard = shard.unwrap_or(Shard::ALL);
    let config = TrainingConfig::new()
        .with_epochs(args.epochs)
        .with_recorded_steps(args.recorded_steps);
    config.check()?;
    // The data before the results file: a bad --train-limit or missing data leaves no file.
    let data = TrainingData::load(
        experiment.source(),
        &data_dir(args.data_dir.clone()),
        args.train_limit,
    )?;
    let mut results = ResultsFile::open(&out).map_err(|e| e.to_string())?;
    results
        .check_experiment(experiment)
        .map_err(|e| e.to_string())?;
    let mine = grid.shard(shard, experiment.trains_once_per_seed_and_backend());
    let todo: Vec<&RunKey> = mine.iter().filter(|k| !results.is_done(k)).collect();
    eprintln!(
        "sweep {name}: {} runs in the grid, {} in shard {}/{}, {} already in {}, {} to do",
        grid.runs().len(),
        mine.len(),
        shard.index,
        shard.count,
        mine.len() - todo.len(),
        out.display(),
        todo.len()
    );

    let bars = MultiProgress::new();
    let grid_bar = bars.add(ProgressBar::new(todo.len() as u64));
    grid_bar.set_style(
        ProgressStyle::with_template(
            "sweep [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let mut runner = Runner::new(
        experiment,
        Trainer {
            bars: Some(bars.clone()),
            ..data.trainer(config)
        },
    );
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
        let run = format!(
            "{} = {}, seed {}, on {}",
            key.experiment, key.setting, key.seed, key.backend
        );
        // A line per run as well as the bar: logs of non-interactive runs show progress too.
        bars.suspend(|| {
            eprintln!(
                "[run {}/{}, {elapsed:.0} s, ETA {eta}] {run}",
                done + 1,
                todo.len()
            )
        });
        grid_bar.set_message(run);
        let reused = if runner.has_trained(key) {
            " (trained earlier)"
        } else {
            ""
        };
        let row = runner.run(key).map_err(|e| e.to_string())?;
        let trained = row
            .trained_accuracy
            .map_or(String::new(), |a| format!(" (trained {a:.4})"));
        bars.suspend(|| {
            eprintln!(
                "  accuracy {:.4}{trained}, {:.2} s/epoch{reused}",
                row.accuracy, row.seconds_per_epoch
            )
        });
        results.append(row).map_err(|e| e.to_string())?;
        grid_bar.inc(1);
    }
    grid_bar.finish_and_clear();
    report(results.rows(), &out, args)
}

/// The report of `rows` (the runs in `out`), and the plot.
fn report(rows: &[RunRow], out: &std::path::Path, args: &Args) -> Result<(), String> {
    if rows.is_empty() {
        return Err(format!("{}: no finished runs to report", out.display()));
    }
    print!("{}", mcnn::sweep::report(rows));
    let cells = cells(rows);
    if let Some(path) = &args.plot {
        // One line per backend and path source; the paths experiment's dense baseline is the
        // reference line (the first backend's), not a point at x = 0.
        let line = |c: &Cell| match c.setting.value() {
            SettingValue::Paths { source, .. } if source != PathSource::Sobol => {
                format!("{}, {source}", c.backend)
            }
            _ => c.backend.to_string(),
        };
        let points: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.setting.value() != SettingValue::DenseBaseline)
            .collect();
        let mut names: Vec<String> = Vec::new();
        for c in &points {
            if !names.contains(&line(c)) {
                names.push(line(c));
            }
        }
        let series = names
            .iter()
            .map(|name| {
                let mine: Vec<&&Cell> = points.iter().filter(|c| line(c) == *name).collect();
                Series {
                    name: name.clone(),
                    points: mine
                        .iter()
                        .map(|c| (c.setting.value().as_f64(), c.accuracy.0))
                        .collect(),
                    markers_only: false,
                    y_errors: mine.iter().map(|c| c.accuracy.1).collect(),
                }
            })
            .collect();
        let dense = cells
            .iter()
            .find(|c| c.setting.value() == SettingValue::DenseBaseline)
            .map(|c| {
                (
                    c.accuracy.0,
                    format!("dense {:.4} ({})", c.accuracy.0, c.backend),
                )
            });
        LinePlot {
            title: format!(
                "Sweep {}: test accuracy per backend (mean ± sd over seeds)",
                rows[0].key.experiment
            ),
            x_label: rows[0].key.experiment.value_label().into(),
            y_label: "test accuracy".into(),
            log_x: true,
            y_reference: dense,
            series,
        }
        .write(path)?;
    }
    Ok(())
}
