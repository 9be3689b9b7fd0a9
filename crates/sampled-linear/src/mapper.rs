//! Whole models: rewrite the weight of every `Linear` and `Conv2d` (or those a filter selects)
//! and report what became of each.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};

use crate::config::SamplingConfig;
use crate::error::SampledLinearError;
use crate::method::Method;
use crate::report::LayerReport;
use crate::sample::SampledWeights;
use crate::weights::{input_major_tensor, output_major};

/// One selected layer's weight, as a transform of [`map_weights`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct LayerRows<'a> {
    /// The layer's path in the model (`fc1`, `blocks.0.linear`, …).
    pub layer: &'a str,
    /// The weight as output-major rows, `[d_output, d_input]`: one row per neuron (or filter).
    pub rows: &'a [f32],
    /// Rows: output neurons, or a `Conv2d`'s output channels.
    pub d_output: usize,
    /// Row length: inputs, or a `Conv2d`'s `c_in / groups · kh · kw`.
    pub d_input: usize,
    /// How many selected layers came before this one, in visiting order (from 0).
    pub number: usize,
}

/// A weight transform: the new output-major rows and the layer's report.
type Transform<'a, E> = dyn FnMut(LayerRows<'_>) -> Result<(Vec<f32>, LayerReport), E> + 'a;

/// The kinds of layer whose weights a mapper rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `burn::nn::Linear`: one row per output neuron, `d_input` long.
    Linear,
    /// `burn::nn::conv::Conv2d`: one row per filter (output channel), `c_in / groups · kh · kw`
    /// long, in Burn's order (channel, then kernel row, then kernel column).
    Conv2d,
}

impl LayerKind {
    /// Both kinds: every `Linear` and `Conv2d`.
    pub const ALL: [LayerKind; 2] = [LayerKind::Linear, LayerKind::Conv2d];

    /// The container type Burn's `ModuleMapper` reports for the layer.
    fn container(self) -> &'static str {
        match self {
            Self::Linear => "Struct:Linear",
            Self::Conv2d => "Struct:Conv2d",
        }
    }
}

/// Rewrites the weight of every layer of the given `kinds` in `model` whose path (`fc1`,
/// `blocks.0.linear`, …) `filter` accepts: `transform` gets the weight as output-major rows
/// ([`LayerRows`]: a `Linear`'s neurons, a `Conv2d`'s filters with `d_input = c_in / groups ·
/// kh · kw`) and returns the new rows and a report. Biases and every other parameter are left
/// as they are.
///
/// # Errors
/// The first error of `transform`; the model is then dropped.
pub fn map_weights<M: Module, E>(
    model: M,
    kinds: &[LayerKind],
    filter: impl Fn(&str) -> bool,
    mut transform: impl FnMut(LayerRows<'_>) -> Result<(Vec<f32>, LayerReport), E>,
) -> Result<(M, Vec<LayerReport>), E> {
    let mut mapper = WeightMapper {
        path: Vec::new(),
        kinds,
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

/// Samples every layer of the given `kinds` in `model` that `filter` accepts, in place
/// (`&[LayerKind::Linear]` for the `Linear`s, [`LayerKind::ALL`] for `Conv2d` filters too):
/// each weight becomes its estimate `scale · q`, stored densely, so the model keeps its type
/// (for accuracy studies, or to export). For the sparse integer layers themselves use
/// [`compress()`](crate::compress()).
///
/// Layer `i` (in visiting order, of any kind) samples with the seed `config.seed + i`, so
/// layers of the same shape do not share their uniforms.
///
/// # Errors
/// As [`SampledWeights::sample`], naming the layer by its path.
pub fn sample_weights<M: Module>(
    model: M,
    kinds: &[LayerKind],
    config: &SamplingConfig,
    filter: impl Fn(&str) -> bool,
) -> Result<(M, Vec<LayerReport>), SampledLinearError> {
    config.check()?;
    let method = Method::sampled(config);
    map_weights(model, kinds, filter, |w: LayerRows<'_>| {
        let config = config
            .clone()
            .with_seed(config.seed.wrapping_add(w.number as u64));
        let sampled = SampledWeights::sample(w.rows, w.d_output, w.d_input, &config, w.layer)?;
        Ok((sampled.dequantize(), sampled.report(w.layer, method)))
    })
}

struct WeightMapper<'a, 't, E> {
    /// (name, container type) of every module entered.
    path: Vec<(String, String)>,
    kinds: &'a [LayerKind],
    filter: &'a dyn Fn(&str) -> bool,
    transform: &'a mut Transform<'t, E>,
    reports: Vec<LayerReport>,
    error: Option<E>,
}

impl<E> ModuleMapper for WeightMapper<'_, '_, E> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let kind = match self.path.last() {
            Some((name, container)) if name == "weight" => self
                .kinds
                .iter()
                .copied()
                .find(|kind| kind.container() == container),
            _ => None,
        };
        let shape_fits = match kind {
            Some(LayerKind::Linear) => D == 2,
            Some(LayerKind::Conv2d) => D == 4,
            None => false,
        };
        if !shape_fits || self.error.is_some() {
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
            let device = tensor.device();
            // Output-major rows: a Linear stores [d_input, d_output], a Conv2d its filters.
            let (rows, d_output, d_input) = match kind {
                Some(LayerKind::Linear) => {
                    output_major(&tensor.clone().reshape([dims[0], dims[1]]))
                }
                _ => {
                    let d_output = dims[0];
                    let d_input = dims[1..].iter().product();
                    let values = mcnn_backends::host_values(tensor.clone());
                    (values, d_output, d_input)
                }
            };
            let rows_of_layer = LayerRows {
                layer: &layer,
                rows: &rows,
                d_output,
                d_input,
                number,
            };
            match (self.transform)(rows_of_layer) {
                Ok((rows, report)) => {
                    self.reports.push(report);
                    match kind {
                        Some(LayerKind::Linear) => {
                            input_major_tensor(&rows, d_output, d_input, &device).reshape(dims)
                        }
                        _ => Tensor::<1>::from_data(
                            TensorData::new(rows, [d_output * d_input]),
                            &device,
                        )
                        .reshape(dims),
                    }
                }
                Err(error) => {
                    self.error = Some(error);
                    tensor
                }
            }
        })
    }
}
