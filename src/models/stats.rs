//! What sampling changes in a model during training ([`ModelStats`]): what the training
//! metrics (`crate::learner::ModelStatMetric`) report.

use burn::module::Module;
use sampled_linear::{ResampledLinear, StoredSize, compressible_layers};

/// What sampling changes in a model, as the training metrics report it; `None` where the
/// model has no such part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Its sampled layers ([`sampled_linear::LinearLayer`] and
    /// [`sampled_conv::Conv2dLayer`] once sampled) or the last samples of its re-sampled
    /// layers ([`sampled_linear::ResampledLinear`]), together.
    pub sampled: Option<StoredSize>,
    /// A path network's trained weights (one per edge).
    pub path_weights: Option<usize>,
    /// Where a partition dropout is in its cycle.
    pub partition_phase: Option<PartitionPhase>,
}

/// Where a partition dropout is in its cycle of `partitions` steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionPhase {
    /// The phase of the next training step, in `0..partitions`.
    pub phase: usize,
    /// `P`, the cycle's length.
    pub partitions: usize,
}

impl ModelStats {
    /// The sampled layers of `model` (found as `sampled_linear::compress` finds them); `None`
    /// in `sampled` while all are dense.
    pub fn of_layers<M: Module>(model: &M) -> Self {
        let sampled = compressible_layers(model)
            .into_iter()
            .filter(|layer| layer.sampled)
            .map(|layer| layer.size)
            .reduce(|a, b| a + b);
        Self {
            sampled,
            ..Self::default()
        }
    }

    /// The last training step's samples of `layers` (`None` in `sampled` before the first).
    pub fn of_resampled(layers: &[ResampledLinear]) -> Self {
        Self {
            sampled: layers
                .iter()
                .filter_map(ResampledLinear::last_sample)
                .reduce(|a, b| a + b),
            ..Self::default()
        }
    }

    /// The value `stat` reports, if the model has that part.
    pub fn value(&self, stat: ModelStat) -> Option<f64> {
        match stat {
            ModelStat::NonZeroFraction => self.sampled.map(|s| s.nonzero_fraction()),
            ModelStat::BitsPerWeight => self.sampled.map(|s| s.bits_per_weight()),
            ModelStat::PathWeights => self.path_weights.map(|n| n as f64),
            ModelStat::PartitionPhase => self.partition_phase.map(|p| p.phase as f64),
        }
    }
}

/// One of the [`ModelStats`] as a burn-train metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelStat {
    /// Non-zero fraction of the sampled layers.
    NonZeroFraction,
    /// Stored bits per weight of the sampled layers.
    BitsPerWeight,
    /// Trained weights of a path network.
    PathWeights,
    /// The partition cycle's phase.
    PartitionPhase,
}

impl ModelStat {
    /// Every stat.
    pub const ALL: [ModelStat; 4] = [
        Self::NonZeroFraction,
        Self::BitsPerWeight,
        Self::PathWeights,
        Self::PartitionPhase,
    ];

    /// The metric's name on the dashboard and in the logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::NonZeroFraction => "Sampled non-zero fraction",
            Self::BitsPerWeight => "Sampled bits per weight",
            Self::PathWeights => "Path weights",
            Self::PartitionPhase => "Partition phase",
        }
    }

    /// The stats that `stats` has a value for: the metrics worth registering for a model.
    pub fn present_in(stats: &ModelStats) -> Vec<ModelStat> {
        Self::ALL
            .into_iter()
            .filter(|stat| stats.value(*stat).is_some())
            .collect()
    }
}
