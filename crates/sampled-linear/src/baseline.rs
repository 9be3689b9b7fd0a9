//! The baselines' parameters ([`Baseline`]): what a user would otherwise reach for, without
//! retraining. Applied in `baselines`.

use crate::config::Granularity;
use crate::error::SampledLinearError;

/// A baseline compression of a layer's weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    /// Keep the largest `|w|`: a `keep` fraction of each neuron's weights, or of the layer's.
    Magnitude {
        /// The fraction of weights kept, in `(0, 1]`.
        keep: f64,
        /// Per neuron or per layer.
        granularity: Granularity,
    },
    /// Keep a uniformly random `keep` fraction of each neuron's weights (seeded), unscaled.
    Random {
        /// The fraction of weights kept, in `(0, 1]`.
        keep: f64,
        /// The seed of the choice.
        seed: u64,
    },
    /// Ternary weight networks' thresholding (Li, Zhang and Liu 2016), per layer:
    /// `Δ = 0.7 · mean|w|`, weights with `|w| > Δ` become `±α` with `α` their mean `|w|`,
    /// the others 0.
    Ternary,
    /// Symmetric uniform rounding to `bits` bits, one scale per layer:
    /// `s = max|w| / (2^(bits−1) − 1)`, `w ↦ s · round(w / s)`.
    Uniform {
        /// Bits per weight, in `2..=16`.
        bits: u32,
    },
    /// Pruning then quantization, without retraining (the first two stages of Han, Mao and
    /// Dally's *Deep Compression*): per neuron, the largest `keep` fraction of the weights kept,
    /// then rounded to signed `bits`-bit integers times one scale per neuron
    /// (`s = max|w| / (2^(bits−1) − 1)`); survivors that round to 0 are dropped. Integers times
    /// scales, like a sampled layer: stored in the same compact format, so the two compare at
    /// equal bytes ([`LayerReport::stored_bits`](crate::LayerReport::stored_bits)).
    PruneQuantize {
        /// The fraction of each neuron's weights kept, in `(0, 1]`.
        keep: f64,
        /// Bits of the integers, in `2..=16`.
        bits: u32,
    },
}

impl Baseline {
    /// A short name for tables and plots.
    pub fn describe(&self) -> String {
        match self {
            Self::Magnitude { granularity, .. } => {
                format!("magnitude {}", granularity.name())
            }
            Self::Random { .. } => "random per neuron".into(),
            Self::Ternary => "TWN ternary".into(),
            Self::Uniform { bits } => format!("uniform {bits}-bit"),
            Self::PruneQuantize { bits, .. } => format!("magnitude + {bits}-bit per neuron"),
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`SampledLinearError::InvalidConfig`] naming `keep` outside `(0, 1]` or `bits`
    /// outside `2..=16`.
    pub fn check(&self) -> Result<(), SampledLinearError> {
        match *self {
            Self::Magnitude { keep, .. }
            | Self::Random { keep, .. }
            | Self::PruneQuantize { keep, .. }
                if !(keep > 0.0 && keep <= 1.0) =>
            {
                Err(SampledLinearError::config(
                    "keep",
                    keep,
                    "a fraction in (0, 1]",
                ))
            }
            Self::Uniform { bits } | Self::PruneQuantize { bits, .. }
                if !(2..=16).contains(&bits) =>
            {
                Err(SampledLinearError::config("bits", bits, "2..=16"))
            }
            _ => Ok(()),
        }
    }
}
