//! Training the reference models (or any [`ImageClassifier`]) with burn-train: the
//! [`Classifier`] wrapper implements `TrainStep` / `InferenceStep` with a
//! [`ClassificationOutput`], [`ModelStatMetric`] reports what sampling changes during training
//! (non-zero fraction and stored bits per weight of sampled layers, a path network's trained
//! weights, the partition cycle's phase), and [`fit`] runs a checkpointed, resumable
//! `SupervisedTraining`.
//!
//! Both train the same way: with a constant learning rate a burn-train run takes the
//! hand-written loop's steps (`tests/learner.rs`). [`crate::training`]'s loop stays for what
//! `SupervisedTraining` does not give: per-epoch reports handed to the caller while training
//! goes on (train seconds without the evaluation, the first steps' losses that the sweep
//! compares across backends), progress drawn under the sweep's bar for the whole grid, and no
//! run directory or event thread per model when a sweep trains hundreds of small ones in one
//! process. The recorded experiments (docs/RESULTS.md) were produced by it.

mod metrics;
mod renderer;

pub use crate::models::{ModelStat, ModelStats, PartitionPhase};
pub use metrics::ModelStatMetric;
pub use renderer::ProgressRenderer;

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset as _;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::AdamConfig;
use burn::tensor::{Device, ExecutionError};
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{AccuracyInput, AccuracyMetric, Adaptor, LossInput, LossMetric};
use burn::train::{
    ClassificationOutput, InferenceStep, ItemLazy, Learner, SupervisedTraining, TrainOutput,
    TrainStep,
};
use mcnn_datasets::ImageBatch;

use crate::models::ImageClassifier;
use crate::training::{TrainingData, evaluate};

/// An [`ImageClassifier`] as burn-train trains it: cross-entropy on the logits, and the
/// model's [`ModelStats`] with every step's output when asked for
/// ([`with_stats`](Self::with_stats)).
#[derive(Module, Debug)]
pub struct Classifier<M: ImageClassifier> {
    /// The network.
    pub model: M,
    /// Whether every step reads the model's [`ModelStats`] (a re-sampled layer's costs a pass
    /// over its weights).
    #[module(skip)]
    pub stats: bool,
}

impl<M: ImageClassifier> Classifier<M> {
    /// Wraps `model`; its steps report no stats.
    pub fn new(model: M) -> Self {
        Self {
            model,
            stats: false,
        }
    }

    /// This classifier, its steps reporting the model's [`ModelStats`] (for
    /// [`ModelStatMetric`]s).
    pub fn with_stats(self) -> Self {
        Self {
            stats: true,
            ..self
        }
    }

    /// The model's stats if asked for, else none.
    fn stats(&self) -> ModelStats {
        match self.stats {
            true => self.model.stats(),
            false => ModelStats::default(),
        }
    }

    /// # Shapes
    /// - `batch.images`: `[batch, channels, height, width]`, `batch.targets`: `[batch]`
    /// - output: the loss `[1]`, the logits `[batch, classes]` and the targets
    fn classify(&self, batch: ImageBatch) -> ClassificationOutput {
        let logits = self.model.forward(batch.images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<M: ImageClassifier> TrainStep for Classifier<M> {
    type Input = ImageBatch;
    type Output = ClassifierOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<ClassifierOutput> {
        // The partition phase this step uses is read before the forward pass, the samples it
        // draws after.
        let phase = self.stats().partition_phase;
        let classification = self.classify(batch);
        let stats = ModelStats {
            partition_phase: phase,
            ..self.stats()
        };
        let grads = classification.loss.backward();
        TrainOutput::new(
            self,
            grads,
            ClassifierOutput {
                classification,
                stats,
            },
        )
    }
}

impl<M: ImageClassifier> InferenceStep for Classifier<M> {
    type Input = ImageBatch;
    type Output = ClassifierOutput;

    fn step(&self, batch: ImageBatch) -> ClassifierOutput {
        ClassifierOutput {
            stats: self.stats(),
            classification: self.classify(batch),
        }
    }
}

/// A step's output: burn-train's [`ClassificationOutput`] (for its loss and accuracy
/// metrics) and the model's [`ModelStats`] (for [`ModelStatMetric`]).
pub struct ClassifierOutput {
    /// Loss, logits and targets.
    pub classification: ClassificationOutput,
    /// The model at the step (all `None` unless the classifier reports stats).
    pub stats: ModelStats,
}

impl ItemLazy for ClassifierOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(Self {
            classification: self.classification.sync()?,
            stats: self.stats,
        })
    }
}

impl Adaptor<AccuracyInput> for ClassifierOutput {
    fn adapt(&self) -> AccuracyInput {
        self.classification.adapt()
    }
}

impl Adaptor<LossInput> for ClassifierOutput {
    fn adapt(&self) -> LossInput {
        self.classification.adapt()
    }
}

impl Adaptor<ModelStats> for ClassifierOutput {
    fn adapt(&self) -> ModelStats {
        self.stats
    }
}

/// Hyper-parameters of [`fit`].
#[derive(Config, Debug)]
pub struct LearnerConfig {
    /// Epochs this run trains (after the resumed checkpoint's, when resuming).
    #[config(default = 1)]
    pub epochs: usize,
    /// Images per training step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's learning rate (constant: a resumed run continues with it).
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Adam's epsilon (PyTorch's default, as in [`crate::training`]).
    #[config(default = 1e-8)]
    pub adam_epsilon: f32,
    /// Seed of the shuffling of the training set; a run resumed after epoch `e` shuffles with
    /// `seed + e`.
    #[config(default = 42)]
    pub seed: u64,
    /// Images per validation and test batch.
    #[config(default = 500)]
    pub eval_batch_size: usize,
    /// Checkpoints kept: the last ones.
    #[config(default = 2)]
    pub keep_checkpoints: usize,
}

impl LearnerConfig {
    /// Checks the hyper-parameters: every count at least 1, a finite learning rate of at
    /// least 0, a positive finite epsilon. The error names the field and its value.
    pub fn check(&self) -> Result<(), String> {
        crate::training::check_counts(&[
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("eval_batch_size", self.eval_batch_size),
            ("keep_checkpoints", self.keep_checkpoints),
        ])?;
        if !(self.learning_rate >= 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate must be finite and at least 0, got {}",
                self.learning_rate
            ));
        }
        if !(self.adam_epsilon > 0.0 && self.adam_epsilon.is_finite()) {
            return Err(format!(
                "adam_epsilon must be positive and finite, got {}",
                self.adam_epsilon
            ));
        }
        Ok(())
    }
}

/// What [`fit`] did.
#[derive(Debug)]
pub struct LearnerReport<M> {
    /// The trained model (inference mode).
    pub model: M,
    /// The checkpoint epoch the run resumed from (`None`: a new run).
    pub resumed_from: Option<usize>,
    /// The last epoch trained and checkpointed (before the planned one if interrupted).
    pub last_epoch: usize,
    /// Whether the run was stopped before its last epoch (burn-train's interrupter: the
    /// dashboard's quit, say).
    pub interrupted: bool,
    /// Accuracy on the test set after training, in `[0, 1]`.
    pub test_accuracy: f64,
    /// Where the checkpoints are (`model-<epoch>.bpk`, `optim-…`, `scheduler-…`).
    pub checkpoint_dir: PathBuf,
}

/// The checkpoints' directory of a run in `artifact_dir`.
pub fn checkpoint_dir(artifact_dir: &Path) -> PathBuf {
    artifact_dir.join("checkpoint")
}

/// The last epoch with a complete model, optimizer and scheduler checkpoint in
/// `artifact_dir`, if any.
pub fn last_checkpoint(artifact_dir: &Path) -> Option<usize> {
    let dir = checkpoint_dir(artifact_dir);
    let epochs = std::fs::read_dir(&dir).ok()?.filter_map(|entry| {
        let name = entry.ok()?.file_name().into_string().ok()?;
        name.strip_prefix("model-")?
            .strip_suffix(".bpk")?
            .parse::<usize>()
            .ok()
    });
    epochs
        .filter(|epoch| {
            ["optim", "scheduler"]
                .iter()
                .all(|part| dir.join(format!("{part}-{epoch}.bpk")).is_file())
        })
        .max()
}

/// Trains `model` on `data` through burn-train's `SupervisedTraining` (Adam, cross-entropy;
/// validation on the test split), checkpointing every epoch into `artifact_dir`, and
/// evaluates it on the test set.
///
/// With `resume`, the run loads the last checkpoint in `artifact_dir` (model, optimizer and
/// scheduler) and trains `config.epochs` more epochs; without it, `artifact_dir` must hold no
/// checkpoint (a new run does not overwrite another). `model` must be built as the
/// checkpointed one was (same configuration and seed). `metrics` adds [`ModelStatMetric`]s
/// to the loss and accuracy. `device` is the plain device (autodiff is added for training).
///
/// # Errors
/// A bad configuration, an empty split, a resume without a checkpoint or from one that does not
/// load into `model`, a new run into a directory that holds one (naming the parameter and the
/// directory), or an error that stopped the training.
pub fn fit<M: ImageClassifier + 'static>(
    model: M,
    data: &TrainingData,
    config: &LearnerConfig,
    artifact_dir: &Path,
    resume: bool,
    metrics: &[ModelStat],
    device: &Device,
) -> Result<LearnerReport<M>, String> {
    config.check()?;
    if data.train_set.is_empty() || data.test_set.is_empty() {
        return Err(format!(
            "data: {} training and {} test images, at least 1 of each needed",
            data.train_set.len(),
            data.test_set.len()
        ));
    }
    let resumed_from = match (resume, last_checkpoint(artifact_dir)) {
        (true, None) => {
            return Err(format!(
                "resume: no checkpoint in {} to resume from (train without resume first)",
                checkpoint_dir(artifact_dir).display()
            ));
        }
        (false, Some(epoch)) => {
            return Err(format!(
                "artifact_dir {} holds a run's checkpoints up to epoch {epoch}: resume it, or \
                 choose another directory (or delete this one) for a new run",
                artifact_dir.display()
            ));
        }
        (_, last) => last,
    };
    let start = resumed_from.unwrap_or(0);
    let mut model = Classifier::new(model);
    if !metrics.is_empty() {
        model = model.with_stats();
    }
    if let Some(epoch) = resumed_from {
        // burn-train panics on a checkpoint it cannot load: try the model's here first.
        let path = checkpoint_dir(artifact_dir).join(format!("model-{epoch}.bpk"));
        model.clone().try_load_file(&path).map_err(|e| {
            format!(
                "resume: checkpoint {} does not load into this model (built another way, or a \
                 file cut short; delete epoch {epoch}'s files to resume from the one before): {e}",
                path.display()
            )
        })?;
    }
    std::fs::create_dir_all(artifact_dir)
        .map_err(|e| format!("artifact_dir {}: {e}", artifact_dir.display()))?;

    let train_loader = DataLoaderBuilder::new(data.batcher.clone())
        .batch_size(config.batch_size)
        .shuffle(config.seed.wrapping_add(start as u64))
        .num_workers(1)
        .build(data.train_set.clone());
    let valid_loader = DataLoaderBuilder::new(data.batcher.clone())
        .batch_size(config.eval_batch_size)
        .build(data.test_set.clone());
    let mut training = SupervisedTraining::new(artifact_dir, train_loader, valid_loader)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_train_numeric(AccuracyMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(config.keep_checkpoints))
        .num_epochs(start + config.epochs)
        .summary();
    for &stat in metrics {
        training = training.metric_train_numeric(ModelStatMetric::new(stat));
    }
    if let Some(epoch) = resumed_from {
        training = training.checkpoint(epoch);
    }
    let renderer = renderer::for_terminal(training.interrupter(), resumed_from);
    training = training.renderer(renderer);
    let optimizer = AdamConfig::new().with_epsilon(config.adam_epsilon).init();
    // In training mode on the autodiff device, as the hand-written loop starts (burn-train
    // only forks the model there).
    let model = model.fork(&device.clone().autodiff()).train();
    let learner = Learner::new(model, optimizer, config.learning_rate);
    let result = training.launch(learner);
    if let Some(error) = result.error {
        return Err(format!("training stopped by an error: {error}"));
    }
    // The last checkpoint is the last epoch trained, also after an interruption.
    let last_epoch = last_checkpoint(artifact_dir).unwrap_or(start);
    let model = result.model.model;
    // The last validation pass again, on the whole test set with the evaluation the rest of
    // mcnn uses.
    let test_accuracy = evaluate(
        &model,
        &data.test_set,
        &data.batcher,
        config.eval_batch_size,
        device,
    );
    Ok(LearnerReport {
        model,
        resumed_from,
        last_epoch,
        interrupted: result.interrupted.is_some(),
        test_accuracy,
        checkpoint_dir: checkpoint_dir(artifact_dir),
    })
}
