//! Accuracy sweeps over a grid (experiment × setting × seed × backend) that survive
//! interruption and split across machines: the runs of a shard, a results file that a rerun
//! resumes from and that shards' files merge into, the experiments and their [`Runner`], and
//! the per-setting, per-backend summary with the cross-backend difference ([`report`]). A
//! shard is given as `i/n` or read from a Slurm job array's or Kubernetes Indexed Job's
//! variables ([`Shard::from_env`]).
//!
//! ```
//! use mcnn::backends::BackendKind;
//! use mcnn::sweep::{Experiment, Grid, Shard};
//!
//! let grid = Grid::new(Experiment::Paths, &["4096", "16384"], 3, vec![BackendKind::Flex]).unwrap();
//! assert_eq!(grid.runs().len(), 6);
//! // Machine 2 of 3 takes every third run, starting with the second.
//! assert_eq!(grid.shard(Shard::parse("2/3").unwrap(), false).len(), 2);
//! // Settings are parsed when the grid is built.
//! assert!(Grid::new(Experiment::Partitions, &["1"], 3, vec![BackendKind::Flex]).is_err());
//! ```

mod experiment;
mod paths_setup;
mod report;
mod setting;
mod shard;

pub use experiment::{Experiment, Runner};
pub use paths_setup::{PathSource, PathsDuplicates, PathsInit, PathsSetup};
pub use report::report;
pub use setting::{Setting, SettingValue};
pub use shard::{Shard, ShardSpec};

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

// Serde through Burn's re-export (with its derive feature): the crate's manifest names only
// serde_json.
use burn::serde::{Deserialize, Deserializer, Serialize};
use mcnn_backends::BackendKind;

/// What went wrong with a sweep's input: a bad argument, or a results file that cannot be
/// read, written or trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepError(pub String);

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SweepError {}

/// One run of a grid: which experiment, setting (the swept parameter's value, parsed for the
/// experiment), seed and backend.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunKey {
    /// The experiment.
    pub experiment: Experiment,
    /// The swept parameter's value.
    pub setting: Setting,
    /// Seed of the initial weights and the data order (the same on every backend).
    pub seed: u64,
    /// The backend.
    pub backend: BackendKind,
}

/// A grid of runs, in the order they run: setting, then seed, then backend, so that the
/// backends of one (setting, seed) run one after the other and a partial sweep already
/// compares them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// The experiment.
    pub experiment: Experiment,
    /// The swept values.
    pub settings: Vec<Setting>,
    /// Seeds `1..=seeds`.
    pub seeds: u64,
    /// The backends (compiled in or not: a run on one that is not fails).
    pub backends: Vec<BackendKind>,
}

impl Grid {
    /// A grid of `settings × 1..=seeds × backends`, the settings parsed for `experiment`
    /// ([`Experiment::settings`]).
    ///
    /// # Errors
    /// No settings, or one that the experiment does not allow (the message names the setting).
    pub fn new<S: AsRef<str>>(
        experiment: Experiment,
        settings: &[S],
        seeds: u64,
        backends: Vec<BackendKind>,
    ) -> Result<Self, SweepError> {
        Ok(Self {
            experiment,
            settings: experiment.settings(settings)?,
            seeds,
            backends,
        })
    }

    /// Every run, in order.
    pub fn runs(&self) -> Vec<RunKey> {
        let mut runs = Vec::new();
        for setting in &self.settings {
            for seed in 1..=self.seeds {
                for backend in &self.backends {
                    runs.push(RunKey {
                        experiment: self.experiment,
                        setting: setting.clone(),
                        seed,
                        backend: *backend,
                    });
                }
            }
        }
        runs
    }

    /// The runs of `shard`, in order: every `count`-th run from the `index`-th; with
    /// `by_training`, every `count`-th (seed, backend) pair with all its settings, so that a
    /// shard of an experiment that trains once per (seed, backend) (see
    /// [`Experiment::trains_once_per_seed_and_backend`]) trains each of its networks once.
    pub fn shard(&self, shard: Shard, by_training: bool) -> Vec<RunKey> {
        let pairs = self.seeds as usize * self.backends.len();
        self.runs()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.contains(if by_training { i % pairs } else { *i }))
            .map(|(_, key)| key)
            .collect()
    }
}

/// A finished run: its key and what it measured. One line of a results file, as JSON: the
/// key's fields by name (`experiment`, `setting` and `backend` as their names, `seed`), the
/// measurements (`trained_accuracy` only where there is one), and the [`RunExtras`] that
/// were recorded, each under its own name; the keys in alphabetical order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", try_from = "RowFields", into = "RowFields")]
pub struct RunRow {
    /// Which run.
    pub key: RunKey,
    /// Final test accuracy (of the sampled network in the sampling experiments).
    pub accuracy: f64,
    /// The sampling experiments: the test accuracy of the trained network before sampling.
    pub trained_accuracy: Option<f64>,
    /// Mean training seconds per epoch.
    pub seconds_per_epoch: f64,
    /// The losses of the first training steps (none in rows converted from files that did
    /// not record them).
    pub first_losses: Vec<f64>,
    /// What else the run recorded.
    pub extras: RunExtras,
}

/// What a run records beyond its accuracy and time, where it has it: absent in files written
/// before it was recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunExtras {
    /// Training epochs.
    pub epochs: Option<usize>,
    /// Adam's (initial) learning rate.
    pub learning_rate: Option<f64>,
    /// [`Experiment::Paths`]: the networks' setup.
    pub network: Option<PathsSetup>,
    /// Peak heap MiB of the run above the level before it (where a counting allocator
    /// measured it: the E5 example).
    pub peak_mib: Option<f64>,
    /// [`Experiment::Paths`]: the trained weights (edges; the dense baseline's products of
    /// widths), biases not counted.
    pub weights: Option<usize>,
}

/// A results file's line as it is written: the fields in alphabetical order, as the files
/// have always had them.
#[derive(Serialize, Deserialize)]
#[serde(crate = "burn::serde")]
struct RowFields {
    accuracy: f64,
    backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epochs: Option<usize>,
    experiment: String,
    first_losses: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network: Option<PathsSetup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peak_mib: Option<f64>,
    seconds_per_epoch: f64,
    seed: u64,
    setting: String,
    // Absent in files written before it was recorded, and in the other experiments; a
    // number where present.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_number"
    )]
    trained_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights: Option<usize>,
}

/// A field that, where present, is a number (not `null`).
fn present_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    f64::deserialize(deserializer).map(Some)
}

impl From<RunRow> for RowFields {
    fn from(row: RunRow) -> Self {
        Self {
            accuracy: row.accuracy,
            backend: row.key.backend.to_string(),
            epochs: row.extras.epochs,
            experiment: row.key.experiment.name(),
            first_losses: row.first_losses,
            learning_rate: row.extras.learning_rate,
            network: row.extras.network,
            peak_mib: row.extras.peak_mib,
            seconds_per_epoch: row.seconds_per_epoch,
            seed: row.key.seed,
            setting: row.key.setting.text().to_string(),
            trained_accuracy: row.trained_accuracy,
            weights: row.extras.weights,
        }
    }
}

impl TryFrom<RowFields> for RunRow {
    type Error = String;

    /// The row the fields say, [`check`](RunRow::check)ed.
    fn try_from(fields: RowFields) -> Result<Self, String> {
        let experiment = Experiment::parse(&fields.experiment).map_err(|e| e.0)?;
        let row = RunRow {
            key: RunKey {
                experiment,
                setting: Setting::parse(experiment, &fields.setting).map_err(|e| e.0)?,
                seed: fields.seed,
                backend: fields
                    .backend
                    .parse()
                    .map_err(|e| format!("backend: {e}"))?,
            },
            accuracy: fields.accuracy,
            trained_accuracy: fields.trained_accuracy,
            seconds_per_epoch: fields.seconds_per_epoch,
            first_losses: fields.first_losses,
            extras: RunExtras {
                epochs: fields.epochs,
                learning_rate: fields.learning_rate,
                network: fields.network,
                peak_mib: fields.peak_mib,
                weights: fields.weights,
            },
        };
        row.check()?;
        Ok(row)
    }
}

impl RunRow {
    /// The row as a results file's line (without its newline).
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a row's fields serialize")
    }

    /// The row a results file's line says, checked ([`check`](Self::check)): or what is
    /// wrong, naming the field and its value.
    fn from_json(line: &str) -> Result<Self, String> {
        let fields: RowFields =
            serde_json::from_str(line).map_err(|e| format!("not a run's fields: {e}"))?;
        fields.try_into()
    }

    /// Checks what a row says against its experiment: a setting the experiment allows,
    /// accuracies in `[0, 1]`, a time, losses, a learning rate and a peak that are finite (the
    /// rate positive), a network only for paths runs.
    ///
    /// # Errors
    /// What is wrong, naming the field and its value.
    pub fn check(&self) -> Result<(), String> {
        self.key
            .setting
            .check_for(self.key.experiment)
            .map_err(|e| e.0)?;
        let accuracies = [Some(self.accuracy), self.trained_accuracy];
        for (name, value) in ["accuracy", "trained_accuracy"].iter().zip(accuracies) {
            if let Some(value) = value
                && !(0.0..=1.0).contains(&value)
            {
                return Err(format!("{name} {value} is not in [0, 1]"));
            }
        }
        if !(self.seconds_per_epoch.is_finite() && self.seconds_per_epoch >= 0.0) {
            return Err(format!(
                "seconds_per_epoch {} is not a finite time ≥ 0",
                self.seconds_per_epoch
            ));
        }
        if let Some(loss) = self.first_losses.iter().find(|l| !l.is_finite()) {
            return Err(format!("first_losses holds {loss}"));
        }
        let extras = &self.extras;
        if let Some(rate) = extras.learning_rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!("learning_rate {rate} is not finite and positive"));
        }
        if let Some(peak) = extras.peak_mib
            && !(peak.is_finite() && peak >= 0.0)
        {
            return Err(format!("peak_mib {peak} is not a finite size ≥ 0"));
        }
        if extras.network.is_some() && self.key.experiment != Experiment::Paths {
            return Err(format!(
                "network is recorded for a run of {}, not of paths",
                self.key.experiment
            ));
        }
        Ok(())
    }
}

/// A results file of JSON lines, one per finished run, appended (and flushed to disk) as
/// each run finishes. Opening it reads what is there, so a rerun skips the finished runs.
pub struct ResultsFile {
    path: PathBuf,
    file: File,
    rows: Vec<RunRow>,
    done: HashSet<RunKey>,
}

impl ResultsFile {
    /// Opens (or creates) the results file at `path` and reads its finished runs.
    ///
    /// A last line without its newline is a run whose writing was interrupted: it is cut off
    /// (said on stderr) and the run will be done again. Any other line that is not a run
    /// is an error, and nothing is written.
    ///
    /// # Errors
    /// A message naming the file (and the line) if it cannot be opened, read or parsed.
    pub fn open(path: &Path) -> Result<Self, SweepError> {
        let context =
            |e: std::io::Error| SweepError(format!("results file {}: {e}", path.display()));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(context)?;
        let text = std::fs::read_to_string(path).map_err(context)?;
        let (rows, complete) = parse_rows(path, &text)?;
        if complete < text.len() {
            eprintln!(
                "results file {}: its last line was cut off while being written; dropping it \
                 (that run will be done again)",
                path.display()
            );
            file.set_len(complete as u64).map_err(context)?;
        }
        file.seek(std::io::SeekFrom::End(0)).map_err(context)?;
        let done = rows.iter().map(|r| r.key.clone()).collect();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            rows,
            done,
        })
    }

    /// Reads the finished runs of the results file at `path` without changing it (a cut-off
    /// last line is skipped, said on stderr): for merging the parts of a sharded sweep.
    ///
    /// # Errors
    /// A message naming the file (and the line) if it cannot be read or parsed.
    pub fn read(path: &Path) -> Result<Vec<RunRow>, SweepError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SweepError(format!("results file {}: {e}", path.display())))?;
        let (rows, complete) = parse_rows(path, &text)?;
        if complete < text.len() {
            eprintln!(
                "results file {}: its last line was cut off while being written; ignoring it",
                path.display()
            );
        }
        Ok(rows)
    }

    /// Appends the runs of `rows` that this file does not have yet (the parts of a sharded
    /// sweep, read with [`read`](Self::read)); a run it has already keeps its first result.
    /// Returns how many were appended.
    ///
    /// # Errors
    /// A run of another experiment than the file's (nothing of it is appended), or a file
    /// that cannot be written; the message names the file.
    pub fn merge(&mut self, rows: &[RunRow]) -> Result<usize, SweepError> {
        let mut added = 0;
        for row in rows {
            self.check_experiment(row.key.experiment)?;
            if !self.is_done(&row.key) {
                self.append(row.clone())?;
                added += 1;
            }
        }
        Ok(added)
    }

    /// Checks that the file's runs (if it has any) are of `experiment`: one file holds one
    /// experiment, as its report compares values of one swept parameter.
    ///
    /// # Errors
    /// A message naming the file, the experiment it holds and `experiment`.
    pub fn check_experiment(&self, experiment: Experiment) -> Result<(), SweepError> {
        match self.rows.first() {
            Some(row) if row.key.experiment != experiment => Err(SweepError(format!(
                "results file {} holds runs of experiment {:?}, not {:?}: use one file per \
                 experiment",
                self.path.display(),
                row.key.experiment.name(),
                experiment.name()
            ))),
            _ => Ok(()),
        }
    }

    /// Whether `key` has finished (in this file).
    pub fn is_done(&self, key: &RunKey) -> bool {
        self.done.contains(key)
    }

    /// The finished runs, in the order they were written.
    pub fn rows(&self) -> &[RunRow] {
        &self.rows
    }

    /// Appends a finished run and flushes it to disk.
    ///
    /// # Errors
    /// A message naming the file if it cannot be written.
    pub fn append(&mut self, row: RunRow) -> Result<(), SweepError> {
        let context =
            |e: std::io::Error| SweepError(format!("results file {}: {e}", self.path.display()));
        writeln!(self.file, "{}", row.to_json()).map_err(context)?;
        self.file.sync_data().map_err(context)?;
        self.done.insert(row.key.clone());
        self.rows.push(row);
        Ok(())
    }
}

/// The runs in `text` (the contents of the results file at `path`) and the length of its
/// complete lines: a last line without its newline was cut off while being written and is
/// left out; any other line that is not a run is an error.
fn parse_rows(path: &Path, text: &str) -> Result<(Vec<RunRow>, usize), SweepError> {
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    let mut rows = Vec::new();
    for (n, line) in text[..complete].lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| {
            SweepError(format!(
                "results file {}: line {} is not a finished run ({why}: {:?}); fix or remove \
                 it, the other runs are kept",
                path.display(),
                n + 1,
                line.chars().take(80).collect::<String>()
            ))
        };
        rows.push(RunRow::from_json(line).map_err(bad)?);
    }
    Ok((rows, complete))
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The accuracies of one setting on one backend, summarised.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The setting.
    pub setting: Setting,
    /// The backend.
    pub backend: BackendKind,
    /// Runs (seeds).
    pub runs: usize,
    /// Mean and standard deviation of the accuracy over the seeds.
    pub accuracy: (f64, f64),
    /// Mean and standard deviation of the trained networks' accuracy before sampling, if
    /// every run recorded it.
    pub trained_accuracy: Option<(f64, f64)>,
    /// Mean seconds per epoch.
    pub seconds_per_epoch: f64,
}

/// Per setting and backend, the summary of `rows`: the settings in increasing value, the
/// backends in the order they first appear (the first is the one the others are compared
/// with), each cell's runs in order of seed. The order of the rows does not matter otherwise,
/// so the merged parts of a sharded sweep summarise as the unsharded sweep does (merged in
/// order, so that the grid's first run, and with it its first backend, comes first).
pub fn cells(rows: &[RunRow]) -> Vec<Cell> {
    let mut settings: Vec<&Setting> = Vec::new();
    let mut backends: Vec<BackendKind> = Vec::new();
    for row in rows {
        if !settings.contains(&&row.key.setting) {
            settings.push(&row.key.setting);
        }
        if !backends.contains(&row.key.backend) {
            backends.push(row.key.backend);
        }
    }
    // Stable: settings of equal value ("4096" and "4096.0") keep their order.
    settings.sort_by(|a, b| a.value().as_f64().total_cmp(&b.value().as_f64()));
    let mut cells = Vec::new();
    for setting in settings {
        for &backend in &backends {
            let mut mine: Vec<&RunRow> = rows
                .iter()
                .filter(|r| r.key.setting == *setting && r.key.backend == backend)
                .collect();
            if mine.is_empty() {
                continue;
            }
            mine.sort_by_key(|r| r.key.seed);
            let accuracies: Vec<f64> = mine.iter().map(|r| r.accuracy).collect();
            let seconds: Vec<f64> = mine.iter().map(|r| r.seconds_per_epoch).collect();
            let trained: Option<Vec<f64>> = mine.iter().map(|r| r.trained_accuracy).collect();
            cells.push(Cell {
                setting: setting.clone(),
                backend,
                runs: mine.len(),
                accuracy: mean_sd(&accuracies),
                trained_accuracy: trained.map(|t| mean_sd(&t)),
                seconds_per_epoch: mean_sd(&seconds).0,
            });
        }
    }
    cells
}

/// The difference between two backends' mean accuracies for one setting, with Welch's `t`:
/// the difference over its standard error. Within seed noise means `|t| < 2` (about the 95%
/// level); with fewer than two runs on a side there is no spread to compare with.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    /// `b`'s mean minus `a`'s.
    pub difference: f64,
    /// Welch's `t`, or `None` without a spread.
    pub t: Option<f64>,
}

impl Difference {
    /// The difference between cells `a` and `b`.
    pub fn between(a: &Cell, b: &Cell) -> Self {
        let difference = b.accuracy.0 - a.accuracy.0;
        let variance = a.accuracy.1.powi(2) / a.runs as f64 + b.accuracy.1.powi(2) / b.runs as f64;
        let t =
            (a.runs >= 2 && b.runs >= 2 && variance > 0.0).then(|| difference / variance.sqrt());
        Self { difference, t }
    }

    /// `|t| < 2`.
    pub fn within_noise(&self) -> Option<bool> {
        self.t.map(|t| t.abs() < 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sampled_linear::LayerSelection;

    fn row(setting: &str, seed: u64, backend: &str, accuracy: f64) -> RunRow {
        RunRow {
            key: RunKey {
                experiment: Experiment::Paths,
                setting: Setting::parse(Experiment::Paths, setting).unwrap(),
                seed,
                backend: backend.parse().unwrap(),
            },
            accuracy,
            trained_accuracy: (setting == "200").then_some(0.9),
            seconds_per_epoch: 1.5,
            first_losses: vec![2.3, 2.1],
            extras: RunExtras::default(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("mcnn-sweep-{name}-{}.jsonl", std::process::id()));
        std::fs::remove_file(&path).ok();
        path
    }

    #[test]
    fn shards_split_the_grid_exactly_once() {
        let (x, y) = (BackendKind::Flex, BackendKind::Wgpu);
        let grid = Grid::new(Experiment::Paths, &["1", "2", "3"], 2, vec![x, y]).unwrap();
        let runs = grid.runs();
        assert_eq!(runs.len(), 12);
        assert_eq!((runs[1].backend, runs[1].seed), (y, 1));
        for by_training in [false, true] {
            let mut seen = vec![0; 12];
            for i in 1..=5 {
                let shard = Shard::parse(&format!("{i}/5")).unwrap();
                for key in grid.shard(shard, by_training) {
                    seen[runs.iter().position(|r| *r == key).unwrap()] += 1;
                }
            }
            assert_eq!(seen, vec![1; 12], "by training: {by_training}");
        }
        // By training, a shard holds every setting of its (seed, backend) pairs: shard 2/3
        // takes pair 2 (seed 1, y), and pair 5 does not exist (4 pairs).
        let shard = grid.shard(Shard::parse("2/3").unwrap(), true);
        let pairs: Vec<_> = shard
            .iter()
            .map(|k| (k.setting.text(), k.seed, k.backend))
            .collect();
        assert_eq!(pairs, [("1", 1, y), ("2", 1, y), ("3", 1, y)]);
        for bad in ["0/3", "4/3", "2", "a/b", "1/0"] {
            let error = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(error.starts_with(&format!("shard {bad:?}: ")), "{error}");
        }
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        let error = Grid::new(Experiment::Paths, &["1", "0"], 2, vec![x]).unwrap_err();
        assert!(
            error.0.starts_with("setting \"0\" is not allowed"),
            "{error}"
        );
    }

    #[test]
    fn a_reopened_file_knows_its_runs_and_appends_after_them() {
        let path = temp("resume");
        let mut file = ResultsFile::open(&path).unwrap();
        file.append(row("4096", 1, "flex", 0.96)).unwrap();
        file.append(row("4096", 1, "wgpu", 0.9601)).unwrap();
        drop(file);
        let mut file = ResultsFile::open(&path).unwrap();
        assert!(file.is_done(&row("4096", 1, "wgpu", 0.0).key));
        assert!(!file.is_done(&row("4096", 2, "flex", 0.0).key));
        file.append(row("4096", 2, "flex", 0.97)).unwrap();
        drop(file);
        let file = ResultsFile::open(&path).unwrap();
        assert_eq!(file.rows().len(), 3);
        assert_eq!(file.rows()[2], row("4096", 2, "flex", 0.97));
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn a_cut_off_last_line_is_dropped_and_a_corrupted_line_is_an_error() {
        let path = temp("cut");
        let mut file = ResultsFile::open(&path).unwrap();
        file.append(row("100", 1, "flex", 0.5)).unwrap();
        drop(file);
        let whole = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{whole}{{\"experiment\": \"pa")).unwrap();
        let mut file = ResultsFile::open(&path).unwrap();
        assert_eq!(file.rows().len(), 1, "the finished run is kept");
        file.append(row("100", 2, "flex", 0.6)).unwrap();
        drop(file);
        assert_eq!(ResultsFile::open(&path).unwrap().rows().len(), 2);

        std::fs::write(&path, format!("{whole}not json\n{whole}")).unwrap();
        let error = ResultsFile::open(&path).err().unwrap().to_string();
        assert!(error.contains("line 2 is not a finished run"), "{error}");
        // Nothing was written: the finished rows are still there.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{whole}not json\n{whole}")
        );
        std::fs::remove_file(&path).ok();
    }

    /// Rows that parse as JSON but say something impossible are refused by line and field,
    /// for a run, a report and a merge alike (they all read through `parse_rows`).
    #[test]
    fn rows_are_checked_against_their_experiment() {
        let good = row("100", 1, "flex", 0.5);
        assert_eq!(good.check(), Ok(()));
        let line = good.to_json();
        let edit = |from: &str, to: &str| {
            assert!(line.contains(from), "{from} in {line}");
            line.replace(from, to)
        };
        let cases = [
            (
                edit("\"accuracy\":0.5", "\"accuracy\":-5.0"),
                "accuracy -5 is not in [0, 1]",
            ),
            (
                edit("\"setting\"", "\"trained_accuracy\":1.5,\"setting\""),
                "trained_accuracy 1.5",
            ),
            (
                edit("\"backend\":\"flex\"", "\"backend\":\"tpu\""),
                "unknown backend `tpu`",
            ),
            (
                edit("\"setting\":\"100\"", "\"setting\":\"lots\""),
                "\"lots\" is not allowed for experiment paths",
            ),
            (
                edit("\"experiment\":\"paths\"", "\"experiment\":\"pathz\""),
                "unknown experiment \"pathz\"",
            ),
            (
                edit("\"seconds_per_epoch\":1.5", "\"seconds_per_epoch\":-1.0"),
                "seconds_per_epoch -1",
            ),
            (edit("\"seed\":1", "\"seed\":1.5"), "not a run's fields"),
            (
                edit("\"setting\"", "\"trained_accuracy\":null,\"setting\""),
                "not a run's fields",
            ),
            (edit(",\"seed\":1", ""), "missing field `seed`"),
        ];
        for (bad, expected) in cases {
            let path = temp("checked");
            std::fs::write(&path, format!("{line}\n{bad}\n")).unwrap();
            let error = ResultsFile::read(&path).unwrap_err().to_string();
            assert!(
                error.contains("line 2 is not a finished run") && error.contains(expected),
                "{expected}: {error}"
            );
            assert!(ResultsFile::open(&path).is_err());
            std::fs::remove_file(&path).ok();
        }
        // A setting parsed for another experiment is refused too.
        let mut other = good.clone();
        other.key.setting = Setting::parse(Experiment::Partitions, "100").unwrap();
        let error = other.check().unwrap_err();
        assert!(error.contains("parsed for another experiment"), "{error}");
    }

    /// The file's format is unchanged: the keys in alphabetical order, `trained_accuracy`
    /// last and only where there is one, the names of experiment, setting and backend.
    #[test]
    fn rows_are_written_as_they_always_were() {
        let line = "{\"accuracy\":0.2078,\"backend\":\"flex\",\"experiment\":\"sampled-conv\",\
                    \"first_losses\":[2.315642833709717,2.290785312652588],\
                    \"seconds_per_epoch\":3.6134048075,\"seed\":1,\"setting\":\"0.25\",\
                    \"trained_accuracy\":0.4879}";
        let recorded = RunRow::from_json(line).unwrap();
        assert_eq!(
            recorded.key.experiment,
            Experiment::SampledConv(LayerSelection::All)
        );
        assert_eq!(recorded.key.setting.value(), SettingValue::Amount(0.25));
        assert_eq!(recorded.key.backend, BackendKind::Flex);
        assert_eq!(recorded.trained_accuracy, Some(0.4879));
        assert_eq!(recorded.to_json(), line);
        let untrained = row("2048", 3, "wgpu", 0.8118);
        assert_eq!(
            untrained.to_json(),
            "{\"accuracy\":0.8118,\"backend\":\"wgpu\",\"experiment\":\"paths\",\
             \"first_losses\":[2.3,2.1],\"seconds_per_epoch\":1.5,\"seed\":3,\"setting\":\"2048\"}"
        );
        assert_eq!(RunRow::from_json(&untrained.to_json()), Ok(untrained));
        // A selection is written by name.
        let mut hidden = row("2", 1, "flex", 0.5);
        hidden.key.experiment = Experiment::Sampled(LayerSelection::Hidden);
        hidden.key.setting = Setting::parse(hidden.key.experiment, "2").unwrap();
        assert!(
            hidden
                .to_json()
                .contains("\"experiment\":\"sampled/hidden\"")
        );
    }

    /// What else a run recorded is written under its own names, read back, and checked.
    #[test]
    fn extras_round_trip_and_are_checked() {
        let mut dense = row("dense", 1, "flex", 0.98);
        dense.extras = RunExtras {
            epochs: Some(5),
            learning_rate: Some(3e-3),
            network: Some(PathsSetup::default()),
            peak_mib: Some(21.5),
            weights: Some(328_200),
        };
        let line = dense.to_json();
        assert_eq!(
            line,
            "{\"accuracy\":0.98,\"backend\":\"flex\",\"epochs\":5,\"experiment\":\"paths\",\
             \"first_losses\":[2.3,2.1],\"learning_rate\":0.003,\"network\":{\"duplicates\":\
             \"merge\",\"fixed_sign\":false,\"init\":\"kaiming\",\"widths\":[784,300,300,10]},\
             \"peak_mib\":21.5,\"seconds_per_epoch\":1.5,\"seed\":1,\"setting\":\"dense\",\
             \"weights\":328200}"
        );
        assert_eq!(RunRow::from_json(&line), Ok(dense.clone()));
        let bad = |edit: fn(&mut RunRow)| {
            let mut row = dense.clone();
            edit(&mut row);
            row.check().unwrap_err()
        };
        assert!(bad(|r| r.extras.peak_mib = Some(-1.0)).starts_with("peak_mib -1"));
        assert!(bad(|r| r.extras.learning_rate = Some(0.0)).starts_with("learning_rate 0"));
        let error = bad(|r| {
            r.key.experiment = Experiment::Partitions;
            r.key.setting = Setting::parse(Experiment::Partitions, "4").unwrap();
        });
        assert_eq!(
            error,
            "network is recorded for a run of partitions, not of paths"
        );
        let error = RunRow::from_json(&line.replace("\"keep\"", "x").replace("merge", "spread"))
            .unwrap_err();
        assert!(error.contains("unknown variant `spread`"), "{error}");
    }

    /// The results files in `docs/results` still read, and write back as they were.
    #[test]
    fn the_recorded_results_files_read_and_round_trip() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/results");
        let mut files = 0;
        for sub in [dir.clone(), dir.join("sweep_paths_shards")] {
            for entry in std::fs::read_dir(&sub).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if !(name.ends_with(".jsonl")
                    && (name.starts_with("sweep_")
                        || name.starts_with("e5_")
                        || name.starts_with("part-")
                        || name == "all.jsonl"))
                {
                    continue;
                }
                let rows = ResultsFile::read(&path).unwrap();
                assert!(!rows.is_empty(), "{name}");
                let text = std::fs::read_to_string(&path).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len(), rows.len(), "{name}");
                // The same keys, types and values (as serde_json reads numbers: without its
                // `float_roundtrip` feature a number may come back one ulp off, as it did when
                // rows were read through `serde_json::Value`).
                let value = |line: &str| serde_json::from_str::<serde_json::Value>(line).unwrap();
                for (n, (row, line)) in rows.iter().zip(lines).enumerate() {
                    assert_eq!(value(&row.to_json()), value(line), "{name}, line {}", n + 1);
                }
                files += 1;
            }
        }
        assert!(files >= 14, "{files} files");
    }

    #[test]
    fn shard_parts_merge_into_one_file_without_changing_the_parts() {
        let (one, two, all) = (temp("part-1"), temp("part-2"), temp("all"));
        let mut part = ResultsFile::open(&one).unwrap();
        part.append(row("100", 1, "flex", 0.5)).unwrap();
        part.append(row("200", 1, "flex", 0.6)).unwrap();
        let mut part = ResultsFile::open(&two).unwrap();
        part.append(row("100", 2, "flex", 0.7)).unwrap();
        // The same run in both parts (overlapping shards): the first result is kept.
        part.append(row("100", 1, "flex", 0.9)).unwrap();
        drop(part);
        let text = std::fs::read_to_string(&two).unwrap() + "{\"experiment\"";
        std::fs::write(&two, &text).unwrap();

        let mut merged = ResultsFile::open(&all).unwrap();
        assert_eq!(merged.merge(&ResultsFile::read(&one).unwrap()).unwrap(), 2);
        assert_eq!(merged.merge(&ResultsFile::read(&two).unwrap()).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&two).unwrap(),
            text,
            "parts are read only"
        );
        let mut other = row("100", 3, "flex", 0.8);
        other.key.experiment = Experiment::Sampled(LayerSelection::All);
        let error = merged.merge(&[other]).unwrap_err().to_string();
        assert!(
            error.contains("holds runs of experiment \"paths\", not \"sampled\""),
            "{error}"
        );
        drop(merged);
        let rows = ResultsFile::open(&all).unwrap().rows().to_vec();
        assert_eq!(
            rows,
            [
                row("100", 1, "flex", 0.5),
                row("200", 1, "flex", 0.6),
                row("100", 2, "flex", 0.7)
            ]
        );
        assert!(ResultsFile::read(&temp("missing")).is_err());
        for path in [one, two, all] {
            std::fs::remove_file(path).ok();
        }
    }

    #[test]
    fn cells_and_differences_by_hand() {
        let rows = vec![
            row("100", 1, "flex", 0.90),
            row("100", 2, "flex", 0.92),
            row("100", 1, "wgpu", 0.91),
            row("100", 2, "wgpu", 0.93),
        ];
        let cells = cells(&rows);
        assert_eq!(cells.len(), 2);
        let (mean, sd) = cells[0].accuracy;
        assert!((mean - 0.91).abs() < 1e-12 && (sd - 0.02f64.sqrt() / 10.0).abs() < 1e-12);
        let d = Difference::between(&cells[0], &cells[1]);
        // 0.01 / sqrt(0.0002/2 + 0.0002/2) = 0.01 / 0.01414 = 0.707
        assert!((d.difference - 0.01).abs() < 1e-12);
        assert!((d.t.unwrap() - 0.01 / 0.0002f64.sqrt()).abs() < 1e-9);
        assert_eq!(d.within_noise(), Some(true));
        let single = Cell {
            runs: 1,
            ..cells[0].clone()
        };
        assert_eq!(Difference::between(&single, &cells[1]).t, None);
        // Trained accuracies (before sampling) are summarised only where every run has one.
        assert_eq!(cells[0].trained_accuracy, None);
        let sampled = super::cells(&[row("200", 1, "flex", 0.5), row("200", 2, "flex", 0.6)]);
        assert_eq!(sampled[0].trained_accuracy, Some((0.9, 0.0)));
    }
}
