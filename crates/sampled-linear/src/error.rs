use std::fmt;

use mcnn_backends::ParamError;
use mcnn_sequences::SamplingError;

/// Why a layer (or a configuration) could not be sampled.
#[derive(Debug, Clone, PartialEq)]
pub enum SampledLinearError {
    /// A configuration value out of its range (the parameter, as named in the API:
    /// `budget`, `keep_fraction`, …; its value; what is allowed).
    InvalidConfig(ParamError),
    /// A weight of a layer is NaN or infinite.
    NonFiniteWeight {
        /// The layer's name (its path in the model, or the name passed).
        layer: String,
        /// The output neuron (column of Burn's `[d_input, d_output]` weight).
        output: usize,
        /// The input (row of Burn's weight).
        input: usize,
        /// The weight.
        value: f32,
    },
    /// The estimate `scale · q` of a weight does not fit an `f32` (weights near `f32::MAX`):
    /// the scale fits, but a count above 1 times it does not.
    EstimateOverflow {
        /// The layer's name.
        layer: String,
        /// The output neuron (or filter).
        output: usize,
        /// Its scale.
        scale: f32,
        /// Its largest `|q|`.
        max_abs_q: u32,
    },
    /// The sampler refused a layer's weights, e.g. a scale `Σ|w| / N` below the smallest
    /// normal `f32`.
    Sampling {
        /// The layer's name.
        layer: String,
        /// What the sampler said.
        source: SamplingError,
    },
}

impl SampledLinearError {
    pub(crate) fn config(
        parameter: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Self::InvalidConfig(ParamError::new(parameter, value, allowed))
    }
}

impl fmt::Display for SampledLinearError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(error) => error.fmt(f),
            Self::NonFiniteWeight {
                layer,
                output,
                input,
                value,
            } => write!(
                f,
                "layer `{layer}`: weight of input {input} to output {output} is {value}; \
                 sampling needs finite weights"
            ),
            Self::EstimateOverflow {
                layer,
                output,
                scale,
                max_abs_q,
            } => write!(
                f,
                "layer `{layer}`: output {output}: the estimate scale · q = {scale:e} · \
                 {max_abs_q} overflows f32; scale the weights down (they are near f32::MAX)"
            ),
            Self::Sampling { layer, source } => write!(f, "layer `{layer}`: {source}"),
        }
    }
}

/// A NaN or infinite weight, named by layer, output and input.
pub(crate) fn check_finite(
    rows: &[f32],
    d_input: usize,
    layer: &str,
) -> Result<(), SampledLinearError> {
    match rows.iter().position(|w| !w.is_finite()) {
        None => Ok(()),
        Some(index) => Err(SampledLinearError::NonFiniteWeight {
            layer: layer.to_string(),
            output: index / d_input,
            input: index % d_input,
            value: rows[index],
        }),
    }
}

impl std::error::Error for SampledLinearError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sampling { source, .. } => Some(source),
            _ => None,
        }
    }
}
