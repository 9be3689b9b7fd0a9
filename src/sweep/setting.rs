//! The swept values: parsed once, for their experiment, when a grid is built or a results
//! file is read.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem::discriminant;

use super::{Experiment, PathSource, SweepError};

/// What a setting stands for in its experiment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SettingValue {
    /// A path network of `paths` paths in `1..=2^32` drawn by `source` ([`Experiment::Paths`]):
    /// written `P` (Sobol'), or `SOURCE/P` with a [`PathSource`] name (`random/4096`).
    Paths {
        /// Where the paths come from.
        source: PathSource,
        /// How many.
        paths: usize,
    },
    /// The dense MLP of the path networks' widths, trained with the same budget: the baseline
    /// of [`Experiment::Paths`], written `dense`.
    DenseBaseline,
    /// A number of partitions ([`Experiment::Partitions`]), in `2..=u32::MAX`.
    Partitions(usize),
    /// A sampling amount `K` ([`Experiment::Sampled`], [`Experiment::SampledConv`]): finite,
    /// positive, and small enough for the sampler.
    Amount(f64),
}

impl SettingValue {
    /// The value as a number (for plot axes).
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Paths { paths: n, .. } | Self::Partitions(n) => n as f64,
            Self::DenseBaseline => 0.0,
            Self::Amount(k) => k,
        }
    }
}

/// One swept value of an experiment: the text it was given as (what results files record and
/// tables show, unchanged) and the value it was parsed into, checked against the experiment.
///
/// Two settings are equal when their texts and kinds of value are: `"4096"` and `"4096.0"`
/// are different runs, as they were when settings were text.
///
/// ```
/// use mcnn::sweep::{Experiment, PathSource, Setting, SettingValue};
///
/// let paths = Setting::parse(Experiment::Paths, "4096").unwrap();
/// assert_eq!(paths.value(), SettingValue::Paths { source: PathSource::Sobol, paths: 4096 });
/// let walks = Setting::parse(Experiment::Paths, "random/4096").unwrap();
/// assert_eq!(walks.value(), SettingValue::Paths { source: PathSource::Random, paths: 4096 });
/// assert_eq!(paths.to_string(), "4096");
/// assert!(Setting::parse(Experiment::Partitions, "1").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Setting {
    text: String,
    value: SettingValue,
}

impl Setting {
    /// Parses `text` as a value of `experiment`: paths in `1..=2^32` (path-net's limit), as
    /// `P`, `SOURCE/P` or the baseline `dense` ([`SettingValue::Paths`]),
    /// partitions in `2..=u32::MAX` (partition dropout's), sampling amounts `K` finite and
    /// positive whose largest group of weights (784 inputs of the MLP's first layer, 400 of
    /// LeNet-5's first `Linear` on CIFAR-10) takes at most `MAX_COUNT_SAMPLES` samples.
    ///
    /// # Errors
    /// A value the experiment does not allow: the message names the setting, the text and
    /// what is allowed.
    pub fn parse(experiment: Experiment, text: &str) -> Result<Self, SweepError> {
        Self::parsed(experiment, text).ok_or_else(|| {
            SweepError(format!(
                "setting {text:?} is not allowed for experiment {experiment}: {}",
                allowed(experiment)
            ))
        })
    }

    fn parsed(experiment: Experiment, text: &str) -> Option<Self> {
        let value = match experiment {
            Experiment::Paths => paths(text)?,
            Experiment::Partitions => SettingValue::Partitions(count(text, 2, u32::MAX.into())?),
            Experiment::Sampled(_) => SettingValue::Amount(amount(text, 784)?),
            Experiment::SampledConv(_) => SettingValue::Amount(amount(text, 400)?),
        };
        Some(Self {
            text: text.to_string(),
            value,
        })
    }

    /// The text the setting was given as.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What it stands for.
    pub fn value(&self) -> SettingValue {
        self.value
    }

    /// Whether the setting is one that `experiment` allows (settings are parsed for one
    /// experiment; a sampling amount of one sampling experiment may be too large for another).
    pub fn is_for(&self, experiment: Experiment) -> bool {
        Self::parsed(experiment, &self.text).is_some_and(|s| s == *self)
    }

    /// [`is_for`](Self::is_for) as an error.
    ///
    /// # Errors
    /// What `experiment` allows, if it does not allow the text at all; else that the setting
    /// was parsed for another experiment.
    pub fn check_for(&self, experiment: Experiment) -> Result<(), SweepError> {
        if self.is_for(experiment) {
            return Ok(());
        }
        Self::parse(experiment, &self.text)?;
        Err(SweepError(format!(
            "setting {:?} was parsed for another experiment than {experiment}",
            self.text
        )))
    }
}

impl PartialEq for Setting {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && discriminant(&self.value) == discriminant(&other.value)
    }
}

/// The value is a function of the text and the kind (parsing is deterministic), so equality
/// of text and kind is an equivalence even for amounts.
impl Eq for Setting {}

impl Hash for Setting {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
        discriminant(&self.value).hash(state);
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What `experiment` allows as settings, in words.
pub(super) fn allowed(experiment: Experiment) -> &'static str {
    match experiment {
        Experiment::Paths => {
            "whole numbers of paths P in 1..=2^32 (Sobol'), SOURCE/P with SOURCE one of sobol, \
             owen, random, importance, or dense (the dense baseline)"
        }
        Experiment::Partitions => "whole numbers of partitions in 2..=4294967295",
        Experiment::Sampled(_) => {
            "finite positive sampling amounts K with ⌈784·K⌉ ≤ 2^31 − 1 samples per neuron"
        }
        Experiment::SampledConv(_) => {
            "finite positive sampling amounts K with ⌈400·K⌉ ≤ 2^31 − 1 samples per neuron"
        }
    }
}

/// `text` as a value of [`Experiment::Paths`].
fn paths(text: &str) -> Option<SettingValue> {
    if text == "dense" {
        return Some(SettingValue::DenseBaseline);
    }
    let (source, paths) = match text.split_once('/') {
        Some((source, paths)) => (source.parse().ok()?, paths),
        None => (PathSource::Sobol, text),
    };
    Some(SettingValue::Paths {
        source,
        paths: count(paths, 1, 1 << 32)?,
    })
}

/// `text` as a whole number in `low..=high` that fits a `usize`.
fn count(text: &str, low: u64, high: u64) -> Option<usize> {
    let n = text.parse::<u64>().ok()?;
    (low..=high).contains(&n).then_some(())?;
    usize::try_from(n).ok()
}

/// `text` as a sampling amount `K` whose group of `group` weights gets a number of samples
/// the sampler accepts.
fn amount(text: &str, group: usize) -> Option<f64> {
    let k = text.parse::<f64>().ok()?;
    (k.is_finite()
        && k > 0.0
        && (k * group as f64).ceil() <= mcnn_sequences::counts::MAX_COUNT_SAMPLES as f64)
        .then_some(k)
}
