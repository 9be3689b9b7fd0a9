//! The post-training compression study E2 and E3/E4 share: a trained model's selected layers
//! sampled by every variant at every amount and seed, then the baselines at the same
//! non-zeros (or bits), each point with its accuracy, non-zero fractions and model bytes.

use burn::module::{Module, ParamGroup, Quantizer};
use burn::tensor::quantization::{Calibration, QuantScheme, QuantValue, ScaleDtype};
use mcnn::sampled_linear::{
    Baseline, Budget, CompressibleLayer, Granularity, LayerKind, LayerReport, LayerSelection,
    Method, SampledWeights, SamplingConfig, SamplingScheme, compressible_layers, map_weights,
};

use super::Point;

/// What a study runs.
pub struct StudySetup {
    /// The kinds of layer that are candidates (`Linear` for E2, both for E3).
    pub kinds: Vec<LayerKind>,
    /// Which of the candidates are compressed.
    pub selection: LayerSelection,
    /// Sampling amounts `K`.
    pub amounts: Vec<f64>,
    /// Sampling seeds per point.
    pub seeds: u64,
    /// Amounts for given layers (by path), in place of the point's `K`.
    pub layer_amounts: Vec<(String, f64)>,
    /// Sampling variants; the first is the default, whose non-zeros the baselines match.
    pub variants: Vec<(SamplingScheme, Granularity)>,
    /// The word for a row in method names: `neuron` (E2) or `filter` (E3).
    pub row: &'static str,
    /// Bits of the prune-then-quantize baseline's integers.
    pub prune_quantize_bits: Vec<u32>,
    /// The fixed baselines (TWN, uniform rounding).
    pub fixed: Vec<Baseline>,
    /// Burn's per-tensor weight quantization (`quantize_weights`), at these values.
    pub burn: Vec<QuantValue>,
}

/// What a study found on one trained model.
pub struct Study {
    /// Every point, accuracies against `dense`.
    pub points: Vec<Point>,
    /// The paths of the compressed ones.
    pub selected: Vec<String>,
    /// The default variant's reports at every amount, first seed: weight statistics.
    pub default_reports: Vec<(f64, Vec<LayerReport>)>,
}

/// A baseline at a kept fraction (and a seed, for random pruning).
type MakeBaseline = Box<dyn Fn(f64, u64) -> Baseline>;

/// Runs `setup` on `model` (dense accuracy `dense`; `accuracy` measures a compressed model).
///
/// # Errors
/// No layer selected, a bad amount or baseline, or a layer that cannot be sampled.
pub fn run<M: Module>(
    model: &M,
    setup: &StudySetup,
    accuracy: impl Fn(&M) -> f64,
    dense: f64,
) -> Result<Study, String> {
    let layers = compressible_layers(model);
    let selected = setup.selection.paths(&layers, &setup.kinds);
    if selected.is_empty() {
        return Err(format!(
            "--layers {} selects none of the model's {} layers",
            setup.selection,
            layers.len()
        ));
    }
    if let Some((path, _)) = setup
        .layer_amounts
        .iter()
        .find(|(path, _)| !selected.contains(path))
    {
        return Err(format!(
            "--layer-amount {path}: not a layer --layers {} compresses ({})",
            setup.selection,
            selected.join(", ")
        ));
    }
    let is_selected = |path: &str| selected.iter().any(|p| p == path);
    let bytes = |reports: &[LayerReport]| model_bytes(&layers, reports);
    let mut points = Vec::new();
    let mut default_reports = Vec::new();
    for (v, &(scheme, granularity)) in setup.variants.iter().enumerate() {
        for &k in &setup.amounts {
            let mut point = None::<Point>;
            for seed in 0..setup.seeds {
                let base = SamplingConfig::new(Budget::Amount(k))
                    .with_scheme(scheme)
                    .with_granularity(granularity)
                    .with_seed(1000 * seed);
                let (sampled, reports) =
                    map_weights(model.clone(), &setup.kinds, is_selected, |w| {
                        // As `compress`: layer i of the selected ones samples with seed + i.
                        let mut config = base.clone().with_seed(base.seed + w.number as u64);
                        if let Some((_, amount)) =
                            setup.layer_amounts.iter().find(|(p, _)| p == w.layer)
                        {
                            config.budget = Budget::Amount(*amount);
                        }
                        let sampled = SampledWeights::sample(
                            w.rows, w.d_output, w.d_input, &config, w.layer,
                        )?;
                        Ok::<_, mcnn::sampled_linear::SampledLinearError>((
                            sampled.dequantize(),
                            sampled.report(w.layer, Method::sampled(&config)),
                        ))
                    })
                    .map_err(|e| e.to_string())?;
                if v == 0 && seed == 0 {
                    default_reports.push((k, reports.clone()));
                }
                let method = base.method().replace("neuron", setup.row);
                point
                    .get_or_insert_with(|| {
                        Point::new(
                            &reports,
                            &layers,
                            method,
                            format!("K = {k}"),
                            bytes(&reports),
                        )
                    })
                    .push(accuracy(&sampled), dense);
            }
            let p = point.expect("at least one seed");
            p.log();
            points.push(p);
        }
    }

    // Baselines at the default variant's per-layer non-zero fractions.
    for (k, reports) in &default_reports {
        let fractions: Vec<f64> = reports.iter().map(LayerReport::nonzero_fraction).collect();
        let mut baselines: Vec<(String, MakeBaseline, bool)> = vec![
            (
                format!("magnitude per {}", setup.row),
                Box::new(|keep, _| Baseline::Magnitude {
                    keep,
                    granularity: Granularity::PerNeuron,
                }),
                false,
            ),
            (
                format!("random per {}", setup.row),
                Box::new(|keep, seed| Baseline::Random { keep, seed }),
                true,
            ),
        ];
        for &bits in &setup.prune_quantize_bits {
            baselines.push((
                format!("magnitude + {bits}-bit per {}", setup.row),
                Box::new(move |keep, _| Baseline::PruneQuantize { keep, bits }),
                false,
            ));
        }
        for (label, make, random) in &baselines {
            let mut point = None::<Point>;
            for seed in 0..if *random { setup.seeds } else { 1 } {
                let (pruned, reports) =
                    map_weights(model.clone(), &setup.kinds, is_selected, |w| {
                        make(
                            fractions[w.number].clamp(1e-9, 1.0),
                            1000 * seed + w.number as u64,
                        )
                        .apply(w.rows, w.d_output, w.d_input, w.layer)
                    })
                    .map_err(|e| e.to_string())?;
                point
                    .get_or_insert_with(|| {
                        Point::new(
                            &reports,
                            &layers,
                            label.clone(),
                            format!("at K = {k}"),
                            bytes(&reports),
                        )
                    })
                    .push(accuracy(&pruned), dense);
            }
            points.push(point.expect("at least one run"));
        }
    }
    for &baseline in &setup.fixed {
        let (compressed, reports) = map_weights(model.clone(), &setup.kinds, is_selected, |w| {
            baseline.apply(w.rows, w.d_output, w.d_input, w.layer)
        })
        .map_err(|e| e.to_string())?;
        let (method, parameter) = match baseline {
            Baseline::Uniform { bits } => {
                ("uniform rounding per layer".into(), format!("{bits} bits"))
            }
            other => (other.describe(), String::new()),
        };
        let mut p = Point::new(&reports, &layers, method, parameter, bytes(&reports));
        p.push(accuracy(&compressed), dense);
        points.push(p);
    }
    // Burn's own weight quantization of the same layers, per tensor.
    let weight_paths: Vec<String> = selected.iter().map(|p| format!("{p}.weight")).collect();
    let selected_weights: usize = layers
        .iter()
        .filter(|l| is_selected(&l.path))
        .map(|l| l.weights)
        .sum();
    // Per tensor, and per block along the weight's last axis (one f32 scale per block, as
    // Q4_0-style formats): Burn needs the block to divide that axis of every tensor, so the
    // largest divisor up to 32 of the `Linear` layers' output widths.
    let widths = layers
        .iter()
        .filter(|l| is_selected(&l.path) && l.kind == LayerKind::Linear)
        .map(|l| l.outputs)
        .fold(0, gcd);
    let block = (1..=32u8).rev().find(|&b| widths % b as usize == 0);
    for (&value, block) in setup.burn.iter().flat_map(|v| [(v, None), (v, block)]) {
        let bits = match value {
            QuantValue::Q8S | QuantValue::Q8F => 8,
            QuantValue::Q4S | QuantValue::Q4F => 4,
            _ => 2,
        };
        let scheme = QuantScheme::default().with_value(value);
        let scheme = match block {
            Some(size) => scheme.per_block([size], ScaleDtype::F32),
            None => scheme,
        };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let quantized = model.clone().quantize_weights_group(
                &mut Quantizer::new(Calibration::MinMax, scheme),
                ParamGroup::from_paths(weight_paths.clone()),
            );
            accuracy(&quantized)
        }));
        let Ok(acc) = run else {
            eprintln!("Burn quantize_weights {value:?}, block {block:?}: not supported here");
            continue;
        };
        // `bits` per weight and its scales (one per tensor, or per block), the rest as stored.
        let scales = match block {
            Some(size) => selected_weights.div_ceil(size as usize),
            None => selected.len(),
        };
        let bytes = model_bytes(&layers, &[]) - 4.0 * selected_weights as f64
            + (selected_weights * bits) as f64 / 8.0
            + 4.0 * scales as f64;
        let mut p = Point {
            method: match block {
                Some(size) => format!("Burn quantize_weights, blocks of {size}"),
                None => "Burn quantize_weights, per tensor".into(),
            },
            parameter: format!("{value:?}"),
            nonzero: 1.0,
            nonzero_all: 1.0,
            bits: bits as u32,
            ternary_layers: 0,
            bytes,
            accuracies: Vec::new(),
            dense: Vec::new(),
        };
        p.push(acc, dense);
        points.push(p);
    }
    Ok(Study {
        points,
        selected,
        default_reports,
    })
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Bytes of the model's compressible layers with the layers of `reports` compressed as they
/// say: every layer's `f32` bias; a dense layer's `f32` weights; a compressed layer's packed
/// integers and its scales (one per row, or one when all are equal), or, for `f32` survivors
/// (magnitude or random pruning), a CSR of `f32` values, 16-bit columns (32-bit above 65 536
/// inputs) and a 32-bit offset per row.
pub fn model_bytes(layers: &[CompressibleLayer], reports: &[LayerReport]) -> f64 {
    layers
        .iter()
        .map(|layer| {
            let bias = 4 * layer.outputs;
            let weights = match reports.iter().find(|r| r.layer == layer.path) {
                None => 4 * layer.weights,
                Some(r) => match r.stored_bits {
                    Some(bits) => {
                        let one_scale = r.scales.is_some_and(|(lo, hi)| lo == hi);
                        bits.div_ceil(8) as usize + 4 * if one_scale { 1 } else { r.d_output }
                    }
                    None => {
                        let column = if r.d_input <= 1 << 16 { 2 } else { 4 };
                        r.nonzero * (4 + column) + 4 * (r.d_output + 1)
                    }
                },
            };
            (bias + weights) as f64
        })
        .sum()
}

/// Points of several trainings of the same setup, each point's runs together.
#[allow(dead_code)] // E2 trains several models; E3 one.
pub fn merge(runs: Vec<Vec<Point>>) -> Vec<Point> {
    let mut merged: Vec<Point> = Vec::new();
    for points in runs {
        for p in points {
            match merged
                .iter_mut()
                .find(|m| m.method == p.method && m.parameter == p.parameter)
            {
                Some(m) => {
                    let (n, added) = (m.accuracies.len() as f64, p.accuracies.len() as f64);
                    let weigh = |a: f64, b: f64| (a * n + b * added) / (n + added);
                    m.nonzero = weigh(m.nonzero, p.nonzero);
                    m.nonzero_all = weigh(m.nonzero_all, p.nonzero_all);
                    m.bytes = weigh(m.bytes, p.bytes);
                    m.accuracies.extend(p.accuracies);
                    m.dense.extend(p.dense);
                }
                None => merged.push(p),
            }
        }
    }
    merged
}

/// Per layer and amount: the weights' ρ and kurtosis, and the estimate's relative error
/// against what independent sampling would give (the study's default variant, first seed).
pub fn print_stats(reports: &[(f64, Vec<LayerReport>)]) {
    println!(
        "\nWeight statistics of the compressed layers and the relative error ‖ŵ − w‖²/‖w‖² of \
         the default sampling, and what independent sampling would give (Σ(S² − ‖w‖²)/N/Σ‖w‖², \
         ≈ ρ/K per row):\n"
    );
    println!(
        "| K | layer | ρ | kurtosis | relative error | iid prediction |\n|---|---|---|---|---|---|"
    );
    for (k, reports) in reports {
        for r in reports {
            if let Some(s) = r.stats {
                let predicted = s
                    .predicted_iid_error
                    .map_or("–".into(), |p| format!("{p:.4}"));
                println!(
                    "| {k} | {} | {:.3} | {:.2} | {:.4} | {predicted} |",
                    r.layer, s.rho, s.kurtosis, s.relative_error
                );
            }
        }
    }
}
