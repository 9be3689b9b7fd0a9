//! The plain alternatives a user would otherwise reach for, without retraining: magnitude
//! pruning, random pruning, ternary thresholding (TWN) and symmetric uniform rounding.
//! All work on output-major rows (`[d_output, d_input]`) and return dense rows, so they
//! plug into [`map_weights`](crate::map_weights) like sampling does.

use burn::module::Module;
use mcnn_fan_in::random_indices;

use crate::baseline::Baseline;
use crate::config::Granularity;
use crate::error::{SampledLinearError, check_finite};
use crate::mapper::{LayerKind, map_weights};
use crate::method::Method;
use crate::packed::{SparseRows, layout};
use crate::report::{LayerReport, WeightStats};

impl Baseline {
    /// Applies the baseline to output-major `rows` (`[d_output, d_input]`); `layer` names the
    /// layer in errors and in the report.
    ///
    /// # Errors
    /// A bad parameter ([`Baseline::check`]) or a NaN or infinite weight.
    pub fn apply(
        &self,
        rows: &[f32],
        d_output: usize,
        d_input: usize,
        layer: &str,
    ) -> Result<(Vec<f32>, LayerReport), SampledLinearError> {
        assert!(
            d_output > 0 && d_input > 0 && rows.len() == d_output * d_input,
            "Baseline::apply: {} weights for d_output = {d_output}, d_input = {d_input}",
            rows.len()
        );
        self.check()?;
        check_finite(rows, d_input, layer)?;
        let mut out = rows.to_vec();
        let mut report = LayerReport {
            layer: layer.to_string(),
            method: Method::Baseline(*self),
            d_input,
            d_output,
            samples_per_group: None,
            nonzero: 0,
            max_abs_q: None,
            bits: 32,
            scales: None,
            stored_bits: None,
            stats: None,
        };
        match *self {
            Self::Magnitude { keep, granularity } => match granularity {
                Granularity::PerNeuron => {
                    for row in out.chunks_mut(d_input) {
                        keep_largest(row, kept(keep, d_input));
                    }
                }
                Granularity::PerLayer => keep_largest(&mut out, kept(keep, rows.len())),
            },
            Self::Random { keep, seed } => {
                let k = kept(keep, d_input);
                let chosen = random_indices(d_output, k, d_input, seed);
                out.fill(0.0);
                for (o, picks) in chosen.chunks(k).enumerate() {
                    for &j in picks {
                        let at = o * d_input + j as usize;
                        out[at] = rows[at];
                    }
                }
            }
            Self::Ternary => {
                let mean_abs = mean(rows.iter().map(|w| w.abs()));
                let delta = 0.7 * mean_abs;
                let alpha = mean(rows.iter().map(|w| w.abs()).filter(|&a| a > delta));
                for w in &mut out {
                    *w = if w.abs() > delta {
                        alpha.copysign(*w)
                    } else {
                        0.0
                    };
                }
                report.max_abs_q = Some(u32::from(alpha > 0.0));
                report.bits = 2;
                report.scales = Some((alpha, alpha));
                report.stored_bits = Some(integer_bits(&out, alpha, d_input));
            }
            Self::PruneQuantize { keep, bits } => {
                Self::prune_quantize(&mut out, rows, (keep, bits), d_input, &mut report)
            }
            Self::Uniform { bits } => {
                let levels = ((1u32 << (bits - 1)) - 1) as f32;
                let max_abs = rows.iter().fold(0.0f32, |m, w| m.max(w.abs()));
                let scale = max_abs / levels;
                let mut max_q = 0u32;
                if scale > 0.0 {
                    for w in &mut out {
                        let q = (*w / scale).round();
                        max_q = max_q.max(q.abs() as u32);
                        *w = scale * q;
                    }
                }
                report.max_abs_q = Some(max_q);
                report.bits = bits;
                report.scales = Some((scale, scale));
                report.stored_bits = Some(integer_bits(&out, scale, d_input));
            }
        }
        report.nonzero = out.iter().filter(|&&w| w != 0.0).count();
        Ok((out, report))
    }

    /// [`PruneQuantize`](Self::PruneQuantize) of `out` (a copy of the rows) in place; fills
    /// the report's integer fields.
    fn prune_quantize(
        out: &mut [f32],
        rows: &[f32],
        (keep, bits): (f64, u32),
        d_input: usize,
        report: &mut LayerReport,
    ) {
        let levels = ((1u32 << (bits - 1)) - 1) as f32;
        let mut q = vec![0i32; out.len()];
        let mut scales = Vec::with_capacity(report.d_output);
        for (row, q_row) in out.chunks_mut(d_input).zip(q.chunks_mut(d_input)) {
            keep_largest(row, kept(keep, d_input));
            let scale = row.iter().fold(0.0f32, |m, w| m.max(w.abs())) / levels;
            if scale > 0.0 {
                for (w, q) in row.iter_mut().zip(q_row.iter_mut()) {
                    *q = (*w / scale).round() as i32;
                    *w = scale * *q as f32;
                }
            }
            scales.push(scale);
        }
        let max_abs_q = q.iter().map(|q| q.unsigned_abs()).max().unwrap_or(0);
        let sparse = SparseRows::from_dense(&q, report.d_output, d_input);
        report.max_abs_q = Some(max_abs_q);
        report.bits = LayerReport::signed_bits(max_abs_q);
        report.scales = Some(scales.iter().fold((f32::INFINITY, 0.0f32), |(lo, hi), &s| {
            (lo.min(s), hi.max(s))
        }));
        report.stored_bits = Some(layout(&sparse, d_input).bits);
        report.stats = Some(WeightStats::of(rows, d_input, None, out));
    }
}

/// Applies `baseline` to every layer of the given `kinds` in `model` that `filter` accepts
/// (see [`map_weights`]): a `Linear` neuron by neuron, a `Conv2d` filter by filter.
///
/// # Errors
/// As [`Baseline::apply`], naming the layer by its path.
pub fn apply_baseline<M: Module>(
    model: M,
    kinds: &[LayerKind],
    baseline: Baseline,
    filter: impl Fn(&str) -> bool,
) -> Result<(M, Vec<LayerReport>), SampledLinearError> {
    baseline.check()?;
    map_weights(model, kinds, filter, |w| {
        baseline.apply(w.rows, w.d_output, w.d_input, w.layer)
    })
}

/// Bits of the compact form of rows that are integers times one `scale` (as a sampled layer
/// is stored): the same count for every method.
fn integer_bits(rows: &[f32], scale: f32, d_input: usize) -> u64 {
    let q: Vec<i32> = match scale > 0.0 {
        true => rows.iter().map(|w| (w / scale).round() as i32).collect(),
        false => vec![0; rows.len()],
    };
    layout(
        &SparseRows::from_dense(&q, rows.len() / d_input, d_input),
        d_input,
    )
    .bits
}

fn kept(keep: f64, n: usize) -> usize {
    ((keep * n as f64).round() as usize).clamp(1, n)
}

/// Zeroes all but the `k` largest `|w|` of `values` (ties: the earlier index wins).
fn keep_largest(values: &mut [f32], k: usize) {
    if k >= values.len() {
        return;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.select_nth_unstable_by(k, |&a, &b| {
        values[b].abs().total_cmp(&values[a].abs()).then(a.cmp(&b))
    });
    for &i in &order[k..] {
        values[i] = 0.0;
    }
}

fn mean(values: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = values.fold((0.0f64, 0usize), |(s, n), v| (s + v as f64, n + 1));
    if n == 0 { 0.0 } else { (sum / n as f64) as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: [f32; 8] = [0.1, -0.8, 0.3, -0.05, 1.0, 0.2, -0.4, 0.0];

    fn run(baseline: Baseline) -> (Vec<f32>, LayerReport) {
        baseline.apply(&ROWS, 2, 4, "fc").unwrap()
    }

    #[test]
    fn magnitude_keeps_the_largest_per_neuron_and_per_layer() {
        let per_neuron = Baseline::Magnitude {
            keep: 0.5,
            granularity: Granularity::PerNeuron,
        };
        assert_eq!(
            run(per_neuron).0,
            vec![0.0, -0.8, 0.3, 0.0, 1.0, 0.0, -0.4, 0.0]
        );
        let per_layer = Baseline::Magnitude {
            keep: 0.25,
            granularity: Granularity::PerLayer,
        };
        let (out, report) = run(per_layer);
        assert_eq!(out, vec![0.0, -0.8, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!((report.nonzero, report.bits), (2, 32));
    }

    #[test]
    fn random_keeps_that_many_original_weights_per_neuron() {
        let (out, _) = run(Baseline::Random { keep: 0.5, seed: 4 });
        assert!(
            out.iter()
                .zip(&ROWS)
                .all(|(&w, &original)| w == 0.0 || w == original)
        );
        let nonzero = |row: &[f32]| row.iter().filter(|&&w| w != 0.0).count();
        assert_eq!(nonzero(&out[..4]), 2); // all four are non-zero: two kept
        assert!((1..=2).contains(&nonzero(&out[4..]))); // two picks, one may be the 0.0
        assert_ne!(
            run(Baseline::Random { keep: 0.5, seed: 4 }).0,
            run(Baseline::Random { keep: 0.5, seed: 5 }).0,
            "the seed should matter (for this small case it does for seeds 4 and 5)"
        );
    }

    #[test]
    fn ternary_by_hand() {
        // mean|w| = 2.85 / 8 = 0.35625, Δ = 0.249375; above it: 0.8, 0.3, 1.0, 0.4 → α = 0.625.
        let (out, report) = run(Baseline::Ternary);
        assert_eq!(out, vec![0.0, -0.625, 0.625, 0.0, 0.625, 0.0, -0.625, 0.0]);
        assert!(report.is_ternary() && report.bits == 2);
    }

    #[test]
    fn uniform_rounding_by_hand() {
        // 3 bits: levels ±3, s = 1/3.
        let (out, report) = run(Baseline::Uniform { bits: 3 });
        let s = 1.0f32 / 3.0;
        let expected: Vec<f32> = [0.0, -2.0, 1.0, 0.0, 3.0, 1.0, -1.0, 0.0]
            .iter()
            .map(|q| s * q)
            .collect();
        assert_eq!(out, expected);
        assert_eq!((report.max_abs_q, report.bits), (Some(3), 3));
    }

    #[test]
    fn prune_then_quantize_by_hand() {
        // Keep 2 of 4 per neuron: (−0.8, 0.3) and (1.0, −0.4). With 2 bits (levels ±1) the
        // scales are 0.8 and 1.0 and 0.3, −0.4 round to 0: one weight left per neuron.
        let (out, report) = run(Baseline::PruneQuantize { keep: 0.5, bits: 2 });
        assert_eq!(out, vec![0.0, -0.8, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!((report.nonzero, report.max_abs_q), (2, Some(1)));
        let q = SparseRows::from_dense(&[0, -1, 0, 0, 1, 0, 0, 0], 2, 4);
        assert_eq!(report.stored_bits, Some(layout(&q, 4).bits));
        // 3 bits (levels ±3): −0.8 → −3 · 0.8/3, 0.3 → 1 · 0.8/3; 1.0 → 3 · 1/3, −0.4 → −1/3.
        let (out, report) = run(Baseline::PruneQuantize { keep: 0.5, bits: 3 });
        let (a, b) = (0.8f32 / 3.0, 1.0f32 / 3.0);
        assert_eq!(out, vec![0.0, -3.0 * a, a, 0.0, 3.0 * b, 0.0, -b, 0.0]);
        assert_eq!((report.nonzero, report.bits), (4, 3));
        assert!(report.stats.unwrap().relative_error > 0.0);
    }

    #[test]
    fn bad_parameters_and_weights_are_named() {
        let bad = Baseline::Magnitude {
            keep: 1.5,
            granularity: Granularity::PerLayer,
        };
        assert!(
            bad.apply(&ROWS, 2, 4, "fc")
                .unwrap_err()
                .to_string()
                .contains("`keep` = 1.5")
        );
        let bad = Baseline::Uniform { bits: 1 };
        assert!(
            bad.apply(&ROWS, 2, 4, "fc")
                .unwrap_err()
                .to_string()
                .contains("`bits` = 1")
        );
        let mut rows = ROWS;
        rows[6] = f32::INFINITY;
        let err = Baseline::Ternary.apply(&rows, 2, 4, "fc9").unwrap_err();
        assert!(
            matches!(
                err,
                SampledLinearError::NonFiniteWeight {
                    output: 1,
                    input: 2,
                    ..
                }
            ),
            "{err}"
        );
    }
}
