//! GPU-vs-CPU accuracy sweeps: one grid (experiment × values × seeds × backends), every
//! (value, seed) started from identical initial weights on every backend, results appended
//! as each run finishes, resumable and shardable, reported with the backends' difference.
//!
//! ```text
//! cargo run --release --example sweep --features wgpu -- --experiment paths \
//!     --values 4096,16384 --backends flex,wgpu --seeds 3 --out sweep.jsonl --plot sweep.svg
//! # on machine i of n:   ... --shard i/n --out part-i.jsonl
//! # then, anywhere:      ... --merge part-1.jsonl,part-2.jsonl --out all.jsonl --plot all.svg
//! ```
//!
//! Experiments ([`mcnn::sweep::Experiment`]): `paths` (MNIST, a `PathNet` 784/300/300/10 of
//! `value` Sobol' paths), `partitions` (MNIST, LeNet-5 with partition dropout of `value`
//! partitions after both hidden layers), `sampled` (MNIST, the MLP 784-300-10 trained, then
//! its `Linear` layers sampled at amount K = `value`) and `sampled-conv` (CIFAR-10, LeNet-5
//! trained, then its convolution filters and `Linear` neurons sampled at K). Sampling is
//! jittered per neuron or filter, its seed the run's seed. The sampling experiments take a
//! layer selection: `sampled/hidden` keeps the MLP's output layer dense (the slides'
//! protocol), `sampled-conv/inner` LeNet's first convolution and last `Linear`; without one
//! every layer is sampled. A rerun with the same `--out` skips the runs already in it.

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
    Difference, Experiment, Grid, ResultsFile, RunKey, RunRow, Runner, Shard, cells,
};
use mcnn::training::{Trainer, TrainingConfig, TrainingData};

#[derive(Parser, Debug)]
#[command(about = "Accuracy sweeps across backends: resumable, shardable, with a report")]
struct Args {
    /// `paths`, `partitions`, `sampled` or `sampled-conv`; the last two optionally with a layer
    /// selection: `sampled/hidden`, `sampled-conv/inner` (all, hidden, inner, conv, linear).
    #[arg(long, required_unless_present_any = ["report", "merge"])]
    experiment: Option<Experiment>,
    /// The swept values: numbers of paths or of partitions, or sampling amounts K.
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
    /// The results file (JSON lines), appended as runs finish; a rerun resumes from it.
    #[arg(long)]
    out: PathBuf,
    /// `i/n`: run only every n-th run of the grid, starting with the i-th (in the sampling
    /// experiments every n-th (seed, backend) with all its values: one training each).
    #[arg(long)]
    shard: Option<Shard>,
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
    if !args.merge.is_empty() {
        let mut results = ResultsFile::open(&args.out).map_err(|e| e.to_string())?;
        for part in &args.merge {
            let rows = ResultsFile::read(part).map_err(|e| e.to_string())?;
            let added = results.merge(&rows).map_err(|e| e.to_string())?;
            eprintln!(
                "merged {}: {added} of its {} runs added to {}",
                part.display(),
                rows.len(),
                args.out.display()
            );
        }
        return report(results.rows(), args);
    }
    if args.report {
        let rows = ResultsFile::read(&args.out).map_err(|e| e.to_string())?;
        return report(&rows, args);
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
    let shard = args.shard.unwrap_or(Shard::ALL);
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
    let mut results = ResultsFile::open(&args.out).map_err(|e| e.to_string())?;
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
        args.out.display(),
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
    report(results.rows(), args)
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
    // The sampling experiments also show the trained networks' accuracy before sampling.
    let trained = cells.iter().any(|c| c.trained_accuracy.is_some());
    let (head, rule) = if trained {
        ("| before sampling ", "|---")
    } else {
        ("", "")
    };
    println!("| value | backend | runs | accuracy (mean ± sd) {head}| s/epoch |");
    println!("|---|---|---|---{rule}|---|");
    for c in &cells {
        let before = match (trained, c.trained_accuracy) {
            (false, _) => String::new(),
            (true, Some((mean, sd))) => format!("| {mean:.4} ± {sd:.4} "),
            (true, None) => "| – ".into(),
        };
        println!(
            "| {} | {} | {} | {:.4} ± {:.4} {before}| {:.2} |",
            c.setting, c.backend, c.runs, c.accuracy.0, c.accuracy.1, c.seconds_per_epoch
        );
    }
    let backends: Vec<BackendKind> = {
        let mut kinds: Vec<BackendKind> = Vec::new();
        cells.iter().for_each(|c| {
            if !kinds.contains(&c.backend) {
                kinds.push(c.backend);
            }
        });
        kinds
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
                    .map(|c| (c.setting.value().as_f64(), c.accuracy.0))
                    .collect(),
                markers_only: false,
                y_errors: cells
                    .iter()
                    .filter(|c| c.backend == *backend)
                    .map(|c| c.accuracy.1)
                    .collect(),
            })
            .collect();
        LinePlot {
            title: format!(
                "Sweep {}: test accuracy per backend (mean ± sd over seeds)",
                rows[0].key.experiment
            ),
            x_label: rows[0].key.experiment.value_label().into(),
            y_label: "test accuracy".into(),
            log_x: true,
            y_reference: None,
            series,
        }
        .write(path)?;
    }
    Ok(())
}
