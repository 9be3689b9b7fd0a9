//! What sampling (or a baseline) made of a layer, and a Markdown table of it.

use std::fmt::Write as _;

use crate::method::Method;

/// Statistics of a layer's weights that predict its sampling error, and the error measured.
///
/// For `N` independent samples from a group of `n` weights, the expected squared error of the
/// estimate relative to the weights' is `E‖ŵ − w‖² / ‖w‖² = (n ρ − 1) / N ≈ ρ / K` with
/// `ρ = (E|w|)² / E[w²]` (1 when all `|w|` are equal, small for heavy tails): the flatter a
/// row, the more samples it needs. Stratified (jittered) and threshold sampling do better.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightStats {
    /// `ρ = (E|w|)² / E[w²]` of the sampled groups (rows, or the layer), averaged.
    pub rho: f64,
    /// `E[w⁴] / E[w²]²` over the layer (3 for Gaussian weights).
    pub kurtosis: f64,
    /// `‖ŵ − w‖² / ‖w‖²` of this layer's estimate (or baseline).
    pub relative_error: f64,
    /// What independent sampling would give for the same groups and samples, on the same
    /// scale as `relative_error`: `Σ_g (S_g² − ‖w_g‖²) / N / Σ_g ‖w_g‖²`; none for the
    /// baselines, which do not sample.
    pub predicted_iid_error: Option<f64>,
}

impl WeightStats {
    /// The statistics of output-major `rows` split in groups of `n` (the rows, or one group
    /// for the layer), sampled with `samples` per group (`None` for a baseline), and of the
    /// estimate `estimate`.
    pub fn of(rows: &[f32], n: usize, samples: Option<usize>, estimate: &[f32]) -> Self {
        let (mut rho, mut groups, mut iid_error) = (0.0, 0usize, 0.0);
        for row in rows.chunks(n.max(1)) {
            let (abs, square) = row.iter().fold((0.0f64, 0.0f64), |(a, s), &w| {
                let w = f64::from(w);
                (a + w.abs(), s + w * w)
            });
            if square > 0.0 {
                rho += abs * abs / (row.len() as f64 * square);
                iid_error += abs * abs - square;
                groups += 1;
            }
        }
        let (m2, m4) = rows.iter().fold((0.0f64, 0.0f64), |(m2, m4), &w| {
            let w2 = f64::from(w) * f64::from(w);
            (m2 + w2, m4 + w2 * w2)
        });
        let error: f64 = rows
            .iter()
            .zip(estimate)
            .map(|(&w, &e)| (f64::from(e) - f64::from(w)).powi(2))
            .sum();
        let len = rows.len().max(1) as f64;
        let ratio = |x: f64| if m2 > 0.0 { x / m2 } else { 0.0 };
        Self {
            rho: rho / groups.max(1) as f64,
            kurtosis: if m2 > 0.0 {
                (m4 / len) / (m2 / len).powi(2)
            } else {
                0.0
            },
            relative_error: ratio(error),
            predicted_iid_error: samples.map(|n| ratio(iid_error / n as f64)),
        }
    }
}

/// What sampling, or a baseline, made of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    /// The layer's path in the model (`fc1`, `lenet.fc2`, …) or the name it was given.
    pub layer: String,
    /// How its weights were made (displayed `jittered per neuron, K = 0.5`, `magnitude per
    /// layer`, …).
    pub method: Method,
    /// Number of inputs.
    pub d_input: usize,
    /// Number of outputs.
    pub d_output: usize,
    /// Samples `N` per group, for the sampled methods.
    pub samples_per_group: Option<usize>,
    /// Weights that are not zero.
    pub nonzero: usize,
    /// `max |q|` of the integer weights, for the sampled methods (1: ternary).
    pub max_abs_q: Option<u32>,
    /// Bits per stored non-zero weight value: `⌈log2(2·max|q| + 1)⌉` for signed integers,
    /// 32 for float weights.
    pub bits: u32,
    /// The smallest and largest scale, where the weights are integers times scales.
    pub scales: Option<(f32, f32)>,
    /// Bits of the compact form's packed counts and columns ([`crate::packed`]), for the
    /// sampled methods; the scales and the bias add 32 bits per neuron each.
    pub stored_bits: Option<u64>,
    /// The weights' statistics and the estimate's error, for the sampled methods and the
    /// integer baselines.
    pub stats: Option<WeightStats>,
}

impl LayerReport {
    /// Bits that hold every integer in `-max_abs..=max_abs`: 0 for all zero, 2 for
    /// ternary, 3 up to ±3, …
    pub fn signed_bits(max_abs: u32) -> u32 {
        let levels = 2 * max_abs as u64 + 1;
        u64::BITS - (levels - 1).leading_zeros()
    }

    /// The number of weights, `d_input · d_output`.
    pub fn weights(&self) -> usize {
        self.d_input * self.d_output
    }

    /// The fraction of weights that are not zero.
    pub fn nonzero_fraction(&self) -> f64 {
        self.nonzero as f64 / self.weights() as f64
    }

    /// Whether every weight is `-s`, 0 or `+s` for its group's scale `s`.
    pub fn is_ternary(&self) -> bool {
        self.max_abs_q.is_some_and(|m| m <= 1)
    }

    /// A Markdown table, one row per report.
    pub fn markdown(reports: &[LayerReport]) -> String {
        let mut out = String::from(
            "| layer | method | shape (in × out) | samples per group | non-zero | max abs q \
             | bits | ternary | scales |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        let dash = || "–".to_string();
        for r in reports {
            let _ = writeln!(
                out,
                "| {} | {} | {} × {} | {} | {:.2}% | {} | {} | {} | {} |",
                r.layer,
                r.method,
                r.d_input,
                r.d_output,
                r.samples_per_group.map_or_else(dash, |n| n.to_string()),
                100.0 * r.nonzero_fraction(),
                r.max_abs_q.map_or_else(dash, |m| m.to_string()),
                r.bits,
                if r.is_ternary() { "yes" } else { "no" },
                r.scales.map_or_else(dash, |(lo, hi)| if lo == hi {
                    format!("{lo:.3e}")
                } else {
                    format!("{lo:.3e} … {hi:.3e}")
                }),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Budget, SamplingConfig};

    #[test]
    fn weight_stats_by_hand() {
        // A row of equal magnitudes: ρ = 1, (S² − ‖w‖²)/N/‖w‖² = (16 − 4)/2/4 = 1.5; a row
        // (2, 0, 0, 0): ρ = 1/4, and independent sampling is exact.
        let stats = WeightStats::of(&[1.0, -1.0, 1.0, -1.0], 4, Some(2), &[1.0, -1.0, 1.0, 0.0]);
        assert_eq!(stats.rho, 1.0);
        assert_eq!(stats.kurtosis, 1.0);
        assert_eq!(stats.relative_error, 0.25);
        assert_eq!(stats.predicted_iid_error, Some(1.5));
        let spike = WeightStats::of(&[2.0, 0.0, 0.0, 0.0], 4, Some(3), &[2.0, 0.0, 0.0, 0.0]);
        assert_eq!((spike.rho, spike.predicted_iid_error), (0.25, Some(0.0)));
        assert_eq!(spike.kurtosis, 4.0);
        // Two rows weigh by their norms: (1, 1) and (3, 0) with N = 1: (4 − 2 + 9 − 9) / 11.
        let two = WeightStats::of(&[1.0, 1.0, 3.0, 0.0], 2, Some(1), &[2.0, 0.0, 3.0, 0.0]);
        assert_eq!(two.predicted_iid_error, Some(2.0 / 11.0));
        assert!(
            WeightStats::of(&[1.0], 1, None, &[1.0])
                .predicted_iid_error
                .is_none()
        );
    }

    #[test]
    fn signed_bits_by_hand() {
        let expected = [(0, 0), (1, 2), (2, 3), (3, 3), (4, 4), (7, 4), (8, 5)];
        for (max_abs, bits) in expected {
            assert_eq!(
                LayerReport::signed_bits(max_abs),
                bits,
                "max |q| = {max_abs}"
            );
        }
    }

    #[test]
    fn fractions_and_table() {
        let report = LayerReport {
            layer: "fc1".into(),
            method: Method::sampled(&SamplingConfig::new(Budget::Amount(1.0))),
            d_input: 4,
            d_output: 5,
            samples_per_group: Some(4),
            nonzero: 5,
            max_abs_q: Some(1),
            bits: 2,
            scales: Some((0.5, 0.5)),
            stored_bits: Some(14),
            stats: None,
        };
        assert_eq!(report.nonzero_fraction(), 0.25);
        assert!(report.is_ternary());
        let table = LayerReport::markdown(&[report]);
        assert!(
            table.contains(
                "| fc1 | jittered per neuron, K = 1 | 4 × 5 | 4 | 25.00% | 1 | 2 | yes | 5.000e-1 |"
            ),
            "{table}"
        );
    }
}

/// A layer's size as its record stores it, against the dense layer it replaces: what the
/// training metrics and the byte counts of the examples read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredSize {
    /// Weights of the dense layer (`d_input · d_output`, or filters times taps).
    pub weights: usize,
    /// Its non-zero weights.
    pub nonzeros: usize,
    /// Bytes of its record's tensors: the packed counts and columns, an `f32` scale per
    /// output and the `f32` bias.
    pub stored_bytes: usize,
}

impl StoredSize {
    /// A dense layer of `weights` weights and `params` `f32` parameters (weights and bias).
    pub fn dense(weights: usize, params: usize) -> Self {
        Self {
            weights,
            nonzeros: weights,
            stored_bytes: 4 * params,
        }
    }

    /// The size of a layer stored as `layout` says, with or without a bias.
    pub fn of_packed(layout: &crate::packed::PackedLayout, bias: bool) -> Self {
        let floats = layout.d_output * (1 + bias as usize);
        Self {
            weights: layout.d_input * layout.d_output,
            nonzeros: layout.nonzeros,
            stored_bytes: layout.words() * 4 + 4 * floats,
        }
    }

    /// Non-zero weights over dense weights, in `[0, 1]` (0 for no weights).
    pub fn nonzero_fraction(&self) -> f64 {
        self.nonzeros as f64 / self.weights.max(1) as f64
    }

    /// Stored bits per weight of the dense layer (32 for `f32` weights).
    pub fn bits_per_weight(&self) -> f64 {
        8.0 * self.stored_bytes as f64 / self.weights.max(1) as f64
    }
}

impl std::ops::Add for StoredSize {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            weights: self.weights + other.weights,
            nonzeros: self.nonzeros + other.nonzeros,
            stored_bytes: self.stored_bytes + other.stored_bytes,
        }
    }
}
