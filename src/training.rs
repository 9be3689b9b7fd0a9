//! The small supervised training loop the examples and experiments share: Adam on the
//! cross-entropy, a progress bar per epoch (batches/s, loss), test accuracy per epoch.

use std::path::Path;
use std::time::Instant;

use burn::config::Config;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mcnn_datasets::{ImageBatcher, ImageDataset, Source, Split};

use crate::models::ImageClassifier;

/// Hyper-parameters of [`train`].
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// Passes over the training set.
    #[config(default = 1)]
    pub epochs: usize,
    /// Images per training step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's (peak) learning rate.
    #[config(default = 3e-3)]
    pub learning_rate: f64,
    /// Whether the learning rate decays from `learning_rate` to 0 along a half cosine over
    /// all the training steps (otherwise it stays constant). The decay makes the accuracy of
    /// the last step, the one reported, much less noisy.
    #[config(default = true)]
    pub cosine_decay: bool,
    /// Adam's epsilon. Burn's default is 1e-5; 1e-8 is PyTorch's, the usual reference.
    #[config(default = 1e-8)]
    pub adam_epsilon: f32,
    /// Seed of the shuffling of the training set.
    #[config(default = 42)]
    pub seed: u64,
    /// Images per evaluation batch.
    #[config(default = 500)]
    pub eval_batch_size: usize,
    /// Whether to draw a progress bar (on a terminal) and print a line per epoch.
    #[config(default = true)]
    pub progress: bool,
    /// How many of each epoch's first step losses to keep in its [`EpochReport`] (for
    /// comparing backends step by step).
    #[config(default = 0)]
    pub recorded_steps: usize,
}

/// A data set's training and test splits with its batcher: what a [`Trainer`] reads.
#[derive(Clone, Debug)]
pub struct TrainingData {
    /// The training split (possibly cut to its first images).
    pub train_set: ImageDataset,
    /// The test split.
    pub test_set: ImageDataset,
    /// The source's batcher (its normalisation).
    pub batcher: ImageBatcher,
}

impl TrainingData {
    /// Loads both splits of `source` from `data_dir` (fetched there if missing), the
    /// training split cut to its first `train_limit` images if given.
    ///
    /// # Errors
    /// A data file that cannot be fetched or read (the message says which and how to fetch
    /// it), or a `train_limit` of 0.
    pub fn load(
        source: Source,
        data_dir: &Path,
        train_limit: Option<usize>,
    ) -> Result<Self, String> {
        if train_limit == Some(0) {
            return Err("train_limit = 0: at least 1 training image".into());
        }
        let load = |split| ImageDataset::load(source, split, data_dir).map_err(|e| e.to_string());
        let mut train_set = load(Split::Train)?;
        if let Some(limit) = train_limit {
            train_set = train_set.truncated(limit);
        }
        Ok(Self {
            train_set,
            test_set: load(Split::Test)?,
            batcher: ImageBatcher::for_source(source),
        })
    }

    /// A [`Trainer`] on this data with `config`, its bars drawn on their own.
    pub fn trainer(&self, config: TrainingConfig) -> Trainer<'_> {
        Trainer {
            train_set: &self.train_set,
            test_set: &self.test_set,
            batcher: &self.batcher,
            config,
            bars: None,
        }
    }
}

/// What one epoch of [`train`] achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Wall time of the training pass (evaluation excluded), in seconds.
    pub train_seconds: f64,
    /// Accuracy on the test set after the epoch, in `[0, 1]`.
    pub test_accuracy: f64,
    /// The losses of the epoch's first `recorded_steps` steps.
    pub step_losses: Vec<f64>,
}

impl TrainingConfig {
    /// Checks the hyper-parameters: every count at least 1, a positive finite learning
    /// rate. The error names the field and its value.
    pub fn check(&self) -> Result<(), String> {
        check_counts(&[
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("eval_batch_size", self.eval_batch_size),
        ])?;
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate must be positive and finite, got {}",
                self.learning_rate
            ));
        }
        Ok(())
    }
}

/// Checks that every named count is at least 1; the error names the first that is 0.
pub(crate) fn check_counts(counts: &[(&str, usize)]) -> Result<(), String> {
    match counts.iter().find(|(_, value)| *value == 0) {
        Some((name, _)) => Err(format!("{name} must be at least 1, got 0")),
        None => Ok(()),
    }
}

/// Trains `model` on `train` with Adam and the cross-entropy, evaluating on `test` after
/// every epoch: [`Trainer::fit`] with its progress bar drawn on its own.
///
/// # Panics
/// As [`Trainer::fit`].
pub fn train<M: ImageClassifier>(
    model: M,
    train: &ImageDataset,
    test: &ImageDataset,
    batcher: &ImageBatcher,
    config: &TrainingConfig,
    device: &Device,
    on_epoch: impl FnMut(&EpochReport),
) -> (M, Vec<EpochReport>) {
    Trainer {
        train_set: train,
        test_set: test,
        batcher,
        config: config.clone(),
        bars: None,
    }
    .fit(model, device, on_epoch)
}

/// The data and settings of a training run, for training many models the same way.
#[derive(Clone)]
pub struct Trainer<'a> {
    /// The training set.
    pub train_set: &'a ImageDataset,
    /// The test set, evaluated after every epoch.
    pub test_set: &'a ImageDataset,
    /// Turns images into batches.
    pub batcher: &'a ImageBatcher,
    /// The hyper-parameters.
    pub config: TrainingConfig,
    /// The caller's progress bars (e.g. a sweep's bar for the whole grid) that the epoch bars
    /// join; `None` draws them on their own. `config.progress` decides whether there are any.
    pub bars: Option<MultiProgress>,
}

impl Trainer<'_> {
    /// This trainer with `config.seed` (the data order) set to `seed`.
    pub fn with_seed(&self, seed: u64) -> Self {
        Self {
            config: self.config.clone().with_seed(seed),
            ..self.clone()
        }
    }

    /// Trains `model` with Adam and the cross-entropy, evaluating on the test set after
    /// every epoch. `device` is the plain device of the backend (autodiff is added here);
    /// the model is forked onto it, so it may come from any device.
    ///
    /// `on_epoch` sees each epoch's report as soon as it is known.
    ///
    /// # Panics
    /// On a zero epoch count, batch size or evaluation batch size, a learning rate that is
    /// not positive and finite, or an empty training set.
    pub fn fit<M: ImageClassifier>(
        &self,
        model: M,
        device: &Device,
        mut on_epoch: impl FnMut(&EpochReport),
    ) -> (M, Vec<EpochReport>) {
        let config = &self.config;
        if let Err(message) = config.check() {
            panic!("{message}");
        }
        assert!(!self.train_set.is_empty(), "the training set is empty");
        let train_device = device.clone().autodiff();
        let mut model = model.fork(&train_device).train();
        let mut optimizer = AdamConfig::new().with_epsilon(config.adam_epsilon).init();
        let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
        let loader = DataLoaderBuilder::new(self.batcher.clone())
            .batch_size(config.batch_size)
            .shuffle(config.seed)
            .num_workers(1)
            .set_device(train_device.clone())
            .build(self.train_set.clone());
        let batches = self.train_set.len().div_ceil(config.batch_size) as u64;
        let total_steps = batches as f64 * config.epochs as f64;
        let mut step = 0.0;
        let mut reports = Vec::with_capacity(config.epochs);
        for epoch in 1..=config.epochs {
            let bar = self.progress_bar(batches, epoch);
            let start = Instant::now();
            let mut loss_sum = 0.0;
            let mut steps = 0usize;
            let mut step_losses = Vec::with_capacity(config.recorded_steps);
            for batch in loader.iter() {
                let batch = batch.expect("an in-memory data set cannot fail to load");
                let logits = model.forward(batch.images);
                let loss = loss_fn.forward(logits, batch.targets);
                let loss_value: f64 = loss.clone().into_scalar::<f32>().into();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let lr = if config.cosine_decay {
                    0.5 * config.learning_rate
                        * (1.0 + (std::f64::consts::PI * step / total_steps).cos())
                } else {
                    config.learning_rate
                };
                model = optimizer.step(lr, model, grads);
                step += 1.0;
                loss_sum += loss_value;
                if steps < config.recorded_steps {
                    step_losses.push(loss_value);
                }
                steps += 1;
                bar.set_message(format!("loss {loss_value:.4}"));
                bar.inc(1);
            }
            device.sync().expect("the device failed while training");
            let train_seconds = start.elapsed().as_secs_f64();
            bar.finish_and_clear();
            if let Some(bars) = &self.bars {
                bars.remove(&bar);
            }
            let test_accuracy = evaluate(
                &model.valid(),
                self.test_set,
                self.batcher,
                config.eval_batch_size,
                device,
            );
            let report = EpochReport {
                epoch,
                train_loss: loss_sum / steps as f64,
                train_seconds,
                test_accuracy,
                step_losses,
            };
            if config.progress {
                self.say(&format!(
                    "epoch {epoch}/{}: loss {:.4}, {:.1} s ({:.1} batches/s), test accuracy {:.2}%",
                    config.epochs,
                    report.train_loss,
                    train_seconds,
                    steps as f64 / train_seconds,
                    100.0 * test_accuracy
                ));
            }
            on_epoch(&report);
            reports.push(report);
        }
        (model.valid(), reports)
    }

    /// Prints a line on stderr, above the progress bars if there are any.
    fn say(&self, line: &str) {
        match &self.bars {
            Some(bars) => bars.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn progress_bar(&self, batches: u64, epoch: usize) -> ProgressBar {
        if !self.config.progress {
            return ProgressBar::hidden();
        }
        // Added to the caller's bars before anything is drawn: a bar draws on stderr as soon
        // as its prefix is set, and that line would stay behind.
        let bar = match &self.bars {
            Some(bars) => bars.add(ProgressBar::new(batches)),
            None => ProgressBar::new(batches),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} batches, {per_sec}, eta {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", self.config.epochs));
        bar
    }
}

/// Fraction of `data` that `model` classifies correctly, in `[0, 1]`.
///
/// # Panics
/// If `data` is empty or `batch_size` is 0.
pub fn evaluate<M: ImageClassifier>(
    model: &M,
    data: &ImageDataset,
    batcher: &ImageBatcher,
    batch_size: usize,
    device: &Device,
) -> f64 {
    assert!(!data.is_empty(), "cannot evaluate on an empty data set");
    assert!(batch_size > 0, "batch_size must be at least 1, got 0");
    let model = model.valid().fork(device);
    let loader = DataLoaderBuilder::new(batcher.clone())
        .batch_size(batch_size)
        .set_device(device.clone())
        .build(data.clone());
    let mut correct = 0i64;
    for batch in loader.iter() {
        let batch = batch.expect("an in-memory data set cannot fail to load");
        let predicted = model.forward(batch.images).argmax(1).squeeze_dim::<1>(1);
        correct += predicted
            .equal(batch.targets)
            .int()
            .sum()
            .into_scalar::<i64>();
    }
    correct as f64 / data.len() as f64
}
