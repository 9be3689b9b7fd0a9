//! What the post-training compression experiments (E2 on MNIST, E3/E4 on CIFAR-10) share:
//! measured points per method, their Markdown tables and their plot.

pub mod study;

use mcnn::plot::{LinePlot, Series};
use mcnn::sampled_linear::{CompressibleLayer, LayerReport};
use mcnn::sweep::mean_sd;

/// Checks the sweep's command-line values: at least one seed, finite positive amounts.
pub fn check_sweep(seeds: u64, amounts: &[f64]) -> Result<(), String> {
    if seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    match amounts.iter().find(|k| !(k.is_finite() && **k > 0.0)) {
        Some(k) => Err(format!("--amounts must be finite and positive, got {k}")),
        None => Ok(()),
    }
}

/// One measured point of one method.
pub struct Point {
    pub method: String,
    pub parameter: String,
    /// Fraction of the compressed layers' weights that are not zero.
    pub nonzero: f64,
    /// Fraction of all the model's (compressible layers') weights that are not zero.
    pub nonzero_all: f64,
    /// Bits per stored weight value (the most over the layers).
    pub bits: u32,
    pub ternary_layers: usize,
    /// Bytes of the model's compressible layers stored so (`study::model_bytes`).
    pub bytes: f64,
    /// Test accuracy of every run.
    pub accuracies: Vec<f64>,
    /// The dense accuracy of each run's trained model.
    pub dense: Vec<f64>,
}

impl Point {
    /// A point of `method` from the reports of the layers it compressed (of the model's
    /// `layers`), without accuracies.
    pub fn new(
        reports: &[LayerReport],
        layers: &[CompressibleLayer],
        method: String,
        parameter: String,
        bytes: f64,
    ) -> Self {
        let weights: usize = reports.iter().map(LayerReport::weights).sum();
        let nonzero: usize = reports.iter().map(|r| r.nonzero).sum();
        let all: usize = layers.iter().map(|l| l.weights).sum();
        Self {
            method,
            parameter,
            nonzero: nonzero as f64 / weights as f64,
            nonzero_all: (nonzero + all - weights) as f64 / all.max(1) as f64,
            bits: reports.iter().map(|r| r.bits).max().unwrap_or(0),
            ternary_layers: reports.iter().filter(|r| r.is_ternary()).count(),
            bytes,
            accuracies: Vec::new(),
            dense: Vec::new(),
        }
    }

    /// Records a run's accuracy and its trained model's dense accuracy.
    pub fn push(&mut self, accuracy: f64, dense: f64) {
        self.accuracies.push(accuracy);
        self.dense.push(dense);
    }

    pub fn mean(&self) -> f64 {
        mean_sd(&self.accuracies).0
    }

    pub fn sd(&self) -> f64 {
        mean_sd(&self.accuracies).1
    }

    /// The share of the dense accuracy kept, each run against its own trained model.
    pub fn retained(&self) -> f64 {
        let ratios: Vec<f64> = self
            .accuracies
            .iter()
            .zip(&self.dense)
            .map(|(a, d)| a / d)
            .collect();
        mean_sd(&ratios).0
    }

    /// The progress line of a finished point, on stderr.
    pub fn log(&self) {
        eprintln!(
            "{:<40} non-zero {:>6.2}%  accuracy {:.4} ± {:.4}",
            self.parameter.clone() + " " + &self.method,
            100.0 * self.nonzero,
            self.mean(),
            self.sd()
        );
    }
}

/// The methods of `points`, in order of first appearance.
pub fn methods(points: &[Point]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in points {
        if !names.contains(&p.method) {
            names.push(p.method.clone());
        }
    }
    names
}

/// Every point as a table row, then the smallest fraction of non-zero weights at which each
/// method keeps `threshold` of the dense accuracy. `title` names model, data and backend.
pub fn print_tables(title: &str, dense: f64, points: &[Point], threshold: f64) {
    println!("## {title}: dense test accuracy {dense:.4}\n");
    println!(
        "| method | parameter | non-zero (compressed layers) | non-zero (all weights) | model bytes | bits (max over layers) | ternary layers | accuracy (mean ± sd over runs) | retained |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in points {
        println!(
            "| {} | {} | {:.2}% | {:.2}% | {:.0} | {} | {} | {:.4} ± {:.4} ({} run{}) | {:.1}% |",
            p.method,
            p.parameter,
            100.0 * p.nonzero,
            100.0 * p.nonzero_all,
            p.bytes,
            p.bits,
            p.ternary_layers,
            p.mean(),
            p.sd(),
            p.accuracies.len(),
            if p.accuracies.len() == 1 { "" } else { "s" },
            100.0 * p.retained()
        );
    }
    for (measure, label) in [
        (
            Measure::Nonzero,
            "fraction of non-zero weights (compressed layers)",
        ),
        (Measure::Bytes, "model bytes"),
    ] {
        println!(
            "\nSmallest {label} keeping ≥ {:.0}% of the dense accuracy:\n",
            100.0 * threshold,
        );
        println!("| method | {label} | accuracy | retained |\n|---|---|---|---|");
        for method in methods(points) {
            let best = points
                .iter()
                .filter(|p| p.method == method && p.retained() >= threshold)
                .min_by(|a, b| measure.of(a).total_cmp(&measure.of(b)));
            match best {
                Some(p) => println!(
                    "| {method} | {} | {:.4} | {:.1}% |",
                    measure.show(p),
                    p.mean(),
                    100.0 * p.retained()
                ),
                None => println!("| {method} | none of those measured | | |"),
            }
        }
    }
}

/// What a point is placed by: its non-zero fraction or its bytes.
#[derive(Clone, Copy)]
pub enum Measure {
    Nonzero,
    Bytes,
}

impl Measure {
    fn of(self, p: &Point) -> f64 {
        match self {
            Self::Nonzero => p.nonzero,
            Self::Bytes => p.bytes,
        }
    }

    fn show(self, p: &Point) -> String {
        match self {
            Self::Nonzero => format!("{:.2}%", 100.0 * p.nonzero),
            Self::Bytes => format!("{:.0}", p.bytes),
        }
    }
}

/// Accuracy retained against the fraction of non-zero weights (or the model's bytes), one
/// line per method (bit widths and single settings as points), with `threshold` as the
/// reference line.
pub fn plot(title: String, points: &[Point], threshold: f64, measure: Measure) -> LinePlot {
    let series = methods(points)
        .into_iter()
        .map(|method| {
            let mut pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.method == method && measure.of(p) > 0.0)
                .map(|p| (measure.of(p), p.retained()))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Bit widths are separate points, not a curve through the sparsity axis.
            let markers_only = ["TWN", "uniform", "Burn"]
                .iter()
                .any(|m| method.starts_with(m));
            Series {
                name: method,
                points: pts,
                markers_only,
                y_errors: Vec::new(),
            }
        })
        .collect();
    LinePlot {
        title,
        x_label: match measure {
            Measure::Nonzero => "fraction of non-zero weights (compressed layers)".into(),
            Measure::Bytes => "bytes of the model's weights and biases".into(),
        },
        y_label: "test accuracy / dense accuracy".into(),
        log_x: true,
        y_reference: Some((threshold, format!("{:.0}%", 100.0 * threshold))),
        series,
    }
}
