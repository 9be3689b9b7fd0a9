//! Whole models: every `Conv2d` and `Linear` sampled (or turned into a baseline) in place.

use burn::module::Module;
use sampled_linear::{
    Baseline, LayerKind, LayerReport, SampledLinearError, SamplingConfig, apply_baseline_weights,
    sample_weights,
};

const BOTH: [LayerKind; 2] = [LayerKind::Linear, LayerKind::Conv2d];

/// Samples every `Conv2d` (per filter, or per layer) and `Linear` (per neuron, or per layer)
/// of `model` whose path `filter` accepts, in place: each weight becomes its estimate
/// `scale · q`, stored densely, so the model keeps its type. Layer `i` in visiting order
/// samples with `config.seed + i`.
///
/// # Errors
/// As `sampled_linear::SampledWeights::sample`, naming the layer by its path.
pub fn sample_model<M: Module>(
    model: M,
    config: &SamplingConfig,
    filter: impl Fn(&str) -> bool,
) -> Result<(M, Vec<LayerReport>), SampledLinearError> {
    sample_weights(model, &BOTH, config, filter)
}

/// Applies `baseline` (magnitude or random pruning, ternary thresholding, uniform rounding) to
/// every `Conv2d` filter (one row each) and `Linear` neuron of `model` that `filter` accepts.
///
/// # Errors
/// A bad baseline parameter, or a non-finite weight (naming the layer).
pub fn apply_baseline_model<M: Module>(
    model: M,
    baseline: Baseline,
    filter: impl Fn(&str) -> bool,
) -> Result<(M, Vec<LayerReport>), SampledLinearError> {
    apply_baseline_weights(model, &BOTH, baseline, filter)
}
