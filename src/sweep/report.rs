//! A sweep's report: its summary as Markdown tables.

use std::fmt::Write;

use mcnn_backends::BackendKind;

use super::{Difference, RunRow, cells};

/// The report of `rows` as Markdown: per value and backend the runs, the mean ± sd accuracy
/// (and before sampling, in the sampling experiments) and seconds per epoch; then, with more
/// than one backend, every backend's difference from the first with Welch's t and the largest
/// difference of the first steps' losses. The order of the cells is [`cells`]': the merged
/// parts of a sharded sweep report as the unsharded sweep does. Empty without rows.
pub fn report(rows: &[RunRow]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let cells = cells(rows);
    // The sampling experiments also show the trained networks' accuracy before sampling.
    let trained = cells.iter().any(|c| c.trained_accuracy.is_some());
    let (head, rule) = if trained {
        ("| before sampling ", "|---")
    } else {
        ("", "")
    };
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "| value | backend | runs | accuracy (mean ± sd) {head}| s/epoch |"
    );
    let _ = writeln!(out, "|---|---|---|---{rule}|---|");
    for c in &cells {
        let before = match (trained, c.trained_accuracy) {
            (false, _) => String::new(),
            (true, Some((mean, sd))) => format!("| {mean:.4} ± {sd:.4} "),
            (true, None) => "| – ".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.4} ± {:.4} {before}| {:.2} |",
            c.setting, c.backend, c.runs, c.accuracy.0, c.accuracy.1, c.seconds_per_epoch
        );
    }
    let mut backends: Vec<BackendKind> = Vec::new();
    for c in &cells {
        if !backends.contains(&c.backend) {
            backends.push(c.backend);
        }
    }
    if backends.len() > 1 {
        let _ = writeln!(
            out,
            "\n| value | backends | accuracy difference | Welch t | within seed noise (|t| < 2) \
             | largest step-loss difference |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
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
                let _ = writeln!(
                    out,
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
    out
}
