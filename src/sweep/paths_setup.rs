//! The path networks of [`Experiment::Paths`](super::Experiment::Paths): where their paths come
//! from, and how they are built (recorded with every run, as experiment E5 varies it).

use std::fmt;
use std::str::FromStr;

use burn::serde::{Deserialize, Serialize};
use path_net::{Duplicates, PathGenerator, PathInit, PathLinearConfig, PathNetConfig};

use super::SweepError;

/// Where the paths of a path network come from (`docs/algorithms.md`, "Path networks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathSource {
    /// The plain Sobol' points: the same paths for every seed.
    Sobol,
    /// Sobol' points with Owen's scrambling, seeded with the run's seed.
    Owen,
    /// Random walks, seeded with the run's seed.
    Random,
    /// Sobol' coordinates through `|w|` of the dense MLP trained with the run's seed
    /// (importance-sampled walks).
    Importance,
}

impl PathSource {
    /// Every source, in the order of their names in messages.
    pub const ALL: [Self; 4] = [Self::Sobol, Self::Owen, Self::Random, Self::Importance];

    /// The name in settings (`random/4096`), on command lines and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sobol => "sobol",
            Self::Owen => "owen",
            Self::Random => "random",
            Self::Importance => "importance",
        }
    }

    /// The path generator of a run with `seed` (importance sampling walks Sobol' points
    /// through `|w|`).
    pub fn generator(self, seed: u64) -> PathGenerator {
        match self {
            Self::Sobol | Self::Importance => PathGenerator::Sobol,
            Self::Owen => PathGenerator::SobolScrambled { seed },
            Self::Random => PathGenerator::RandomWalk { seed },
        }
    }
}

impl fmt::Display for PathSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PathSource {
    type Err = SweepError;

    fn from_str(name: &str) -> Result<Self, SweepError> {
        by_name(&Self::ALL, Self::name, name, "path source")
    }
}

/// The value of `all` called `name`, or an error naming `what`, `name` and the known names.
fn by_name<T: Copy>(
    all: &[T],
    name_of: fn(T) -> &'static str,
    name: &str,
    what: &str,
) -> Result<T, SweepError> {
    all.iter()
        .copied()
        .find(|&v| name_of(v) == name)
        .ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|&v| name_of(v)).collect();
            SweepError(format!(
                "unknown {what} {name:?}: expected one of {}",
                known.join(", ")
            ))
        })
}

/// How the edges of a path network start (gain √2, He's for ReLU).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum PathsInit {
    /// [`PathInit::KaimingUniform`] on each neuron's real fan-in.
    Kaiming,
    /// [`PathInit::Constant`]: `±√2 / √fan_in`, the paper's deterministic start.
    Constant,
}

impl PathsInit {
    /// Both, in the order of their names in messages.
    pub const ALL: [Self; 2] = [Self::Kaiming, Self::Constant];

    /// The name in results files, tables and on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kaiming => "kaiming",
            Self::Constant => "constant",
        }
    }
}

impl FromStr for PathsInit {
    type Err = SweepError;

    fn from_str(name: &str) -> Result<Self, SweepError> {
        by_name(&Self::ALL, Self::name, name, "path initialisation")
    }
}

/// What repeated edges become ([`Duplicates`]), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum PathsDuplicates {
    /// [`Duplicates::Merge`]: one weight per distinct edge.
    Merge,
    /// [`Duplicates::Keep`]: every path its own weight.
    Keep,
}

impl PathsDuplicates {
    /// Both, in the order of their names in messages.
    pub const ALL: [Self; 2] = [Self::Merge, Self::Keep];

    /// The name in results files, tables and on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Keep => "keep",
        }
    }
}

impl FromStr for PathsDuplicates {
    type Err = SweepError;

    fn from_str(name: &str) -> Result<Self, SweepError> {
        by_name(&Self::ALL, Self::name, name, "duplicates")
    }
}

/// The path networks (and their dense baseline) of a paths run: recorded in its results line
/// as `network`. The default is the slides' MLP 784/300/300/10, Kaiming start, merged
/// duplicates, signs trained.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(crate = "burn::serde", deny_unknown_fields)]
pub struct PathsSetup {
    /// What repeated edges become.
    pub duplicates: PathsDuplicates,
    /// Whether every edge keeps its initial sign (magnitudes trained only).
    pub fixed_sign: bool,
    /// How the edges start.
    pub init: PathsInit,
    /// Layer widths, input first.
    pub widths: Vec<usize>,
}

impl Default for PathsSetup {
    fn default() -> Self {
        Self {
            duplicates: PathsDuplicates::Merge,
            fixed_sign: false,
            init: PathsInit::Kaiming,
            widths: vec![784, 300, 300, 10],
        }
    }
}

impl PathsSetup {
    /// The network of `paths` paths from `source` for a run with `seed`: the seed also draws
    /// the Kaiming start and the walks of `owen` and `random`.
    pub fn config(&self, source: PathSource, paths: usize, seed: u64) -> PathNetConfig {
        let gain = std::f64::consts::SQRT_2;
        let init = match self.init {
            PathsInit::Kaiming => PathInit::KaimingUniform { gain },
            PathsInit::Constant => PathInit::Constant { gain },
        };
        let duplicates = match self.duplicates {
            PathsDuplicates::Merge => Duplicates::Merge,
            PathsDuplicates::Keep => Duplicates::Keep,
        };
        PathNetConfig::new(self.widths.clone(), paths)
            .with_generator(source.generator(seed))
            .with_layer(
                PathLinearConfig::new()
                    .with_init(init)
                    .with_fixed_sign(self.fixed_sign)
                    .with_duplicates(duplicates)
                    .with_seed(seed),
            )
    }

    /// The weights of the dense MLP of these widths (biases not counted, as for the paths'
    /// edges).
    pub fn dense_weights(&self) -> usize {
        self.widths.windows(2).map(|w| w[0] * w[1]).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_by_name_and_setups_as_json() {
        for source in PathSource::ALL {
            assert_eq!(source.name().parse::<PathSource>(), Ok(source));
        }
        let error = "halton".parse::<PathSource>().unwrap_err().to_string();
        assert!(
            error.contains("\"halton\"") && error.contains("importance"),
            "{error}"
        );
        for init in PathsInit::ALL {
            assert_eq!(init.name().parse::<PathsInit>(), Ok(init));
        }
        for duplicates in PathsDuplicates::ALL {
            assert_eq!(duplicates.name().parse::<PathsDuplicates>(), Ok(duplicates));
        }
        let error = "split".parse::<PathsDuplicates>().unwrap_err().to_string();
        assert_eq!(
            error,
            "unknown duplicates \"split\": expected one of merge, keep"
        );
        let setup = PathsSetup::default();
        let json = serde_json::to_string(&setup).unwrap();
        assert_eq!(
            json,
            "{\"duplicates\":\"merge\",\"fixed_sign\":false,\"init\":\"kaiming\",\
             \"widths\":[784,300,300,10]}"
        );
        assert_eq!(serde_json::from_str::<PathsSetup>(&json).unwrap(), setup);
        assert_eq!(setup.dense_weights(), 784 * 300 + 300 * 300 + 300 * 10);
        let config = setup.config(PathSource::Random, 64, 7);
        assert_eq!(config.generator, PathGenerator::RandomWalk { seed: 7 });
        assert_eq!(config.layer.seed, 7);
        assert_eq!(config.layer.duplicates, Duplicates::Merge);
    }
}
