//! The experiments a sweep runs: what each trains, on which data, and what it reports.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use mcnn_backends::{BackendKind, fork_identical, host_device, materialize};
use mcnn_datasets::Source;
use partition_dropout::PartitionDropoutConfig;
use path_net::{generate_paths, importance_paths};
use sampled_linear::{
    Budget, LayerKind, LayerSelection, SamplingConfig, compressible_layers, sample_weights,
};

use super::setting::{self, Setting, SettingValue};
use super::{PathSource, PathsSetup, RunExtras, RunKey, RunRow, SweepError};
use crate::models::{ImageClassifier, LeNet5, LeNet5Config, LeNet5Dropout, Mlp, MlpConfig};
use crate::training::{EpochReport, Trainer, evaluate};

/// An experiment of a sweep; the swept value is its setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Experiment {
    /// MNIST, a `PathNet` of `value` paths (Sobol' or another [`PathSource`]) or, for the
    /// value `dense`, the dense MLP of the same widths; the networks as
    /// [`Runner::with_paths_setup`] says (784/300/300/10 by default).
    Paths,
    /// MNIST, LeNet-5 with partition dropout of `value` partitions after both hidden layers,
    /// seeded with the run's seed (the second layer with the seed plus 2^32, so that the
    /// layers drop independently).
    Partitions,
    /// MNIST, the MLP 784-300-10 trained, then the `Linear` layers the selection takes
    /// sampled at amount K = `value` (jittered per neuron, sampling seed = the run's seed).
    Sampled(LayerSelection),
    /// CIFAR-10, LeNet-5 trained, then the convolution filters and `Linear` neurons of the
    /// layers the selection takes sampled at amount K = `value` (jittered per filter or
    /// neuron, seed = the run's seed).
    SampledConv(LayerSelection),
}

impl Experiment {
    /// Every experiment (the sampling ones with every layer sampled).
    pub const ALL: [Self; 4] = [
        Self::Paths,
        Self::Partitions,
        Self::Sampled(LayerSelection::All),
        Self::SampledConv(LayerSelection::All),
    ];

    /// The experiment called `name`: `paths`, `partitions`, `sampled`, `sampled-conv`, the last
    /// two optionally with a layer selection, `sampled/hidden`, `sampled-conv/inner`
    /// (`LayerSelection`; every layer without one).
    ///
    /// # Errors
    /// An unknown name or selection, with the known ones.
    pub fn parse(name: &str) -> Result<Self, SweepError> {
        let unknown = || {
            let known: Vec<String> = Self::ALL.iter().map(|e| e.name()).collect();
            SweepError(format!(
                "unknown experiment {name:?} ({}; the sampling ones take /LAYERS: \
                 all, hidden, inner, conv, linear)",
                known.join(", ")
            ))
        };
        let (base, layers) = match name.split_once('/') {
            Some((base, layers)) => (base, Some(layers.parse().map_err(|_| unknown())?)),
            None => (name, None),
        };
        match (base, layers) {
            ("paths", None) => Ok(Self::Paths),
            ("partitions", None) => Ok(Self::Partitions),
            ("sampled", layers) => Ok(Self::Sampled(layers.unwrap_or(LayerSelection::All))),
            ("sampled-conv", layers) => {
                Ok(Self::SampledConv(layers.unwrap_or(LayerSelection::All)))
            }
            _ => Err(unknown()),
        }
    }

    /// The name used on the command line and in results files.
    pub fn name(self) -> String {
        let (base, layers) = match self {
            Self::Paths => ("paths", None),
            Self::Partitions => ("partitions", None),
            Self::Sampled(layers) => ("sampled", Some(layers)),
            Self::SampledConv(layers) => ("sampled-conv", Some(layers)),
        };
        match layers {
            None | Some(LayerSelection::All) => base.to_string(),
            Some(layers) => format!("{base}/{layers}"),
        }
    }

    /// What the swept value is, for tables and plot axes.
    pub fn value_label(self) -> &'static str {
        match self {
            Self::Paths => "paths",
            Self::Partitions => "partitions",
            Self::Sampled(_) | Self::SampledConv(_) => "sampling amount K",
        }
    }

    /// Whether the experiment trains one network per (seed, backend) and only samples it per
    /// value (the sampling experiments).
    pub fn trains_once_per_seed_and_backend(self) -> bool {
        matches!(self, Self::Sampled(_) | Self::SampledConv(_))
    }

    /// The data set the experiment trains and tests on.
    pub fn source(self) -> Source {
        match self {
            Self::SampledConv(_) => Source::Cifar10,
            _ => Source::Mnist,
        }
    }

    /// Parses the swept values for the experiment, before anything runs (see
    /// [`Setting::parse`] for what each experiment allows).
    ///
    /// # Errors
    /// No values, or one that is not allowed: the message names the setting, what was given
    /// and what is allowed.
    pub fn settings<S: AsRef<str>>(self, values: &[S]) -> Result<Vec<Setting>, SweepError> {
        if values.is_empty() {
            return Err(SweepError(format!(
                "no settings given ({})",
                setting::allowed(self)
            )));
        }
        values
            .iter()
            .map(|v| Setting::parse(self, v.as_ref()))
            .collect()
    }

    /// Checks the swept values against what the experiment can run: [`settings`](Self::settings)
    /// without keeping them.
    ///
    /// # Errors
    /// As [`settings`](Self::settings).
    pub fn check_values<S: AsRef<str>>(self, values: &[S]) -> Result<(), SweepError> {
        self.settings(values).map(drop)
    }
}

impl FromStr for Experiment {
    type Err = SweepError;

    /// [`Experiment::parse`].
    fn from_str(name: &str) -> Result<Self, SweepError> {
        Self::parse(name)
    }
}

impl fmt::Display for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Runs the runs of one experiment on their backends. In the sampling experiments it trains
/// each (seed, backend) once per process and samples that network at every value.
pub struct Runner<'a> {
    experiment: Experiment,
    trainer: Trainer<'a>,
    /// The networks of [`Experiment::Paths`].
    paths_setup: PathsSetup,
    /// The MLPs of [`Experiment::Sampled`], and the dense baselines of [`Experiment::Paths`]
    /// (which importance-sampled paths follow), trained.
    mlps: Trained<Mlp>,
    /// The LeNet-5s of [`Experiment::SampledConv`], trained.
    lenets: Trained<LeNet5>,
}

/// Networks trained per (seed, backend), with their epoch reports.
type Trained<M> = HashMap<(u64, BackendKind), (M, Vec<EpochReport>)>;

impl<'a> Runner<'a> {
    /// A runner of `experiment` that trains with `trainer`, whose seed each run replaces
    /// with its own.
    pub fn new(experiment: Experiment, trainer: Trainer<'a>) -> Self {
        Self {
            experiment,
            trainer,
            paths_setup: PathsSetup::default(),
            mlps: HashMap::new(),
            lenets: HashMap::new(),
        }
    }

    /// This runner with the path networks (and their dense baseline) of [`Experiment::Paths`]
    /// built as `setup` says; recorded with every paths run.
    pub fn with_paths_setup(self, setup: PathsSetup) -> Self {
        Self {
            paths_setup: setup,
            ..self
        }
    }

    /// Runs `key` (a run of this runner's experiment): trains the network on the key's
    /// backend, for the sampling experiments samples it, and reports the final test
    /// accuracy (and the trained network's, before sampling), the mean seconds per epoch and
    /// the first epoch's recorded step losses, with the epochs and learning rate (and for
    /// paths runs the setup and the trained weights) as [`RunExtras`].
    ///
    /// The initial weights are drawn on the host from the run's seed, then copied to the
    /// backend: every backend of a (setting, seed) starts from the same network.
    /// Importance-sampled paths follow the dense baseline of the same seed and backend,
    /// trained first if this runner has not trained it yet (its time is not the run's).
    ///
    /// # Errors
    /// A key of another experiment, a setting that is not the experiment's, a backend that is
    /// not compiled in, or a sampling error.
    pub fn run(&mut self, key: &RunKey) -> Result<RunRow, SweepError> {
        let experiment = self.experiment;
        if key.experiment != experiment {
            return Err(SweepError(format!(
                "run {key:?} is not of experiment {experiment}"
            )));
        }
        key.setting.check_for(experiment)?;
        let device = key
            .backend
            .try_device()
            .map_err(|e| SweepError(e.to_string()))?;
        let sampling =
            |amount: f64| SamplingConfig::new(Budget::Amount(amount)).with_seed(key.seed);
        let trainer = &self.trainer;
        let setup = &self.paths_setup;
        let dense = |host: &Device| MlpConfig::new(setup.widths.clone()).init(host);
        let mut weights = None;
        let (reports, sampled_accuracy) = match (experiment, key.setting.value()) {
            (Experiment::Paths, SettingValue::DenseBaseline) => {
                weights = Some(setup.dense_weights());
                (
                    trained(trainer, &mut self.mlps, key, &device, dense).1,
                    None,
                )
            }
            (Experiment::Paths, SettingValue::Paths { source, paths }) => {
                let config = setup.config(source, paths, key.seed);
                let generated = if source == PathSource::Importance {
                    let (mlp, _) = trained(trainer, &mut self.mlps, key, &device, dense);
                    let layers: Vec<_> = mlp
                        .layers
                        .iter()
                        .filter_map(|layer| layer.as_dense().cloned())
                        .collect();
                    importance_paths(&layers, paths, config.generator)
                } else {
                    generate_paths(&setup.widths, paths, config.generator)
                }
                .map_err(|e| SweepError(e.to_string()))?;
                let net = config
                    .try_init_with_paths(&generated, &host_device())
                    .map_err(|e| SweepError(e.to_string()))?;
                weights = Some(net.edges());
                (fit(trainer, key, &device, |_| net).1, None)
            }
            (Experiment::Partitions, SettingValue::Partitions(partitions)) => {
                let dropout = |layer: u64| {
                    PartitionDropoutConfig::new(partitions)
                        .with_seed(key.seed.wrapping_add(layer << 32))
                        .init()
                };
                let init = |host: &Device| LeNet5Dropout {
                    lenet: LeNet5Config::new().init(host),
                    after_fc1: dropout(0),
                    after_fc2: dropout(1),
                };
                (fit(trainer, key, &device, init).1, None)
            }
            (Experiment::Sampled(layers), SettingValue::Amount(amount)) => {
                let init = |host: &Device| MlpConfig::new(vec![784, 300, 10]).init(host);
                let (trained, reports) = trained(trainer, &mut self.mlps, key, &device, init);
                let kinds = [LayerKind::Linear];
                let sampled = sampled(trained, layers, &kinds, &sampling(amount))?;
                (reports, Some(test_accuracy(trainer, &sampled, &device)))
            }
            (Experiment::SampledConv(layers), SettingValue::Amount(amount)) => {
                let init = |host: &Device| {
                    LeNet5Config::new()
                        .with_in_channels(3)
                        .with_image_size(32)
                        .with_padding(0)
                        .init(host)
                };
                let (trained, reports) = trained(trainer, &mut self.lenets, key, &device, init);
                let kinds = [LayerKind::Conv2d, LayerKind::Linear];
                let sampled = sampled(trained, layers, &kinds, &sampling(amount))?;
                (reports, Some(test_accuracy(trainer, &sampled, &device)))
            }
            (_, value) => {
                // `is_for` above rules this out: each experiment parses one kind of value.
                return Err(SweepError(format!(
                    "setting {value:?} is not a value of experiment {experiment}"
                )));
            }
        };
        let last = reports.last().expect("at least one epoch");
        let paths = experiment == Experiment::Paths;
        Ok(RunRow {
            key: key.clone(),
            accuracy: sampled_accuracy.unwrap_or(last.test_accuracy),
            trained_accuracy: sampled_accuracy.map(|_| last.test_accuracy),
            seconds_per_epoch: reports.iter().map(|r| r.train_seconds).sum::<f64>()
                / reports.len() as f64,
            first_losses: reports[0].step_losses.clone(),
            extras: RunExtras {
                epochs: Some(trainer.config.epochs),
                learning_rate: Some(trainer.config.learning_rate),
                network: paths.then(|| setup.clone()),
                peak_mib: None,
                weights,
            },
        })
    }

    /// Whether `key`'s network was trained earlier in this process (its run only samples or
    /// reuses it).
    pub fn has_trained(&self, key: &RunKey) -> bool {
        let id = (key.seed, key.backend);
        match (self.experiment, key.setting.value()) {
            (Experiment::Sampled(_), _) => self.mlps.contains_key(&id),
            (Experiment::SampledConv(_), _) => self.lenets.contains_key(&id),
            (Experiment::Paths, SettingValue::DenseBaseline) => self.mlps.contains_key(&id),
            (Experiment::Paths | Experiment::Partitions, _) => false,
        }
    }
}

/// Trains the network `init` draws on the host (seeded with the run's seed) on `device`.
fn fit<M: ImageClassifier>(
    trainer: &Trainer<'_>,
    key: &RunKey,
    device: &Device,
    init: impl FnOnce(&Device) -> M,
) -> (M, Vec<EpochReport>) {
    let host = host_device();
    host.seed(key.seed);
    let model = fork_identical(&materialize(init(&host)), device);
    trainer.with_seed(key.seed).fit(model, device, |_| {})
}

/// [`fit`], once per (seed, backend) in `cache`: the same network for every value.
fn trained<M: ImageClassifier>(
    trainer: &Trainer<'_>,
    cache: &mut Trained<M>,
    key: &RunKey,
    device: &Device,
    init: impl FnOnce(&Device) -> M,
) -> (M, Vec<EpochReport>) {
    // No setting in the id: the sampling experiments' networks do not depend on it.
    cache
        .entry((key.seed, key.backend))
        .or_insert_with(|| fit(trainer, key, device, init))
        .clone()
}

/// The test accuracy of `model` on `device`, with `trainer`'s test set and batch size.
/// `model` with the layers of `kinds` that `layers` selects sampled with `config`, in place.
fn sampled<M: ImageClassifier>(
    model: M,
    layers: LayerSelection,
    kinds: &[LayerKind],
    config: &SamplingConfig,
) -> Result<M, SweepError> {
    let selected = layers.paths(&compressible_layers(&model), kinds);
    sample_weights(model, kinds, config, |p| selected.iter().any(|s| s == p))
        .map(|(sampled, _)| sampled)
        .map_err(|e| SweepError(e.to_string()))
}

fn test_accuracy<M: ImageClassifier>(trainer: &Trainer<'_>, model: &M, device: &Device) -> f64 {
    evaluate(
        model,
        trainer.test_set,
        trainer.batcher,
        trainer.config.eval_batch_size,
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for experiment in Experiment::ALL {
            assert_eq!(Experiment::parse(&experiment.name()).unwrap(), experiment);
        }
        let hidden = Experiment::Sampled(LayerSelection::Hidden);
        assert_eq!(hidden.name(), "sampled/hidden");
        assert_eq!(Experiment::parse("sampled/hidden").unwrap(), hidden);
        assert_eq!(
            Experiment::parse("sampled-conv/inner").unwrap(),
            Experiment::SampledConv(LayerSelection::Inner)
        );
        assert!(Experiment::parse("paths/hidden").is_err());
        assert!(Experiment::parse("sampled/outer").is_err());
        let error = Experiment::parse("pathz").unwrap_err().to_string();
        assert!(error.starts_with("unknown experiment \"pathz\""), "{error}");
        assert!(error.contains("sampled-conv"), "{error}");
    }

    #[test]
    fn values_are_counts_or_amounts() {
        let values = |list: &[&str]| list.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        assert!(
            Experiment::Paths
                .check_values(&values(&["1", "4096"]))
                .is_ok()
        );
        assert!(
            Experiment::Sampled(LayerSelection::All)
                .check_values(&values(&["0.25", "2"]))
                .is_ok()
        );
        let paths = Experiment::Paths
            .settings(&values(&[
                "dense",
                "4096",
                "sobol/4096",
                "random/1",
                "importance/8",
            ]))
            .unwrap();
        let paths: Vec<_> = paths.iter().map(Setting::value).collect();
        let walk = |source, paths| SettingValue::Paths { source, paths };
        assert_eq!(
            paths,
            [
                SettingValue::DenseBaseline,
                walk(PathSource::Sobol, 4096),
                walk(PathSource::Sobol, 4096),
                walk(PathSource::Random, 1),
                walk(PathSource::Importance, 8)
            ]
        );
        // Values the experiments used to panic on after the run had started (partitions 1 and
        // 5e9, paths 5e9), or reject only after a whole training (K = 1e12).
        for (experiment, bad) in [
            (Experiment::Paths, "0"),
            (Experiment::Paths, "random/0"),
            (Experiment::Paths, "halton/64"),
            (Experiment::Paths, "random/"),
            (Experiment::Partitions, "dense"),
            (Experiment::Paths, "5000000000"),
            (Experiment::Partitions, "1"),
            (Experiment::Partitions, "1.5"),
            (Experiment::Partitions, "5000000000"),
            (Experiment::Sampled(LayerSelection::All), "0"),
            (Experiment::Sampled(LayerSelection::All), "1e12"),
            (Experiment::SampledConv(LayerSelection::All), "inf"),
        ] {
            let error = experiment
                .check_values(&values(&["2", bad]))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(&format!("setting {bad:?} is not allowed")),
                "{error}"
            );
        }
        let error = Experiment::SampledConv(LayerSelection::All)
            .check_values::<&str>(&[])
            .unwrap_err();
        assert!(
            error.to_string().starts_with("no settings given"),
            "{error}"
        );
        assert!(
            Experiment::Partitions
                .check_values(&values(&["4294967295"]))
                .is_ok()
        );
        assert!(
            Experiment::Paths
                .check_values(&values(&["4294967296"]))
                .is_ok()
        );
    }

    #[test]
    fn settings_are_parsed_once_for_their_experiment() {
        let settings = Experiment::Partitions.settings(&["2", "9"]).unwrap();
        let values: Vec<_> = settings.iter().map(Setting::value).collect();
        assert_eq!(
            values,
            [SettingValue::Partitions(2), SettingValue::Partitions(9)]
        );
        let amount = Setting::parse(Experiment::Sampled(LayerSelection::All), "0.25").unwrap();
        assert_eq!(amount.value(), SettingValue::Amount(0.25));
        assert_eq!(amount.text(), "0.25");
        // The text is kept: "1" and "1.0" are different settings, as they were as text.
        let one = Setting::parse(Experiment::Sampled(LayerSelection::All), "1").unwrap();
        let one_point_zero =
            Setting::parse(Experiment::Sampled(LayerSelection::All), "1.0").unwrap();
        assert_ne!(one, one_point_zero);
        // Two paths are not two partitions; a K LeNet's 400 inputs take is too large for the
        // MLP's 784.
        let two = Setting::parse(Experiment::Paths, "2").unwrap();
        assert!(two.is_for(Experiment::Paths) && !two.is_for(Experiment::Partitions));
        let large =
            Setting::parse(Experiment::SampledConv(LayerSelection::All), "4000000").unwrap();
        assert!(large.is_for(Experiment::SampledConv(LayerSelection::Inner)));
        assert!(!large.is_for(Experiment::Sampled(LayerSelection::All)));
    }
}
