//! The experiments a sweep runs: what each trains, on which data, and what it reports.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;

use burn::tensor::Device;
use mcnn_backends::{BackendKind, fork_identical, host_device, materialize};
use mcnn_datasets::Source;
use partition_dropout::PartitionDropoutConfig;
use path_net::PathNetConfig;
use sampled_conv::sample_model;
use sampled_linear::{
    Budget, LayerKind, LayerSelection, SamplingConfig, compressible_layers, sample_linears,
};

use super::{RunKey, RunRow, SweepError};
use crate::models::{ImageClassifier, LeNet5Config, LeNet5Dropout, MlpConfig};
use crate::training::{EpochReport, Trainer, evaluate};

/// An experiment of a sweep; the swept value is its setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Experiment {
    /// MNIST, a `PathNet` 784/300/300/10 of `value` Sobol' paths.
    Paths,
    /// MNIST, LeNet-5 with partition dropout of `value` partitions after both hidden layers.
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
    /// Every experiment.
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
                "--experiment: unknown {name:?} ({}; the sampling ones take /LAYERS: \
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

    /// Checks the swept values against what the experiment can run, before anything runs:
    /// paths in `1..=2^32` (path-net's limit), partitions in `2..=u32::MAX` (partition
    /// dropout's), sampling amounts `K` finite and positive whose largest group of weights
    /// (784 inputs of the MLP's first layer, 400 of LeNet-5's first `Linear` on CIFAR-10)
    /// takes at most `MAX_COUNT_SAMPLES` samples.
    ///
    /// # Errors
    /// No values, or one that is not allowed: the message names `--values`, what was given
    /// and what is allowed.
    pub fn check_values(self, values: &[String]) -> Result<(), SweepError> {
        let (valid, allowed): (fn(&str) -> bool, &str) = match self {
            Self::Paths => (
                |v| v.parse::<u64>().is_ok_and(|n| (1..=1 << 32).contains(&n)),
                "whole numbers of paths in 1..=2^32",
            ),
            Self::Partitions => (
                |v| {
                    v.parse::<u64>()
                        .is_ok_and(|n| (2..=u32::MAX as u64).contains(&n))
                },
                "whole numbers of partitions in 2..=4294967295",
            ),
            Self::Sampled(_) => (
                |v| amount_fits(v, 784),
                "finite positive sampling amounts K with ⌈784·K⌉ ≤ 2^31 − 1 samples per neuron",
            ),
            Self::SampledConv(_) => (
                |v| amount_fits(v, 400),
                "finite positive sampling amounts K with ⌈400·K⌉ ≤ 2^31 − 1 samples per neuron",
            ),
        };
        if values.is_empty() {
            return Err(SweepError(format!("--values: none given ({allowed})")));
        }
        match values.iter().find(|v| !valid(v)) {
            Some(bad) => Err(SweepError(format!(
                "--values: {bad:?} is not allowed for experiment {self}: {allowed}"
            ))),
            None => Ok(()),
        }
    }
}

/// Whether `value` is a sampling amount `K` whose group of `group` weights gets a number of
/// samples the sampler accepts.
fn amount_fits(value: &str, group: usize) -> bool {
    value.parse::<f64>().is_ok_and(|k| {
        k.is_finite()
            && k > 0.0
            && (k * group as f64).ceil() <= mcnn_sequences::counts::MAX_COUNT_SAMPLES as f64
    })
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
    trained: HashMap<(u64, String), Trained>,
}

/// A network trained for a (seed, backend), with its epoch reports.
type Trained = (Box<dyn Any>, Vec<EpochReport>);

impl<'a> Runner<'a> {
    /// A runner of `experiment` that trains with `trainer`, whose seed each run replaces
    /// with its own.
    pub fn new(experiment: Experiment, trainer: Trainer<'a>) -> Self {
        Self {
            experiment,
            trainer,
            trained: HashMap::new(),
        }
    }

    /// Runs `key` (a run of this runner's experiment): trains the network on the key's
    /// backend, for the sampling experiments samples it, and reports the final test
    /// accuracy (and the trained network's, before sampling), the mean seconds per epoch and
    /// the first epoch's recorded step losses.
    ///
    /// The initial weights are drawn on the host from the run's seed, then copied to the
    /// backend: every backend of a (setting, seed) starts from the same network.
    ///
    /// # Errors
    /// A key of another experiment, a setting that is not allowed, a backend that is not
    /// compiled in, or a sampling error.
    pub fn run(&mut self, key: &RunKey) -> Result<RunRow, SweepError> {
        let experiment = self.experiment;
        if key.experiment != experiment.name() {
            return Err(SweepError(format!(
                "run {key:?} is not of experiment {experiment}"
            )));
        }
        experiment.check_values(std::slice::from_ref(&key.setting))?;
        let device = BackendKind::from_flag(Some(&key.backend))
            .map_err(|e| SweepError(e.to_string()))?
            .device();
        let count = || key.setting.parse::<usize>().expect("checked above");
        let sampling = || {
            let amount = key.setting.parse().expect("checked above");
            SamplingConfig::new(Budget::Amount(amount)).with_seed(key.seed)
        };
        let sampling_error = |e: sampled_linear::SampledLinearError| SweepError(e.to_string());
        let (reports, sampled_accuracy) = match experiment {
            Experiment::Paths => {
                let init =
                    |host: &Device| PathNetConfig::new(vec![784, 300, 300, 10], count()).init(host);
                (self.fit(key, &device, init).1, None)
            }
            Experiment::Partitions => {
                let init = |host: &Device| LeNet5Dropout {
                    lenet: LeNet5Config::new().init(host),
                    after_fc1: PartitionDropoutConfig::new(count()).init(),
                    after_fc2: PartitionDropoutConfig::new(count()).init(),
                };
                (self.fit(key, &device, init).1, None)
            }
            Experiment::Sampled(layers) => {
                let init = |host: &Device| MlpConfig::new(vec![784, 300, 10]).init(host);
                let (trained, reports) = self.trained(key, &device, init);
                let selected = layers.paths(&compressible_layers(&trained), &[LayerKind::Linear]);
                let (sampled, _) =
                    sample_linears(trained, &sampling(), |p| selected.iter().any(|s| s == p))
                        .map_err(sampling_error)?;
                (reports, Some(self.test_accuracy(&sampled, &device)))
            }
            Experiment::SampledConv(layers) => {
                let init = |host: &Device| {
                    LeNet5Config::new()
                        .with_in_channels(3)
                        .with_image_size(32)
                        .with_padding(0)
                        .init(host)
                };
                let (trained, reports) = self.trained(key, &device, init);
                let kinds = [LayerKind::Conv2d, LayerKind::Linear];
                let selected = layers.paths(&compressible_layers(&trained), &kinds);
                let (sampled, _) =
                    sample_model(trained, &sampling(), |p| selected.iter().any(|s| s == p))
                        .map_err(sampling_error)?;
                (reports, Some(self.test_accuracy(&sampled, &device)))
            }
        };
        let last = reports.last().expect("at least one epoch");
        Ok(RunRow {
            key: key.clone(),
            accuracy: sampled_accuracy.unwrap_or(last.test_accuracy),
            trained_accuracy: sampled_accuracy.map(|_| last.test_accuracy),
            seconds_per_epoch: reports.iter().map(|r| r.train_seconds).sum::<f64>()
                / reports.len() as f64,
            first_losses: reports[0].step_losses.clone(),
        })
    }

    /// Whether `key`'s network was trained earlier in this process (its run only samples it).
    pub fn has_trained(&self, key: &RunKey) -> bool {
        self.experiment.trains_once_per_seed_and_backend()
            && self.trained.contains_key(&(key.seed, key.backend.clone()))
    }

    /// Trains the network `init` draws on the host (seeded with the run's seed) on `device`.
    fn fit<M: ImageClassifier>(
        &self,
        key: &RunKey,
        device: &Device,
        init: impl FnOnce(&Device) -> M,
    ) -> (M, Vec<EpochReport>) {
        let host = host_device();
        host.seed(key.seed);
        let model = fork_identical(&materialize(init(&host)), device);
        self.trainer.with_seed(key.seed).fit(model, device, |_| {})
    }

    /// [`fit`](Self::fit), once per (seed, backend): the same network for every value.
    fn trained<M: ImageClassifier + 'static>(
        &mut self,
        key: &RunKey,
        device: &Device,
        init: impl FnOnce(&Device) -> M,
    ) -> (M, Vec<EpochReport>) {
        let id = (key.seed, key.backend.clone());
        // No setting in the key: the sampling experiments' networks do not depend on it.
        if let Some((model, reports)) = self.trained.get(&id) {
            let model = model
                .downcast_ref::<M>()
                .expect("one network type per experiment");
            return (model.clone(), reports.clone());
        }
        let (model, reports) = self.fit(key, device, init);
        self.trained
            .insert(id, (Box::new(model.clone()), reports.clone()));
        (model, reports)
    }

    fn test_accuracy<M: ImageClassifier>(&self, model: &M, device: &Device) -> f64 {
        let t = &self.trainer;
        evaluate(
            model,
            t.test_set,
            t.batcher,
            t.config.eval_batch_size,
            device,
        )
    }
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
        assert!(
            error.contains("--experiment") && error.contains("\"pathz\""),
            "{error}"
        );
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
        // Values the experiments used to panic on after the run had started (partitions 1 and
        // 5e9, paths 5e9), or reject only after a whole training (K = 1e12).
        for (experiment, bad) in [
            (Experiment::Paths, "0"),
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
                error.starts_with("--values: ") && error.contains(&format!("{bad:?}")),
                "{error}"
            );
        }
        let error = Experiment::SampledConv(LayerSelection::All)
            .check_values(&[])
            .unwrap_err();
        assert!(error.to_string().contains("none given"), "{error}");
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
}
