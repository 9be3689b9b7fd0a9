//! Progress of a burn-train run on stderr: a bar per split (drawn on a terminal only) and a
//! line per epoch with the metrics' epoch values; burn-train's terminal dashboard instead when
//! the `tui` feature is on and stdout is a terminal.

use std::collections::HashMap;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricEntry, MetricId};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{Interrupter, LearnerSummary};
use indicatif::{ProgressBar, ProgressStyle};

/// The renderer [`fit`](super::fit) uses: burn-train's dashboard with the `tui` feature on a
/// terminal, else a [`ProgressRenderer`].
pub(crate) fn for_terminal(
    #[cfg_attr(not(feature = "tui"), allow(unused_variables))] interrupter: Interrupter,
    #[cfg_attr(not(feature = "tui"), allow(unused_variables))] checkpoint: Option<usize>,
) -> Box<dyn MetricsRenderer> {
    #[cfg(feature = "tui")]
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return burn::train::renderer::default_renderer(interrupter, checkpoint);
    }
    Box::new(ProgressRenderer::default())
}

/// Training progress on stderr: a bar per split, then one line per epoch with the last
/// formatted value of every metric, training and validation.
#[derive(Default)]
pub struct ProgressRenderer {
    names: HashMap<MetricId, String>,
    train: Vec<(String, String)>,
    valid: Vec<(String, String)>,
    epochs: usize,
    epoch: usize,
    bar: Option<ProgressBar>,
}

impl ProgressRenderer {
    /// Keeps `entry`'s text as the latest of its metric in `values`.
    fn keep(
        names: &HashMap<MetricId, String>,
        values: &mut Vec<(String, String)>,
        entry: MetricEntry,
    ) {
        let name = names
            .get(&entry.metric_id)
            .cloned()
            .unwrap_or_else(|| format!("{:?}", entry.metric_id));
        let text = entry.serialized_entry.formatted;
        match values.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = text,
            None => values.push((name, text)),
        }
    }

    fn entry(state: MetricState) -> MetricEntry {
        match state {
            MetricState::Generic(entry) | MetricState::Numeric(entry, _) => entry,
        }
    }

    fn finish_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl MetricsRendererTraining for ProgressRenderer {
    fn update_train(&mut self, state: MetricState) {
        Self::keep(&self.names, &mut self.train, Self::entry(state));
    }

    fn update_valid(&mut self, state: MetricState) {
        Self::keep(&self.names, &mut self.valid, Self::entry(state));
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        self.finish_bar();
        if let Some(summary) = summary {
            eprintln!("{summary}");
        }
        Ok(())
    }
}

impl MetricsRendererEvaluation for ProgressRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        Self::keep(&self.names, &mut self.valid, Self::entry(state));
    }
}

impl TrainingProgressLogger for ProgressRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.finish_bar();
        let line = |values: &[(String, String)]| {
            values
                .iter()
                .map(|(name, text)| format!("{name} {text}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        eprintln!(
            "epoch {epoch}/{}: train {}; valid {}",
            self.epochs,
            line(&self.train),
            line(&self.valid)
        );
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.finish_bar();
        let bar = ProgressBar::new(total_items as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} items, eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{} {split}", self.epoch, self.epochs));
        self.bar = Some(bar);
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(items_processed as u64);
        }
    }

    fn end_split(&mut self) {
        self.finish_bar();
    }

    fn end(&mut self) {
        self.finish_bar();
    }

    // Per-step ticks ("Iteration"): the bar shows them.
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for ProgressRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, name: &str, total_items: usize) {
        self.start_split(name, total_items);
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        self.update_split(items_processed);
    }

    fn end_test(&mut self) {
        self.finish_bar();
    }

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for ProgressRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
