//! Which part of a grid a process runs: given as `i/n`, or read from a scheduler's array
//! index (Slurm job arrays, Kubernetes Indexed Jobs).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::SweepError;

/// Part `index` (1-based) of `count` equal parts of a grid: runs `index − 1`, `index − 1 +
/// count`, … Every run belongs to exactly one shard, so shards' results files concatenate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, `1..=count`.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

/// Slurm: the array task's index, and the array's lowest and highest index, step and number
/// of tasks (`sbatch --array=min-max[:step]`).
const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
const SLURM_MAX: &str = "SLURM_ARRAY_TASK_MAX";
const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";
const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// Kubernetes Indexed Job: the pod's completion index, `0..completions`.
const KUBERNETES_INDEX: &str = "JOB_COMPLETION_INDEX";

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// The environment variable that gives the number of shards where the scheduler does not
    /// (a Kubernetes Indexed Job: set it to the Job's `completions`).
    pub const COUNT_VARIABLE: &'static str = "MCNN_SHARD_COUNT";

    /// What [`part_path`](Self::part_path) replaces with the shard's index.
    pub const PLACEHOLDER: &'static str = "{shard}";

    /// Parses `i/n` with `1 ≤ i ≤ n`.
    ///
    /// # Errors
    /// A message naming `shard`, the text and the expected form.
    pub fn parse(text: &str) -> Result<Self, SweepError> {
        let bad = || {
            SweepError(format!(
                "shard {text:?}: expected i/n with 1 ≤ i ≤ n, e.g. 2/4"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// The shard of this array task, from a scheduler's environment as `env` looks it up
    /// (`|name| std::env::var(name).ok()` for the process's own; a variable set to an empty
    /// text counts as not set).
    ///
    /// - Slurm job arrays (`sbatch --array=min-max[:step]`): `SLURM_ARRAY_TASK_ID` with
    ///   `SLURM_ARRAY_TASK_MIN`, the count from `SLURM_ARRAY_TASK_MAX` (and
    ///   `SLURM_ARRAY_TASK_STEP`, 1 if not set) or `SLURM_ARRAY_TASK_COUNT`, which must agree
    ///   where both are set (an array of listed indices such as `--array=1,3,7` is not a
    ///   range and is refused). Task `min` is shard 1: with `--array=0-2`, task 1 is shard 2/3.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` (0-based) is shard index + 1, the
    ///   count from `count` or [`MCNN_SHARD_COUNT`](Self::COUNT_VARIABLE).
    ///
    /// `count`, and `MCNN_SHARD_COUNT` where set, must agree with every other count given;
    /// where both schedulers' variables are set they must give the same shard.
    ///
    /// ```
    /// use mcnn::sweep::Shard;
    ///
    /// // Task 1 of `sbatch --array=0-2`: the second of three shards.
    /// let slurm = |name: &str| match name {
    ///     "SLURM_ARRAY_TASK_ID" => Some("1".to_string()),
    ///     "SLURM_ARRAY_TASK_MIN" => Some("0".to_string()),
    ///     "SLURM_ARRAY_TASK_MAX" => Some("2".to_string()),
    ///     _ => None,
    /// };
    /// assert_eq!(Shard::from_env(slurm, None), Ok(Shard { index: 2, count: 3 }));
    /// // Index 0 of a Kubernetes Indexed Job of 3 completions.
    /// let pod = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "0".to_string());
    /// assert_eq!(Shard::from_env(pod, Some(3)), Ok(Shard { index: 1, count: 3 }));
    /// assert!(Shard::from_env(pod, None).is_err(), "no count");
    /// ```
    ///
    /// # Errors
    /// Neither scheduler's index set, a variable that is not a whole number (named, with its
    /// value), an index outside the array, no count or a count of 0, or counts or shards that
    /// disagree (each named with where it came from).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> Result<Self, SweepError> {
        let number = |name: &str| -> Result<Option<usize>, SweepError> {
            match env(name) {
                None => Ok(None),
                Some(text) if text.trim().is_empty() => Ok(None),
                Some(text) => text.trim().parse().map(Some).map_err(|_| {
                    SweepError(format!("{name}={text:?}: expected a whole number ≥ 0"))
                }),
            }
        };
        // The counts given besides the scheduler's, each with where it came from.
        let mut given = Vec::new();
        if let Some(count) = count {
            given.push((format!("the given shard count {count}"), count));
        }
        if let Some(count) = number(Self::COUNT_VARIABLE)? {
            given.push((format!("{}={count}", Self::COUNT_VARIABLE), count));
        }

        let slurm = match number(SLURM_ID)? {
            None => None,
            Some(id) => Some(Self::slurm(id, &number, given.clone())?),
        };
        let kubernetes = match number(KUBERNETES_INDEX)? {
            None => None,
            Some(index) => {
                let count = agreed(given, KUBERNETES_INDEX, index)?;
                if index >= count {
                    return Err(SweepError(format!(
                        "{KUBERNETES_INDEX}={index}: expected an index in 0..{count} (the \
                         Job's completions, {count})"
                    )));
                }
                Some(Self {
                    index: index + 1,
                    count,
                })
            }
        };
        match (slurm, kubernetes) {
            (Some(a), Some(b)) if a != b => Err(SweepError(format!(
                "Slurm's {SLURM_ID} gives shard {}/{} and Kubernetes' {KUBERNETES_INDEX} shard \
                 {}/{}: set one scheduler's variables, or both for the same shard",
                a.index, a.count, b.index, b.count
            ))),
            (Some(shard), _) | (None, Some(shard)) => Ok(shard),
            (None, None) => Err(SweepError(format!(
                "no array index in the environment: expected {SLURM_ID} (a Slurm job array) \
                 or {KUBERNETES_INDEX} (a Kubernetes Indexed Job)"
            ))),
        }
    }

    /// The shard of Slurm array task `id`, its other counts `given`.
    fn slurm(
        id: usize,
        number: &impl Fn(&str) -> Result<Option<usize>, SweepError>,
        mut given: Vec<(String, usize)>,
    ) -> Result<Self, SweepError> {
        let min = number(SLURM_MIN)?.ok_or_else(|| {
            SweepError(format!(
                "{SLURM_ID}={id} without {SLURM_MIN}: expected the array's lowest index too \
                 (Slurm sets both for an array job)"
            ))
        })?;
        let step = number(SLURM_STEP)?.unwrap_or(1);
        if step == 0 {
            return Err(SweepError(format!("{SLURM_STEP}=0: expected a step ≥ 1")));
        }
        if id < min || !(id - min).is_multiple_of(step) {
            return Err(SweepError(format!(
                "{SLURM_ID}={id}: expected {SLURM_MIN}={min} or above it in steps of {step}"
            )));
        }
        if let Some(max) = number(SLURM_MAX)? {
            if id > max {
                return Err(SweepError(format!(
                    "{SLURM_ID}={id}: expected an index in {min}..={max} ({SLURM_MIN}..\
                     {SLURM_MAX})"
                )));
            }
            let tasks = (max - min) / step + 1;
            given.push((
                format!("{SLURM_MIN}..{SLURM_MAX}={min}..{max} in steps of {step}: {tasks} tasks"),
                tasks,
            ));
        }
        if let Some(count) = number(SLURM_COUNT)? {
            given.push((format!("{SLURM_COUNT}={count}"), count));
        }
        let index = (id - min) / step + 1;
        let count = agreed(given, SLURM_ID, id)?;
        if index > count {
            return Err(SweepError(format!(
                "{SLURM_ID}={id} is task {index} from {SLURM_MIN}={min} in steps of {step}, \
                 but the array has {count} tasks"
            )));
        }
        Ok(Self { index, count })
    }

    /// `template` with [`{shard}`](Self::PLACEHOLDER) replaced by the shard's index (a path
    /// that is not Unicode is returned as it is): each array task's own results file, which
    /// a requeued task (the same index) resumes.
    pub fn part_path(&self, template: &Path) -> PathBuf {
        match template.to_str() {
            Some(text) => text
                .replace(Self::PLACEHOLDER, &self.index.to_string())
                .into(),
            None => template.to_path_buf(),
        }
    }

    /// Whether run number `position` (0-based, in grid order) is this shard's.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// The one count that every source in `counts` gives, for the index `name=value`.
fn agreed(counts: Vec<(String, usize)>, name: &str, value: usize) -> Result<usize, SweepError> {
    let Some((_, count)) = counts.first() else {
        return Err(SweepError(format!(
            "{name}={value} without the number of shards: expected {} (or a count given \
             with the index){}",
            Shard::COUNT_VARIABLE,
            if name == SLURM_ID {
                format!(", {SLURM_MAX} or {SLURM_COUNT}")
            } else {
                String::new()
            }
        )));
    };
    if let Some((other, _)) = counts.iter().find(|(_, c)| c != count) {
        return Err(SweepError(format!(
            "{name}={value}: the number of shards disagrees: {} but {other}",
            counts[0].0
        )));
    }
    if *count == 0 {
        return Err(SweepError(format!(
            "{name}={value}: {} shards; expected at least 1",
            counts[0].0
        )));
    }
    Ok(*count)
}

impl FromStr for Shard {
    type Err = SweepError;

    /// [`Shard::parse`].
    fn from_str(text: &str) -> Result<Self, SweepError> {
        Self::parse(text)
    }
}

/// How a process is told its shard: `i/n`, or `auto` to read it from the scheduler's
/// environment ([`Shard::from_env`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// This shard.
    Fixed(Shard),
    /// The array task's shard, from Slurm's or Kubernetes' variables.
    Auto,
}

impl ShardSpec {
    /// The shard: a fixed one as it is, `auto` from `env` ([`Shard::from_env`]). `count`, if
    /// given, is the number of shards, checked against a fixed shard's.
    ///
    /// # Errors
    /// `count` other than a fixed shard's, or what [`Shard::from_env`] refuses.
    pub fn resolve(
        self,
        env: impl Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> Result<Shard, SweepError> {
        match (self, count) {
            (Self::Fixed(shard), Some(count)) if count != shard.count => Err(SweepError(format!(
                "shard {}/{} with a shard count of {count}: expected the same count, or auto",
                shard.index, shard.count
            ))),
            (Self::Fixed(shard), _) => Ok(shard),
            (Self::Auto, count) => Shard::from_env(env, count),
        }
    }
}

impl FromStr for ShardSpec {
    type Err = SweepError;

    /// `auto`, or `i/n` ([`Shard::parse`]).
    fn from_str(text: &str) -> Result<Self, SweepError> {
        if text.trim() == "auto" {
            return Ok(Self::Auto);
        }
        Shard::parse(text)
            .map(Self::Fixed)
            .map_err(|e| SweepError(format!("{e}, or auto")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An environment of `vars` only.
    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| v.to_string())
    }

    fn shard(index: usize, count: usize) -> Shard {
        Shard { index, count }
    }

    fn slurm(id: &str, min: &str, max: &str) -> Vec<(&'static str, String)> {
        vec![
            (SLURM_ID, id.to_string()),
            (SLURM_MIN, min.to_string()),
            (SLURM_MAX, max.to_string()),
        ]
    }

    /// Variables as names and values.
    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn error(vars: &[(&str, &str)], count: Option<usize>) -> String {
        Shard::from_env(env(vars), count).unwrap_err().0
    }

    #[test]
    fn slurm_array_tasks_are_the_shards_in_order() {
        for (id, index) in [("0", 1), ("1", 2), ("2", 3)] {
            let vars = slurm(id, "0", "2");
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(Shard::from_env(env(&vars), None), Ok(shard(index, 3)));
            // With the count too, and with the count alone.
            let mut counted = vars.clone();
            counted.push((SLURM_COUNT, "3"));
            assert_eq!(Shard::from_env(env(&counted), Some(3)), Ok(shard(index, 3)));
            counted.retain(|(k, _)| *k != SLURM_MAX);
            assert_eq!(Shard::from_env(env(&counted), None), Ok(shard(index, 3)));
        }
        // An array from 1 (--array=1-4), and one in steps (--array=10-16:3: 10, 13, 16).
        let one_based = [(SLURM_ID, "4"), (SLURM_MIN, "1"), (SLURM_MAX, "4")];
        assert_eq!(Shard::from_env(env(&one_based), None), Ok(shard(4, 4)));
        let stepped = [
            (SLURM_ID, "13"),
            (SLURM_MIN, "10"),
            (SLURM_MAX, "16"),
            (SLURM_STEP, "3"),
            (SLURM_COUNT, "3"),
        ];
        assert_eq!(Shard::from_env(env(&stepped), None), Ok(shard(2, 3)));
        // Empty variables are not set.
        let empty = [
            (SLURM_ID, "1"),
            (SLURM_MIN, "0"),
            (SLURM_MAX, "2"),
            (KUBERNETES_INDEX, ""),
        ];
        assert_eq!(Shard::from_env(env(&empty), None), Ok(shard(2, 3)));
    }

    #[test]
    fn kubernetes_indices_take_the_count_given() {
        let pod = [(KUBERNETES_INDEX, "2"), (Shard::COUNT_VARIABLE, "3")];
        assert_eq!(Shard::from_env(env(&pod), None), Ok(shard(3, 3)));
        assert_eq!(Shard::from_env(env(&pod), Some(3)), Ok(shard(3, 3)));
        let bare = [(KUBERNETES_INDEX, "0")];
        assert_eq!(Shard::from_env(env(&bare), Some(3)), Ok(shard(1, 3)));
        // Both schedulers' variables, giving the same shard.
        let both = [
            (KUBERNETES_INDEX, "1"),
            (SLURM_ID, "6"),
            (SLURM_MIN, "5"),
            (SLURM_COUNT, "3"),
            (Shard::COUNT_VARIABLE, "3"),
        ];
        assert_eq!(Shard::from_env(env(&both), None), Ok(shard(2, 3)));
    }

    #[test]
    fn bad_environments_are_refused_by_name_and_value() {
        let cases: &[(Vars, Option<usize>, &str)] = &[
            (
                &[],
                None,
                "no array index in the environment: expected SLURM_ARRAY_TASK_ID",
            ),
            (
                &[(SLURM_ID, "x1")],
                None,
                "SLURM_ARRAY_TASK_ID=\"x1\": expected a whole number",
            ),
            (&[(SLURM_ID, "-1")], None, "SLURM_ARRAY_TASK_ID=\"-1\""),
            (
                &[(SLURM_ID, "1")],
                None,
                "SLURM_ARRAY_TASK_ID=1 without SLURM_ARRAY_TASK_MIN",
            ),
            (
                &[(SLURM_ID, "1"), (SLURM_MIN, "0")],
                None,
                "without the number of shards: expected MCNN_SHARD_COUNT (or a count given \
                 with the index), SLURM_ARRAY_TASK_MAX or SLURM_ARRAY_TASK_COUNT",
            ),
            (
                &[(SLURM_ID, "3"), (SLURM_MIN, "0"), (SLURM_MAX, "2")],
                None,
                "SLURM_ARRAY_TASK_ID=3: expected an index in 0..=2",
            ),
            (
                &[(SLURM_ID, "0"), (SLURM_MIN, "1"), (SLURM_MAX, "2")],
                None,
                "SLURM_ARRAY_TASK_ID=0: expected SLURM_ARRAY_TASK_MIN=1 or above",
            ),
            (
                &[
                    (SLURM_ID, "1"),
                    (SLURM_MIN, "0"),
                    (SLURM_MAX, "2"),
                    (SLURM_COUNT, "4"),
                ],
                None,
                "the number of shards disagrees: SLURM_ARRAY_TASK_MIN..SLURM_ARRAY_TASK_MAX=0..2 \
                 in steps of 1: 3 tasks but SLURM_ARRAY_TASK_COUNT=4",
            ),
            // --array=1,3,7: not a range.
            (
                &[
                    (SLURM_ID, "3"),
                    (SLURM_MIN, "1"),
                    (SLURM_MAX, "7"),
                    (SLURM_COUNT, "3"),
                ],
                None,
                "7 tasks but SLURM_ARRAY_TASK_COUNT=3",
            ),
            (
                &[(SLURM_ID, "1"), (SLURM_MIN, "0"), (SLURM_MAX, "2")],
                Some(4),
                "the given shard count 4 but SLURM_ARRAY_TASK_MIN..SLURM_ARRAY_TASK_MAX=0..2",
            ),
            (
                &[(SLURM_ID, "2"), (SLURM_MIN, "0"), (SLURM_STEP, "0")],
                None,
                "SLURM_ARRAY_TASK_STEP=0: expected a step ≥ 1",
            ),
            (
                &[(SLURM_ID, "0"), (SLURM_MIN, "0"), (SLURM_COUNT, "0")],
                None,
                "SLURM_ARRAY_TASK_ID=0: SLURM_ARRAY_TASK_COUNT=0 shards; expected at least 1",
            ),
            (
                &[(KUBERNETES_INDEX, "1")],
                None,
                "JOB_COMPLETION_INDEX=1 without the number of shards: expected MCNN_SHARD_COUNT",
            ),
            (
                &[(KUBERNETES_INDEX, "3"), (Shard::COUNT_VARIABLE, "3")],
                None,
                "JOB_COMPLETION_INDEX=3: expected an index in 0..3",
            ),
            (
                &[(KUBERNETES_INDEX, "0"), (Shard::COUNT_VARIABLE, "three")],
                None,
                "MCNN_SHARD_COUNT=\"three\": expected a whole number ≥ 0",
            ),
            (
                &[(KUBERNETES_INDEX, "0"), (Shard::COUNT_VARIABLE, "3")],
                Some(2),
                "disagrees: the given shard count 2 but MCNN_SHARD_COUNT=3",
            ),
            (
                &[(KUBERNETES_INDEX, "0")],
                Some(0),
                "JOB_COMPLETION_INDEX=0: the given shard count 0 shards; expected at least 1",
            ),
            (
                &[
                    (KUBERNETES_INDEX, "0"),
                    (SLURM_ID, "1"),
                    (SLURM_MIN, "0"),
                    (SLURM_MAX, "2"),
                ],
                Some(3),
                "Slurm's SLURM_ARRAY_TASK_ID gives shard 2/3 and Kubernetes' \
                 JOB_COMPLETION_INDEX shard 1/3",
            ),
        ];
        for (vars, count, expected) in cases {
            let error = error(vars, *count);
            assert!(error.contains(expected), "{vars:?}: {error}");
        }
    }

    #[test]
    fn specs_parse_and_resolve() {
        assert_eq!("auto".parse(), Ok(ShardSpec::Auto));
        assert_eq!("2/3".parse(), Ok(ShardSpec::Fixed(shard(2, 3))));
        let error = "auto3".parse::<ShardSpec>().unwrap_err().0;
        assert_eq!(
            error,
            "shard \"auto3\": expected i/n with 1 ≤ i ≤ n, e.g. 2/4, or auto"
        );
        // A fixed shard ignores the environment; auto reads it.
        let vars = [(KUBERNETES_INDEX, "1")];
        let fixed = ShardSpec::Fixed(shard(1, 2));
        assert_eq!(fixed.resolve(env(&vars), None), Ok(shard(1, 2)));
        assert_eq!(fixed.resolve(env(&vars), Some(2)), Ok(shard(1, 2)));
        assert!(fixed.resolve(env(&vars), Some(3)).is_err());
        assert_eq!(
            ShardSpec::Auto.resolve(env(&vars), Some(2)),
            Ok(shard(2, 2))
        );
    }

    #[test]
    fn parts_are_named_by_index() {
        let part = shard(2, 3).part_path(Path::new("runs/part-{shard}.jsonl"));
        assert_eq!(part, Path::new("runs/part-2.jsonl"));
        let plain = shard(2, 3).part_path(Path::new("all.jsonl"));
        assert_eq!(plain, Path::new("all.jsonl"));
    }
}
