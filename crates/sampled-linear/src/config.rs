//! How a layer is sampled: the budget, the granularity, the scheme and the seed.

use burn::config::Config;
use mcnn_sequences::counts::Scheme;

use crate::error::SampledLinearError;

/// Which weights share one distribution, and so one scale.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One distribution per output neuron (a row of `Wᵀ`): the slides' choice. Every neuron
    /// gets its own scale `S_o / N`.
    PerNeuron,
    /// One distribution over the whole weight matrix (MCQ): one scale for the layer.
    PerLayer,
}

impl Granularity {
    /// `per neuron` or `per layer`, for tables (`Display` is Burn's JSON of the config).
    pub fn name(self) -> &'static str {
        match self {
            Self::PerNeuron => "per neuron",
            Self::PerLayer => "per layer",
        }
    }
}

/// How many samples `N` a group gets.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum Budget {
    /// A sampling amount `K` relative to the group's size: `N = ⌈K · n⌉` for a group of `n`
    /// weights (`n = d_input` per neuron, `d_input · d_output` per layer). Must be finite and
    /// positive.
    Amount(f64),
    /// A fixed number of samples per output neuron: `N = c` per neuron, `c · d_output` per
    /// layer. Makes the cost linear in the number of neurons, whatever `d_input`.
    PerNeuron(usize),
}

/// Where the `N` samples of a group are placed in `[0, 1)` before inversion of the CDF of
/// `|w| / Σ|w|` (see `mcnn_sequences::counts`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum SamplingScheme {
    /// One uniform sample per stratum `[s/N, (s+1)/N)`: counts within ±2 of `N p_j`.
    Jittered,
    /// One shift for all strata: counts `⌊N p_j⌋` or `⌈N p_j⌉`; every weight with
    /// `|w_j| ≥ S/N` survives.
    Systematic,
    /// Independent uniform samples: multinomial counts.
    Iid,
    /// The van der Corput sequence with a random rotation.
    LowDiscrepancy,
    /// Threshold sampling (`mcnn_sequences::threshold`): the weights above a threshold `τ`
    /// kept deterministically (rounded to multiples of `τ`, never to 0), the tail sampled
    /// systematically at the same scale; `N` is about the number of non-zeros, not of samples.
    Threshold,
}

impl SamplingScheme {
    /// The sampler of `mcnn-sequences` behind this scheme; `None` for
    /// [`Threshold`](Self::Threshold), which is not a way of placing `N` samples.
    pub fn scheme(self) -> Option<Scheme> {
        match self {
            Self::Jittered => Some(Scheme::Jittered),
            Self::Systematic => Some(Scheme::Systematic),
            Self::Iid => Some(Scheme::Iid),
            Self::LowDiscrepancy => Some(Scheme::LowDiscrepancy),
            Self::Threshold => None,
        }
    }

    /// `jittered`, `systematic`, `iid`, `low-discrepancy` or `threshold`, for tables
    /// (`Display` is Burn's JSON of the config).
    pub fn name(self) -> &'static str {
        match self {
            Self::Jittered => "jittered",
            Self::Systematic => "systematic",
            Self::Iid => "iid",
            Self::LowDiscrepancy => "low-discrepancy",
            Self::Threshold => "threshold",
        }
    }
}

/// Configuration of the Monte Carlo quantization of a `Linear` layer.
///
/// Mordido, Van Keirsbilck and Keller, *Instant Quantization of Neural Networks using Monte
/// Carlo Methods* (arXiv:1905.12253): sampling `N` weights with probability `|w_j| / S`
/// and counting hits `c_j` gives `w ≈ (S/N) · q` with small signed integers
/// `q_j = sign(w_j) · c_j`.
#[derive(Config, Debug)]
pub struct SamplingConfig {
    /// The number of samples per group.
    pub budget: Budget,
    /// Per neuron (default) or per layer.
    #[config(default = "Granularity::PerNeuron")]
    pub granularity: Granularity,
    /// Jittered (default), systematic, iid or low-discrepancy.
    #[config(default = "SamplingScheme::Jittered")]
    pub scheme: SamplingScheme,
    /// The seed of the samples: the same seed gives the same counts.
    #[config(default = 0)]
    pub seed: u64,
}

impl SamplingConfig {
    /// Checks the budget.
    ///
    /// # Errors
    /// [`SampledLinearError::InvalidConfig`] naming `budget` for an amount that is not
    /// finite and positive, or zero samples per neuron.
    pub fn check(&self) -> Result<(), SampledLinearError> {
        match self.budget {
            Budget::Amount(k) if !(k.is_finite() && k > 0.0) => Err(SampledLinearError::config(
                "budget",
                format!("Amount({k})"),
                "a finite sampling amount K > 0 (N = ⌈K·n⌉)",
            )),
            Budget::PerNeuron(0) => Err(SampledLinearError::config(
                "budget",
                "PerNeuron(0)",
                "at least 1 sample per neuron",
            )),
            _ => Ok(()),
        }
    }

    /// The number of samples of one group for a layer of `d_output` neurons of `d_input`
    /// inputs: per neuron, the samples of each neuron; per layer, of the whole layer.
    ///
    /// # Errors
    /// [`SampledLinearError::InvalidConfig`] naming `budget` (or `d_input`, `d_output`) when
    /// the number does not fit a `usize` (the sampler then refuses any number above its own
    /// limit, with a clear error too).
    pub fn samples(&self, d_input: usize, d_output: usize) -> Result<usize, SampledLinearError> {
        let (group, neurons) = match self.granularity {
            Granularity::PerNeuron => (d_input, 1),
            Granularity::PerLayer => (
                d_input.checked_mul(d_output).ok_or_else(|| {
                    SampledLinearError::config(
                        "d_input · d_output",
                        format!("{d_input} · {d_output}"),
                        "a number of weights that fits a usize",
                    )
                })?,
                d_output,
            ),
        };
        match self.budget {
            // `as` saturates: an amount too large for a usize stays too large for the sampler.
            Budget::Amount(k) => Ok(((k * group as f64).ceil() as usize).max(1)),
            Budget::PerNeuron(c) => c.checked_mul(neurons).ok_or_else(|| {
                SampledLinearError::config(
                    "budget",
                    format!("PerNeuron({c}) for {neurons} neurons per layer"),
                    "a number of samples per layer that fits a usize",
                )
            }),
        }
    }

    /// The method without its budget, for tables and plots: `jittered per neuron`.
    pub fn method(&self) -> String {
        format!("{} {}", self.scheme.name(), self.granularity.name())
    }

    /// A short description for tables and plots: `jittered per neuron, K = 0.5`.
    pub fn describe(&self) -> String {
        crate::method::Method::sampled(self).to_string()
    }
}
