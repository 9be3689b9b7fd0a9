//! What sampling changes in a model during training ([`ModelStats`]), as burn-train metrics
//! ([`ModelStatMetric`]).

use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use crate::models::{ModelStat, ModelStats};

/// A [`ModelStat`] as a burn-train numeric metric: the value at each step, its mean over the
/// epoch.
#[derive(Clone)]
pub struct ModelStatMetric {
    stat: ModelStat,
    name: MetricName,
    state: NumericMetricState,
    /// Steps with a value since the last clear.
    updates: usize,
}

impl ModelStatMetric {
    /// The metric of `stat`.
    pub fn new(stat: ModelStat) -> Self {
        Self {
            stat,
            name: Arc::new(stat.name().to_string()),
            state: NumericMetricState::default(),
            updates: 0,
        }
    }

    /// The entry burn-train logs (its serialized value) with the values written in fixed
    /// point (burn-train's own formatting turns small values such as phase 0 into `0.00e0`).
    fn entry(&self, final_entry: bool) -> SerializedEntry {
        let precision = match self.stat {
            ModelStat::NonZeroFraction => 4,
            ModelStat::BitsPerWeight => 3,
            // The epoch's mean phase is a fraction.
            ModelStat::PartitionPhase => 2,
            ModelStat::PathWeights => 0,
        };
        let format = FormatOptions::new(self.name.clone());
        let serialized = match final_entry {
            true => self.state.compute_final(format),
            false => self.state.compute_update(format),
        }
        .serialized;
        let running = self.state.running_value().current();
        let current = self.state.current_value().current();
        SerializedEntry::new(
            format!("epoch {running:.precision$} - batch {current:.precision$}"),
            serialized,
        )
    }
}

impl Metric for ModelStatMetric {
    type Input = ModelStats;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        stats: &ModelStats,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        Ok(match stats.value(self.stat) {
            Some(value) => {
                self.state.update(value, 1);
                self.updates += 1;
                self.entry(false)
            }
            None => SerializedEntry::not_available(None),
        })
    }

    /// The epoch's mean; not available (rather than 0/0) when the model never had the value.
    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(match self.updates {
            0 => SerializedEntry::not_available(None),
            _ => self.entry(true),
        })
    }

    fn clear(&mut self) {
        self.state.reset();
        self.updates = 0;
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for ModelStatMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
