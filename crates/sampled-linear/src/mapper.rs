//! Whole models: rewrite the weight of every `Linear` (or those a filter selects) and report
//! what became of each.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;

use crate::config::SamplingConfig;
use crate::error::SampledLinearError;
use crate::report::LayerReport;
use crate::sample::SampledWeights;
use crate::weights::{input_major_tensor, output_major};

/// The signature of a weight transform: `(layer, rows, d_output, d_input, layer_number)` →
/// the new output-major rows and the layer's report.
type Transform<'a, E> =
    dyn FnMut(&str, &[f32], usize, usize, usize) -> Result<(Vec<f32>, LayerReport), E> + 'a;

/// Rewrites the weight of every `burn::nn::Linear` in `model` whose path (`fc1`,
/// `blocks.0.linear`, …) `filter` accepts: `transform(layer, rows, d_output, d_input,
/// layer_number)` gets the weight as output-major rows (`[d_output, d_input]`, one row per
/// neuron) and returns the new rows and a report. `layer_number` counts the selected layers
/// in visiting order, from 0. Biases and every other parameter are left as they are.
///
/// # Errors
/// The first error of `transform`; the model is then dropped.
pub fn map_linear_weights<M: Module, E>(
    model: M,
    filter: impl Fn(&str) -> bool,
    mut transform: impl FnMut(&str, &[f32], usize, usize, usize) -> Result<(Vec<f32>, LayerReport), E>,
) -> Result<(M, Vec<LayerReport>), E> {
    let mut mapper = LinearWeightMapper {
        path: Vec::new(),
        filter: &filter,
        transform: &mut transform,
        reports: Vec::new(),
        error: None,
    };
    let model = model.map(&mut mapper);
    match mapper.error {
        Some(error) => Err(error),
        None => Ok((model, mapper.reports)),
    }
}

/// Samples every `Linear` of `model` that `filter` accepts, in place: each weight becomes its
/// estimate `scale · q`, stored densely, so the model keeps its type (for accuracy studies,
/// or to export). For the sparse integer layer itself use
/// [`SampledLinear::from_linear`](crate::SampledLinear::from_linear).
///
/// Layer `i` (in visiting order) samples with the seed `config.seed + i`, so layers of the
/// same shape do not share their uniforms.
///
/// # Errors
/// As [`SampledWeights::sample`], naming the layer by its path.
pub fn sample_linears<M: Module>(
    model: M,
    config: &SamplingConfig,
    filter: impl Fn(&str) -> bool,
) -> Result<(M, Vec<LayerReport>), SampledLinearError> {
    config.check()?;
    let method = config.describe();
    map_linear_weights(model, filter, |layer, rows, d_output, d_input, number| {
        let config = config
            .clone()
            .with_seed(config.seed.wrapping_add(number as u64));
        let sampled = SampledWeights::sample(rows, d_output, d_input, &config, layer)?;
        Ok((sampled.dequantize(), sampled.report(layer, &method)))
    })
}

struct LinearWeightMapper<'a, 't, E> {
    /// (name, container type) of every module entered.
    path: Vec<(String, String)>,
    filter: &'a dyn Fn(&str) -> bool,
    transform: &'a mut Transform<'t, E>,
    reports: Vec<LayerReport>,
    error: Option<E>,
}

impl<E> ModuleMapper for LinearWeightMapper<'_, '_, E> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let is_linear_weight = matches!(self.path.last(),
            Some((name, container)) if name == "weight" && container == "Struct:Linear");
        if D != 2 || !is_linear_weight || self.error.is_some() {
            return param;
        }
        let layer = self.path[..self.path.len() - 1]
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        if !(self.filter)(&layer) {
            return param;
        }
        let number = self.reports.len();
        param.map(|tensor| {
            let dims = tensor.dims();
            let weight: Tensor<2> = tensor.clone().reshape([dims[0], dims[1]]);
            let (rows, d_output, d_input) = output_major(&weight);
            match (self.transform)(&layer, &rows, d_output, d_input, number) {
                Ok((rows, report)) => {
                    self.reports.push(report);
                    input_major_tensor(&rows, d_output, d_input, &weight.device()).reshape(dims)
                }
                Err(error) => {
                    self.error = Some(error);
                    tensor
                }
            }
        })
    }
}
