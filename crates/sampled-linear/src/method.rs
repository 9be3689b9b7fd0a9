//! How a layer's weights were made ([`Method`]): what a [`LayerReport`](crate::LayerReport)
//! records and its tables print.

use std::fmt;

use crate::baseline::Baseline;
use crate::config::{Budget, Granularity, SamplingConfig, SamplingScheme};

/// How a layer's weights were made: Monte Carlo quantization as configured, or a baseline.
/// Displayed as in the tables: `jittered per neuron, K = 0.5`, `magnitude per layer`, …
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Sampled.
    Sampled {
        /// The sampling scheme.
        scheme: SamplingScheme,
        /// Per neuron or per layer.
        granularity: Granularity,
        /// Samples per group.
        budget: Budget,
    },
    /// A baseline.
    Baseline(Baseline),
}

impl Method {
    /// The method of sampling as `config` says (its seed aside).
    pub fn sampled(config: &SamplingConfig) -> Self {
        Self::Sampled {
            scheme: config.scheme,
            granularity: config.granularity,
            budget: config.budget,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sampled {
                scheme,
                granularity,
                budget,
            } => {
                write!(f, "{} {}, ", scheme.name(), granularity.name())?;
                match budget {
                    Budget::Amount(k) => write!(f, "K = {k}"),
                    Budget::PerNeuron(c) => write!(f, "{c} per neuron"),
                }
            }
            Self::Baseline(baseline) => f.write_str(&baseline.describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displayed_as_the_tables_say() {
        let config = SamplingConfig::new(Budget::Amount(0.5));
        assert_eq!(
            Method::sampled(&config).to_string(),
            "jittered per neuron, K = 0.5"
        );
        let per_layer = SamplingConfig::new(Budget::PerNeuron(3))
            .with_granularity(Granularity::PerLayer)
            .with_scheme(SamplingScheme::Systematic);
        assert_eq!(
            Method::sampled(&per_layer).to_string(),
            "systematic per layer, 3 per neuron"
        );
        assert_eq!(
            Method::Baseline(Baseline::Uniform { bits: 4 }).to_string(),
            "uniform 4-bit"
        );
    }
}
