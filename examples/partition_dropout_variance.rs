//! Experiment E1: the spread of LeNet-5's test accuracy on MNIST with partition dropout
//! (P = 2..9) against Bernoulli dropout driven by the same LFSR (t = 1/2..1/9), over many
//! seeds at the same training budget.
//!
//! ```text
//! cargo run --release --example partition_dropout_variance -- --seeds 10 --train-images 3200 \
//!     --plot docs/figures/e1_short.svg
//! ```
//!
//! Dropout sits after both hidden fully connected layers. Every run gets its own seed for the
//! weights, the data order and the dropout masks; run `s` of every setting uses the same
//! seed (`--fixed-init`: the same weights and data order for all, only the dropout seed
//! varies). The two dropout layers of run `s` draw from seeds `s` and `s + 2^32`: with one
//! seed, partition dropout would drop neuron `i` of both layers at the same steps (its
//! assignments do not depend on the layer), a correlation Bernoulli dropout's masks do not
//! have. `--shared-layer-seed` restores that (E1 was first measured so). Prints a Markdown
//! table (mean ± standard deviation per setting and averaged over the range) and, last, one
//! JSON line with every accuracy.

mod machine;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::data::dataset::Dataset as _;
use clap::Parser;
use machine::Machine;
use mcnn::backends::{host_device, materialize};
use mcnn::cli::exit_code;
use mcnn::datasets::Source;
use mcnn::models::{FeatureDropout, LeNet5Config, LeNet5Dropout};
use mcnn::partition_dropout::{BernoulliDropoutConfig, PartitionDropoutConfig};
use mcnn::sweep::mean_sd;
use mcnn::training::{TrainingConfig, TrainingData, evaluate};

#[derive(Parser, Debug)]
#[command(about = "Partition dropout vs Bernoulli dropout: accuracy spread over seeds (E1)")]
struct Args {
    /// Runs per setting.
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// Training images per run (the budget), taken from the start of the training set.
    #[arg(long, default_value_t = 3200)]
    train_images: usize,
    /// Passes over those images.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's learning rate, constant.
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    #[command(flatten)]
    machine: Machine,
    /// Which t = 1/n and P = n to run (comma-separated, each 2..=9); all by default.
    #[arg(long, value_delimiter = ',', default_values_t = 2..=9)]
    values: Vec<usize>,
    /// Start every run from the same weights and data order (seed 0): runs then differ only
    /// in their dropout seed, so the spread is dropout's own.
    #[arg(long)]
    fixed_init: bool,
    /// Where to write the SVG strip plot of the accuracies.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also measure each run's accuracy on its training images (the slides plot training
    /// accuracy beside this table).
    #[arg(long)]
    train_accuracy: bool,
    /// Give both dropout layers the run's seed, as E1 was measured before 2026-12-04: partition
    /// dropout then drops neuron `i` of both layers at the same steps. By default the second
    /// layer draws from the seed plus 2^32.
    #[arg(long)]
    shared_layer_seed: bool,
}

/// The dropout seed of `layer` (0 or 1) in the run of seed `seed`.
fn layer_seed(seed: u64, layer: u64, shared: bool) -> u64 {
    match shared {
        true => seed,
        false => seed.wrapping_add(layer << 32),
    }
}

/// One setting: a dropout kind and its parameter.
#[derive(Clone, Copy)]
enum Setting {
    Bernoulli(usize),
    Partition(usize),
}

impl Setting {
    fn label(self) -> String {
        match self {
            Setting::Bernoulli(n) => format!("Bernoulli t=1/{n}"),
            Setting::Partition(p) => format!("partitions P={p}"),
        }
    }
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    if args.seeds < 2 {
        return Err(format!(
            "--seeds must be at least 2 for a standard deviation, got {}",
            args.seeds
        ));
    }
    if args.train_images == 0 {
        return Err("--train-images must be at least 1".into());
    }
    let kind = args.machine.backend;
    let data = TrainingData::load(
        Source::Mnist,
        &args.machine.data_dir(),
        Some(args.train_images),
    )?;
    if let Some(bad) = args.values.iter().find(|n| !(2..=9).contains(*n)) {
        return Err(format!("--values must lie in 2..=9, got {bad}"));
    }
    let settings: Vec<Setting> = (args.values.iter().copied().map(Setting::Bernoulli))
        .chain(args.values.iter().copied().map(Setting::Partition))
        .collect();
    eprintln!(
        "E1 on {kind}: {} settings × {} seeds, {} training images × {} epoch(s), {} test \
         images{}{}",
        settings.len(),
        args.seeds,
        data.train_set.len(),
        args.epochs,
        data.test_set.len(),
        if args.fixed_init {
            ", same weights and data order for every run"
        } else {
            ""
        },
        if args.shared_layer_seed {
            ", one dropout seed for both layers"
        } else {
            ""
        }
    );

    let device = kind.device();
    let mut results = Vec::new();
    let mut train_results = Vec::new();
    for &setting in &settings {
        let mut accuracies = Vec::new();
        let mut train_accuracies = Vec::new();
        for seed in 1..=args.seeds {
            // `seed` drives the dropout masks; `init_seed` the weights and the data order.
            let init_seed = if args.fixed_init { 0 } else { seed };
            let config = TrainingConfig::new()
                .with_epochs(args.epochs)
                .with_batch_size(args.batch_size)
                .with_learning_rate(args.learning_rate)
                .with_cosine_decay(false)
                .with_seed(init_seed)
                .with_progress(false);
            config.check()?;
            let train = args.train_accuracy;
            let seed_of = |layer| layer_seed(seed, layer, args.shared_layer_seed);
            let (accuracy, train_accuracy) = match setting {
                Setting::Bernoulli(n) => {
                    let dropout = |layer| {
                        BernoulliDropoutConfig::new(1.0 / n as f64)
                            .with_seed(seed_of(layer))
                            .init()
                    };
                    run_one(dropout, init_seed, &data, &config, &device, train)
                }
                Setting::Partition(p) => {
                    let dropout = |layer| {
                        PartitionDropoutConfig::new(p)
                            .with_seed(seed_of(layer))
                            .init()
                    };
                    run_one(dropout, init_seed, &data, &config, &device, train)
                }
            };
            accuracies.push(accuracy);
            train_accuracies.extend(train_accuracy);
        }
        let (mean, sd) = mean_sd(&accuracies);
        eprintln!("{:<18} {mean:.4} ± {sd:.4}", setting.label());
        results.push((setting, accuracies));
        train_results.push((setting, train_accuracies));
    }

    print_table(&results);
    println!("\nTest accuracy:");
    print_analysis(&results);
    if args.train_accuracy {
        println!("\nAccuracy on the training images, the same runs:\n");
        print_table(&train_results);
        print_analysis(&train_results);
    }
    if let Some(path) = &args.plot {
        write_plot(path, &results, args)?;
        eprintln!("wrote {}", path.display());
    }
    let json: Vec<_> = results
        .iter()
        .zip(&train_results)
        .map(|((s, acc), (_, train))| {
            serde_json::json!({"setting": s.label(), "accuracies": acc, "train_accuracies": train})
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "experiment": "E1", "backend": kind.name(), "seeds": args.seeds,
            "train_images": data.train_set.len(), "epochs": args.epochs, "batch_size": args.batch_size,
            "learning_rate": args.learning_rate, "fixed_init": args.fixed_init,
            "shared_layer_seed": args.shared_layer_seed, "results": json,
        })
    );
    Ok(())
}

/// Trains one LeNet-5, its weights drawn from `init_seed`, with `dropout(0)` and `dropout(1)`
/// after its two hidden layers; returns the test accuracy and, if `train`, the accuracy on the
/// training images.
fn run_one<Dr: FeatureDropout>(
    dropout: impl Fn(u64) -> Dr,
    init_seed: u64,
    data: &TrainingData,
    config: &TrainingConfig,
    device: &burn::tensor::Device,
    train: bool,
) -> (f64, Option<f64>) {
    // Weights drawn on the host: every backend and every setting start from the same model.
    let host = host_device();
    host.seed(init_seed);
    let lenet = materialize(LeNet5Config::new().init(&host));
    let model = LeNet5Dropout {
        lenet,
        after_fc1: dropout(0),
        after_fc2: dropout(1),
    };
    let (model, reports) = data.trainer(config.clone()).fit(model, device, |_| {});
    let test = reports.last().expect("at least one epoch").test_accuracy;
    let on_training = train.then(|| {
        let batch = config.eval_batch_size;
        evaluate(&model, &data.train_set, &data.batcher, batch, device)
    });
    (test, on_training)
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26 for erf, error
/// below 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Pearson's correlation of two equally long samples.
fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let (mx, sx) = mean_sd(x);
    let (my, sy) = mean_sd(y);
    let n = x.len() as f64;
    let cov = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / (n - 1.0);
    cov / (sx * sy)
}

/// The spread statistics both ways (the mean over the settings of the per-setting standard
/// deviation over seeds, and the standard deviation over the settings of the per-setting mean),
/// then the paired comparison of the variances: for every n, Bernoulli t = 1/n and partitions
/// P = n share their seeds (initial weights, data order), so their runs are paired, and the
/// Pitman–Morgan test (equal variances of paired samples iff `corr(X + Y, X − Y) = 0`) applies;
/// its Fisher z, summed over the n (Stouffer), gives one p-value, and the power to detect a
/// 15% difference in standard deviation at the observed pairing correlation.
fn print_analysis(results: &[(Setting, Vec<f64>)]) {
    let method = |bernoulli: bool| -> Vec<(usize, &Vec<f64>)> {
        results
            .iter()
            .filter_map(|(s, acc)| match (s, bernoulli) {
                (Setting::Bernoulli(n), true) | (Setting::Partition(n), false) => Some((*n, acc)),
                _ => None,
            })
            .collect()
    };
    let (bernoulli, partitions) = (method(true), method(false));
    println!("\n| statistic | Bernoulli | partitions | ratio |\n|---|---|---|---|");
    for (label, stat) in [
        (
            "mean over settings of the sd over seeds",
            (|runs: &[(usize, &Vec<f64>)]| {
                runs.iter().map(|(_, a)| mean_sd(a).1).sum::<f64>() / runs.len() as f64
            }) as fn(&[(usize, &Vec<f64>)]) -> f64,
        ),
        ("sd over settings of the mean over seeds", |runs| {
            let means: Vec<f64> = runs.iter().map(|(_, a)| mean_sd(a).0).collect();
            if means.len() < 2 {
                0.0
            } else {
                mean_sd(&means).1
            }
        }),
        ("mean accuracy", |runs| {
            runs.iter().map(|(_, a)| mean_sd(a).0).sum::<f64>() / runs.len() as f64
        }),
    ] {
        let (b, p) = (stat(&bernoulli), stat(&partitions));
        println!("| {label} | {b:.4} | {p:.4} | {:.3} |", p / b);
    }
    let pairs: Vec<(usize, &Vec<f64>, &Vec<f64>)> = bernoulli
        .iter()
        .filter_map(|(n, b)| {
            partitions
                .iter()
                .find(|(m, _)| m == n)
                .map(|(_, p)| (*n, *b, *p))
        })
        .filter(|(_, b, p)| b.len() == p.len() && b.len() > 3)
        .collect();
    if pairs.is_empty() {
        return;
    }
    println!(
        "\n| n | sd Bernoulli | sd partitions | pairing correlation | Pitman–Morgan r | z |\n|---|---|---|---|---|---|"
    );
    let (mut z_sum, mut rho_sum) = (0.0, 0.0);
    for (n, b, p) in &pairs {
        let sum: Vec<f64> = b.iter().zip(p.iter()).map(|(x, y)| x + y).collect();
        let difference: Vec<f64> = b.iter().zip(p.iter()).map(|(x, y)| x - y).collect();
        let r = correlation(&sum, &difference);
        let rho = correlation(b, p);
        let z = r.atanh() * (b.len() as f64 - 3.0).sqrt();
        z_sum += z;
        rho_sum += rho;
        println!(
            "| {n} | {:.4} | {:.4} | {rho:.3} | {r:+.3} | {z:+.2} |",
            mean_sd(b).1,
            mean_sd(p).1
        );
    }
    let k = pairs.len() as f64;
    let z = z_sum / k.sqrt();
    let p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    // Power against σ_B / σ_P = 1.15 (either way) at the mean pairing correlation.
    let (rho, runs) = (rho_sum / k, pairs[0].1.len() as f64);
    let (sb, sp) = (1.15f64, 1.0f64);
    let r_true = (sb * sb - sp * sp)
        / ((sb * sb + sp * sp).powi(2) - 4.0 * rho * rho * sb * sb * sp * sp).sqrt();
    let shift = r_true.atanh() * (runs - 3.0).sqrt() * k.sqrt();
    let power = normal_cdf(shift - 1.96) + normal_cdf(-shift - 1.96);
    println!(
        "\nPooled over {} pairs of settings ({} seeds each): z = {z:+.2} (positive: Bernoulli \
         spreads more), two-sided p = {p_value:.3}; power to detect a 15% difference in standard \
         deviation at α = 0.05: {:.0}%.",
        pairs.len(),
        runs,
        100.0 * power
    );
}

fn print_table(results: &[(Setting, Vec<f64>)]) {
    println!("| setting | mean accuracy | standard deviation | min | max |");
    println!("|---|---|---|---|---|");
    for (setting, acc) in results {
        let (mean, sd) = mean_sd(acc);
        let min = acc.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = acc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "| {} | {mean:.4} | {sd:.4} | {min:.4} | {max:.4} |",
            setting.label()
        );
    }
    for (name, bernoulli) in [("Bernoulli", true), ("partitions", false)] {
        let chosen: Vec<_> = results
            .iter()
            .filter(|(s, _)| matches!(s, Setting::Bernoulli(_)) == bernoulli)
            .collect();
        let values: Vec<String> = chosen
            .iter()
            .map(|(s, _)| match s {
                Setting::Bernoulli(n) | Setting::Partition(n) => n.to_string(),
            })
            .collect();
        let name = format!("{name}, averaged over n = {}", values.join(", "));
        let stats: Vec<(f64, f64)> = chosen.iter().map(|(_, acc)| mean_sd(acc)).collect();
        let n = stats.len() as f64;
        let mean = stats.iter().map(|s| s.0).sum::<f64>() / n;
        let sd = stats.iter().map(|s| s.1).sum::<f64>() / n;
        println!("| **{name}, averaged** | **{mean:.4}** | **{sd:.4}** | | |");
    }
}

/// A strip plot: one column per setting, one dot per run, a bar at the mean.
fn write_plot(path: &PathBuf, results: &[(Setting, Vec<f64>)], args: &Args) -> Result<(), String> {
    let all: Vec<f64> = results
        .iter()
        .flat_map(|(_, a)| a.iter().cloned())
        .collect();
    let lo = all.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = (lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9));
    let (w, h, left, top, bottom) = (960.0, 420.0, 70.0, 40.0, 110.0);
    let col = (w - left - 20.0) / results.len() as f64;
    let y = |v: f64| top + (h - top - bottom) * (hi - v) / (hi - lo);
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n\
         <rect width='100%' height='100%' fill='white'/>\n\
         <text x='{left}' y='22' font-size='14'>LeNet-5 on MNIST, test accuracy over {} seeds ({} training images × {} epoch(s){})</text>\n",
        args.seeds,
        args.train_images,
        args.epochs,
        match (args.fixed_init, args.shared_layer_seed) {
            (false, false) => "",
            (true, false) => ", same initial weights",
            (false, true) => ", one dropout seed for both layers",
            (true, true) => ", same initial weights, one dropout seed for both layers",
        }
    );
    for i in 0..=4 {
        let v = lo + (hi - lo) * i as f64 / 4.0;
        svg += &format!(
            "<line x1='{left}' x2='{}' y1='{y:.1}' y2='{y:.1}' stroke='#ddd'/><text x='{}' y='{:.1}' text-anchor='end'>{v:.3}</text>\n",
            w - 20.0,
            left - 6.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for (i, (setting, acc)) in results.iter().enumerate() {
        let cx = left + col * (i as f64 + 0.5);
        let color = if matches!(setting, Setting::Bernoulli(_)) {
            "#d95f02"
        } else {
            "#1b9e77"
        };
        for (k, &a) in acc.iter().enumerate() {
            let jitter = (k as f64 / acc.len() as f64 - 0.5) * col * 0.5;
            svg += &format!(
                "<circle cx='{:.1}' cy='{:.1}' r='3' fill='{color}' fill-opacity='0.7'/>\n",
                cx + jitter,
                y(a)
            );
        }
        let (mean, _) = mean_sd(acc);
        svg += &format!(
            "<line x1='{:.1}' x2='{:.1}' y1='{m:.1}' y2='{m:.1}' stroke='black' stroke-width='2'/>\n",
            cx - col * 0.35,
            cx + col * 0.35,
            m = y(mean)
        );
        svg += &format!(
            "<text transform='translate({cx:.1},{:.1}) rotate(-50)' text-anchor='end'>{}</text>\n",
            h - bottom + 14.0,
            setting.label()
        );
    }
    svg += "</svg>\n";
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, svg).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
