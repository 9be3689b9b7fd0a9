//! Sampling the weights of one layer: signed integer counts and one scale per group.

use mcnn_sequences::SamplingError;
use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::counts::{row_counts, sample_counts};
use mcnn_sequences::threshold::{self, threshold_counts};

use crate::config::{Granularity, SamplingConfig};
use crate::error::{SampledLinearError, check_finite};
use crate::method::Method;
use crate::packed::{PackedLayout, SparseRows, layout};
use crate::report::{LayerReport, WeightStats};

/// The sampled weights of one layer, output-major (`[d_output, d_input]`, the transpose of
/// Burn's `Linear` weight): `w[o, j] ≈ scales[o] · q[o, j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SampledWeights {
    /// The signed counts `q`, row-major `[d_output, d_input]`.
    pub q: Vec<i32>,
    /// One scale `S / N` per output neuron (all equal when sampled per layer; 0 for an
    /// all-zero neuron).
    pub scales: Vec<f32>,
    /// Number of output neurons.
    pub d_output: usize,
    /// Number of inputs.
    pub d_input: usize,
    /// Samples `N` per group (per neuron, or for the whole layer).
    pub samples_per_group: usize,
    /// The original weights' statistics and the estimate's error.
    pub stats: WeightStats,
}

impl SampledWeights {
    /// Samples the output-major weights `rows` (`[d_output, d_input]`, row-major) as
    /// `config` says. `layer` names the layer in errors.
    ///
    /// # Errors
    /// [`SampledLinearError::InvalidConfig`] for a bad budget, `NonFiniteWeight` for a NaN
    /// or infinite weight (naming the layer, output and input), `Sampling` for a scale that
    /// overflows or underflows `f32`. An all-zero neuron is not an error: its counts and
    /// scale are 0, so it outputs its bias.
    ///
    /// # Panics
    /// If `rows.len() != d_output · d_input` or either is 0 (a caller's bug, not data).
    pub fn sample(
        rows: &[f32],
        d_output: usize,
        d_input: usize,
        config: &SamplingConfig,
        layer: &str,
    ) -> Result<Self, SampledLinearError> {
        let (q, scales) = Self::draw(rows, d_output, d_input, config, layer)?;
        let samples_per_group = config.samples(d_input, d_output)?;
        let mut sampled = Self {
            q,
            scales,
            d_output,
            d_input,
            samples_per_group,
            stats: WeightStats::of(&[], 1, None, &[]),
        };
        let group = match config.granularity {
            Granularity::PerNeuron => d_input,
            Granularity::PerLayer => rows.len(),
        };
        sampled.stats =
            WeightStats::of(rows, group, Some(samples_per_group), &sampled.dequantize());
        Ok(sampled)
    }

    /// The counts `q` and scales of [`sample`](Self::sample) alone, without the statistics
    /// (which cost as much again): what a training step that re-samples needs.
    ///
    /// # Errors
    /// As [`sample`](Self::sample).
    ///
    /// # Panics
    /// As [`sample`](Self::sample).
    pub fn draw(
        rows: &[f32],
        d_output: usize,
        d_input: usize,
        config: &SamplingConfig,
        layer: &str,
    ) -> Result<(Vec<i32>, Vec<f32>), SampledLinearError> {
        assert!(
            d_output > 0 && d_input > 0 && rows.len() == d_output * d_input,
            "SampledWeights::sample: {} weights for d_output = {d_output}, d_input = {d_input}",
            rows.len()
        );
        config.check()?;
        let samples_per_group = config.samples(d_input, d_output)?;
        // The samplers refuse a NaN or infinite weight themselves; only then is the weight
        // searched for, to name its output and input (one pass fewer on every draw).
        let in_layer = |source: SamplingError| match check_finite(rows, d_input, layer) {
            Err(named) => named,
            Ok(()) => SampledLinearError::Sampling {
                layer: layer.to_string(),
                source,
            },
        };
        let (q, scales) = match (config.scheme.scheme(), config.granularity) {
            (Some(scheme), Granularity::PerNeuron) => {
                let counts = row_counts(
                    rows,
                    d_output,
                    d_input,
                    samples_per_group,
                    scheme,
                    config.seed,
                )
                .map_err(in_layer)?;
                let scales = counts.summaries.iter().map(|s| s.scale).collect();
                (counts.q, scales)
            }
            (Some(scheme), Granularity::PerLayer) => {
                let counts = sample_counts(rows, samples_per_group, scheme, config.seed)
                    .map_err(in_layer)?;
                (counts.q, vec![counts.summary.scale; d_output])
            }
            (None, Granularity::PerNeuron) => {
                // Row r draws from its own stream, as the schemes' rows do.
                let root = CounterHash::from_seed(config.seed).derive(threshold::STREAM_ID);
                let mut q = Vec::with_capacity(rows.len());
                let mut scales = Vec::with_capacity(d_output);
                for (r, row) in rows.chunks(d_input).enumerate() {
                    let counts = threshold_counts(row, samples_per_group, root.derive(r as u32))
                        .map_err(|e| in_layer(e.in_row(r, d_input)))?;
                    q.extend(counts.q);
                    scales.push(counts.summary.scale);
                }
                (q, scales)
            }
            (None, Granularity::PerLayer) => {
                let stream = CounterHash::from_seed(config.seed).derive(threshold::STREAM_ID);
                let counts = threshold_counts(rows, samples_per_group, stream).map_err(in_layer)?;
                (counts.q, vec![counts.summary.scale; d_output])
            }
        };
        // The schemes' counts of a group add up to N in absolute value, so `scale · N` bounds
        // every estimate: only where that bound overflows are the counts searched.
        let bounded = config.scheme.scheme().is_some();
        for (output, (row, &scale)) in q.chunks(d_input).zip(&scales).enumerate() {
            if bounded && (scale * samples_per_group as f32).is_finite() {
                continue;
            }
            let max_abs_q = row.iter().map(|q| q.unsigned_abs()).max().unwrap_or(0);
            if !(scale * max_abs_q as f32).is_finite() {
                return Err(SampledLinearError::EstimateOverflow {
                    layer: layer.to_string(),
                    output,
                    scale,
                    max_abs_q,
                });
            }
        }
        Ok((q, scales))
    }

    /// The estimate `scales[o] · q[o, j]`, output-major `[d_output, d_input]`.
    pub fn dequantize(&self) -> Vec<f32> {
        self.q
            .chunks(self.d_input)
            .zip(&self.scales)
            .flat_map(|(row, &scale)| row.iter().map(move |&q| scale * q as f32))
            .collect()
    }

    /// `max |q|`: 1 means ternary weights.
    pub fn max_abs_q(&self) -> u32 {
        self.q.iter().map(|q| q.unsigned_abs()).max().unwrap_or(0)
    }

    /// What sampling made of the layer; `method` says how it was sampled.
    pub fn report(&self, layer: &str, method: Method) -> LayerReport {
        self.report_with(layer, method, &self.packed_layout())
    }

    /// [`report`](Self::report) given the layout of the compact form (already made).
    pub fn report_with(&self, layer: &str, method: Method, packed: &PackedLayout) -> LayerReport {
        let max_abs_q = self.max_abs_q();
        let (scale_min, scale_max) = self
            .scales
            .iter()
            .fold((f32::INFINITY, 0.0f32), |(lo, hi), &s| {
                (lo.min(s), hi.max(s))
            });
        LayerReport {
            layer: layer.to_string(),
            method,
            d_input: self.d_input,
            d_output: self.d_output,
            samples_per_group: Some(self.samples_per_group),
            nonzero: packed.nonzeros,
            max_abs_q: Some(max_abs_q),
            bits: LayerReport::signed_bits(max_abs_q),
            scales: Some((scale_min, scale_max)),
            stored_bits: Some(packed.bits),
            stats: Some(self.stats),
        }
    }

    /// The layout of the compact form of these weights ([`crate::packed`]).
    pub fn packed_layout(&self) -> PackedLayout {
        layout(
            &SparseRows::from_dense(&self.q, self.d_output, self.d_input),
            self.d_input,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Budget, SamplingScheme};

    #[test]
    fn systematic_per_neuron_counts_match_the_closed_form_by_hand() {
        // Row 0: |w| = (3, 1, 0, 4), S = 8, N = ⌈1.0 · 4⌉ = 4: N p = (1.5, 0.5, 0, 2):
        // systematic counts are ⌊·⌋ or ⌈·⌉ with Σ = 4 and the weight of 4 gets exactly 2.
        let rows = [3.0, -1.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0];
        let config = SamplingConfig::new(Budget::Amount(1.0))
            .with_scheme(SamplingScheme::Systematic)
            .with_seed(3);
        let s = SampledWeights::sample(&rows, 2, 4, &config, "fc").unwrap();
        let row0 = &s.q[..4];
        assert_eq!(row0.iter().map(|q| q.abs()).sum::<i32>(), 4);
        assert!((1..=2).contains(&row0[0]) && (-1..=0).contains(&row0[1]));
        assert_eq!((row0[2], row0[3]), (0, 2));
        assert_eq!(s.scales[0], 2.0); // S / N = 8 / 4
        // The all-zero row: zero counts, zero scale, no NaN.
        assert_eq!(&s.q[4..], &[0, 0, 0, 0]);
        assert_eq!(s.scales[1], 0.0);
        assert!(s.dequantize().iter().all(|v| v.is_finite()));
    }

    /// Three weights of `f32::MAX` and 4 samples: the scale `3·MAX / 4` fits, the weight that
    /// gets two of the samples (one must) does not.
    #[test]
    fn an_estimate_beyond_f32_is_an_error_naming_the_output() {
        let rows = [1.0, 1.0, 1.0, f32::MAX, f32::MAX, f32::MAX];
        let config = SamplingConfig::new(Budget::PerNeuron(4))
            .with_scheme(SamplingScheme::Systematic)
            .with_seed(1);
        for result in [
            SampledWeights::draw(&rows, 2, 3, &config, "fc").map(drop),
            SampledWeights::sample(&rows, 2, 3, &config, "fc").map(drop),
        ] {
            match result {
                Err(SampledLinearError::EstimateOverflow { output, .. }) => assert_eq!(output, 1),
                other => panic!("expected EstimateOverflow, got {other:?}"),
            }
        }
        // Row 0 alone is fine.
        assert!(SampledWeights::draw(&rows[..3], 1, 3, &config, "fc").is_ok());
    }

    #[test]
    fn per_layer_shares_one_scale_and_spends_the_layer_budget() {
        let rows: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) / 3.0).collect();
        let config =
            SamplingConfig::new(Budget::PerNeuron(5)).with_granularity(Granularity::PerLayer);
        let s = SampledWeights::sample(&rows, 3, 4, &config, "fc").unwrap();
        assert_eq!(s.samples_per_group, 15);
        assert_eq!(s.q.iter().map(|q| q.abs()).sum::<i32>(), 15);
        assert!(s.scales.iter().all(|&x| x == s.scales[0]));
        let sum_abs: f32 = rows.iter().map(|w| w.abs()).sum();
        assert!((s.scales[0] - sum_abs / 15.0).abs() < 1e-6);
    }

    #[test]
    fn bad_budgets_and_weights_are_named() {
        let rows = [1.0, f32::NAN, 0.5, 0.25];
        let ok = SamplingConfig::new(Budget::Amount(2.0));
        let err = SampledWeights::sample(&rows, 2, 2, &ok, "fc2").unwrap_err();
        match &err {
            SampledLinearError::NonFiniteWeight {
                layer,
                output,
                input,
                value,
            } => assert!(layer == "fc2" && (*output, *input) == (0, 1) && value.is_nan()),
            other => panic!("expected a non-finite weight error, got {other:?}"),
        }
        assert!(err.to_string().contains("fc2") && err.to_string().contains("NaN"));
        for budget in [
            Budget::Amount(0.0),
            Budget::Amount(f64::NAN),
            Budget::Amount(-1.0),
            Budget::PerNeuron(0),
        ] {
            let err = SampledWeights::sample(&[1.0; 4], 2, 2, &SamplingConfig::new(budget), "fc")
                .unwrap_err();
            assert!(err.to_string().contains("`budget`"), "{err}");
        }
    }

    /// `PerNeuron(c)` per layer is `c · d_output` samples: a product that overflows is an
    /// error naming the budget (it used to wrap to a handful of samples in release builds),
    /// and an amount too large for the sampler is the sampler's error, not a hang.
    #[test]
    fn budgets_too_large_are_errors_not_wrapped_numbers() {
        let per_layer = SamplingConfig::new(Budget::PerNeuron(usize::MAX / 2 + 2))
            .with_granularity(Granularity::PerLayer);
        let err = SampledWeights::sample(&[1.0; 4], 2, 2, &per_layer, "fc").unwrap_err();
        assert!(
            err.to_string().contains("`budget`") && err.to_string().contains("fits a usize"),
            "{err}"
        );
        for budget in [Budget::Amount(1e300), Budget::PerNeuron(usize::MAX)] {
            let err = SampledWeights::sample(&[1.0; 4], 2, 2, &SamplingConfig::new(budget), "fc")
                .unwrap_err();
            assert!(
                matches!(err, SampledLinearError::Sampling { .. }),
                "{budget:?}: {err}"
            );
        }
    }
}
