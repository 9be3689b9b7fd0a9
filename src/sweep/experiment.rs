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
use sampled_linear::{Budget, SamplingConfig, sample_linears};

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
    /// MNIST, the MLP 784-300-10 trained, then its `Linear` layers sampled at amount
    /// K = `value` (jittered per neuron, sampling seed = the run's seed).
    Sampled,
    /// CIFAR-10, LeNet-5 trained, then its convolution filters and `Linear` neurons
    /// sampled at amount K = `value` (jittered per filter or neuron, seed = the run's seed).
    SampledConv,
}

impl Experiment {
    /// Every experiment.
    pub const ALL: [Self; 4] = [
        Self::Paths,
        Self::Partitions,
        Self::Sampled,
        Self::SampledConv,
    ];

    /// The experiment called `name` (`paths`, `partitions`, `sampled`, `sampled-conv`).
    ///
    /// # Errors
    /// An unknown name, with the known ones.
    pub fn parse(name: &str) -> Result<Self, SweepError> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|e| e.name()).collect();
                SweepError(format!(
                    "--experiment: unknown {name:?} ({})",
                    known.join(", ")
                ))
            })
    }

    /// The name used on the command line and in results files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Paths => "paths",
            Self::Partitions => "partitions",
            Self::Sampled => "sampled",
            Self::SampledConv => "sampled-conv",
        }
    }

    /// What the swept value is, for tables and plot axes.
    pub fn value_label(self) -> &'static str {
        match self {
            Self::Paths => "paths",
            Self::Partitions => "partitions",
            Self::Sampled | Self::SampledConv => "sampling amount K",
        }
    }

    /// Whether the experiment trains one network per (seed, backend) and only samples it per
    /// value (the sampling experiments).
    pub fn trains_once_per_seed_and_backend(self) -> bool {
        matches!(self, Self::Sampled | Self::SampledConv)
    }

    /// The data set the experiment trains and tests on.
    pub fn source(self) -> Source {
        match self {
            Self::SampledConv => Source::Cifar10,
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
            Self::Sampled => (
                |v| amount_fits(v, 784),
                "finite positive sampling amounts K with ⌈784·K⌉ ≤ 2^31 − 1 samples per neuron",
            ),
            Self::SampledConv => (
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
        f.write_str(self.name())
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
            Experiment::Sampled => {
                let init = |host: &Device| MlpConfig::new(vec![784, 300, 10]).init(host);
                let (trained, reports) = self.trained(key, &device, init);
                let (sampled, _) =
                    sample_linears(trained, &sampling(), |_| true).map_err(sampling_error)?;
                (reports, Some(self.test_accuracy(&sampled, &device)))
            }
            Experiment::SampledConv => {
                let init = |host: &Device| {
                    LeNet5Config::new()
                        .with_in_channels(3)
                        .with_image_size(32)
                        .with_padding(0)
                        .init(host)
                };
                let (trained, reports) = self.trained(key, &device, init);
                let (sampled, _) =
                    sample_model(trained, &sampling(), |_| true).map_err(sampling_error)?;
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
            assert_eq!(Experiment::parse(experiment.name()).unwrap(), experiment);
        }
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
            Experiment::Sampled
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
            (Experiment::Sampled, "0"),
            (Experiment::Sampled, "1e12"),
            (Experiment::SampledConv, "inf"),
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
        let error = Experiment::SampledConv.check_values(&[]).unwrap_err();
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
