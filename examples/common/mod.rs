//! What the post-training compression experiments (E2 on MNIST, E3/E4 on CIFAR-10) share:
//! measured points per method, their Markdown tables and their plot.

use mcnn::plot::{LinePlot, Series};
use mcnn::sampled_linear::LayerReport;
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
    /// Bits per stored weight value (the most over the layers).
    pub bits: u32,
    pub ternary_layers: usize,
    pub accuracies: Vec<f64>,
}

impl Point {
    /// A point of `method` from the reports of the layers it compressed, without accuracies.
    pub fn new(reports: &[LayerReport], method: &str, parameter: String) -> Self {
        let weights: usize = reports.iter().map(LayerReport::weights).sum();
        let nonzero: usize = reports.iter().map(|r| r.nonzero).sum();
        Self {
            method: method.split(", K =").next().unwrap_or(method).to_string(),
            parameter,
            nonzero: nonzero as f64 / weights as f64,
            bits: reports.iter().map(|r| r.bits).max().unwrap_or(0),
            ternary_layers: reports.iter().filter(|r| r.is_ternary()).count(),
            accuracies: Vec::new(),
        }
    }

    pub fn mean(&self) -> f64 {
        mean_sd(&self.accuracies).0
    }

    pub fn sd(&self) -> f64 {
        mean_sd(&self.accuracies).1
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
        "| method | parameter | non-zero weights | bits (max over layers) | ternary layers | accuracy (mean ± sd over runs) | retained |"
    );
    println!("|---|---|---|---|---|---|---|");
    for p in points {
        println!(
            "| {} | {} | {:.2}% | {} | {} | {:.4} ± {:.4} ({} run{}) | {:.1}% |",
            p.method,
            p.parameter,
            100.0 * p.nonzero,
            p.bits,
            p.ternary_layers,
            p.mean(),
            p.sd(),
            p.accuracies.len(),
            if p.accuracies.len() == 1 { "" } else { "s" },
            100.0 * p.mean() / dense
        );
    }
    println!(
        "\nSmallest fraction of non-zero weights keeping ≥ {:.0}% of the dense accuracy ({:.4}):\n",
        100.0 * threshold,
        threshold * dense
    );
    println!("| method | non-zero weights | accuracy | retained |\n|---|---|---|---|");
    for method in methods(points) {
        let best = points
            .iter()
            .filter(|p| p.method == method && p.mean() >= threshold * dense)
            .min_by(|a, b| a.nonzero.total_cmp(&b.nonzero));
        match best {
            Some(p) => println!(
                "| {method} | {:.2}% | {:.4} | {:.1}% |",
                100.0 * p.nonzero,
                p.mean(),
                100.0 * p.mean() / dense
            ),
            None => println!("| {method} | none of those measured | | |"),
        }
    }
}

/// Accuracy retained against the fraction of non-zero weights, one line per method (bit
/// widths and single settings as points), with `threshold` as the reference line.
pub fn plot(title: String, dense: f64, points: &[Point], threshold: f64) -> LinePlot {
    let series = methods(points)
        .into_iter()
        .map(|method| {
            let mut pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.method == method && p.nonzero > 0.0)
                .map(|p| (p.nonzero, p.mean() / dense))
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
        x_label: "fraction of non-zero weights".into(),
        y_label: "test accuracy / dense accuracy".into(),
        log_x: true,
        y_reference: Some((threshold, format!("{:.0}%", 100.0 * threshold))),
        series,
    }
}
