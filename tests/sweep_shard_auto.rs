//! `--shard auto` as the sweep example does it, for the 3 tasks of a Slurm job array and of a
//! Kubernetes Indexed Job: each task resolves its shard from the scheduler's variables (looked
//! up in a map, not the process's environment), writes its own part (`{shard}` in the path),
//! a requeued task resumes its part, and the parts merged report exactly as the unsharded
//! sweep. The runs are synthetic rows: what is checked is the split, not the training.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mcnn::backends::BackendKind;
use mcnn::sampled_linear::LayerSelection;
use mcnn::sweep::{
    Experiment, Grid, ResultsFile, RunExtras, RunKey, RunRow, Shard, ShardSpec, cells, report,
};

/// A made-up result of `key`, the same every time it is run.
fn synthetic(key: &RunKey, position: usize) -> RunRow {
    let spread = (position as f64 * 0.618_033_988_7).fract();
    RunRow {
        key: key.clone(),
        accuracy: 0.5 + 0.4 * spread,
        trained_accuracy: key
            .experiment
            .trains_once_per_seed_and_backend()
            .then_some(0.9),
        seconds_per_epoch: 1.0 + spread,
        first_losses: vec![2.3 - spread / 10.0, 2.2 - spread / 7.0],
        extras: RunExtras::default(),
    }
}

/// The scheduler's variables of task `task` (0-based) of 3.
fn variables(scheduler: &str, task: usize) -> HashMap<String, String> {
    let vars: Vec<(&str, String)> = match scheduler {
        // sbatch --array=0-2
        "slurm" => vec![
            ("SLURM_ARRAY_JOB_ID", "4242".into()),
            ("SLURM_ARRAY_TASK_ID", task.to_string()),
            ("SLURM_ARRAY_TASK_MIN", "0".into()),
            ("SLURM_ARRAY_TASK_MAX", "2".into()),
            ("SLURM_ARRAY_TASK_COUNT", "3".into()),
            ("SLURM_ARRAY_TASK_STEP", "1".into()),
        ],
        // sbatch --array=5-9:2 (tasks 5, 7, 9), without the count.
        "slurm-stepped" => vec![
            ("SLURM_ARRAY_TASK_ID", (5 + 2 * task).to_string()),
            ("SLURM_ARRAY_TASK_MIN", "5".into()),
            ("SLURM_ARRAY_TASK_MAX", "9".into()),
            ("SLURM_ARRAY_TASK_STEP", "2".into()),
        ],
        // completionMode: Indexed, completions: 3, env MCNN_SHARD_COUNT=3
        "kubernetes" => vec![
            ("JOB_COMPLETION_INDEX", task.to_string()),
            (Shard::COUNT_VARIABLE, "3".into()),
        ],
        _ => unreachable!(),
    };
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// What array task `task` of `scheduler` runs: its shard, and its part of `grid` written to
/// `template` with `{shard}` replaced; interrupted after `stop_after` runs if given.
fn array_task(
    scheduler: &str,
    task: usize,
    grid: &Grid,
    template: &Path,
    stop_after: Option<usize>,
) -> (Shard, PathBuf) {
    let vars = variables(scheduler, task);
    let shard = ShardSpec::Auto
        .resolve(|name| vars.get(name).cloned(), None)
        .unwrap();
    let out = shard.part_path(template);
    let mut results = ResultsFile::open(&out).unwrap();
    let runs = grid.runs();
    let mine = grid.shard(shard, grid.experiment.trains_once_per_seed_and_backend());
    let todo: Vec<&RunKey> = mine.iter().filter(|k| !results.is_done(k)).collect();
    for key in todo.into_iter().take(stop_after.unwrap_or(usize::MAX)) {
        let position = runs.iter().position(|r| r == key).unwrap();
        results.append(synthetic(key, position)).unwrap();
    }
    (shard, out)
}

#[test]
fn three_array_tasks_merge_into_the_unsharded_report() {
    let dir = std::env::temp_dir().join(format!("mcnn-shard-auto-{}", std::process::id()));
    let (flex, ndarray) = (BackendKind::Flex, BackendKind::NdArray);
    let grids = [
        // Values out of order, two seeds, two backends: 16 runs, not a multiple of 3.
        Grid::new(
            Experiment::Paths,
            &["8192", "2048", "32768", "4096"],
            2,
            vec![flex, ndarray],
        )
        .unwrap(),
        // One run per value: the parts hold the values out of order.
        Grid::new(
            Experiment::Partitions,
            &["2", "4", "8", "16"],
            1,
            vec![flex],
        )
        .unwrap(),
        // Split by (seed, backend), every value of each.
        Grid::new(
            Experiment::Sampled(LayerSelection::Hidden),
            &["0.1", "1", "10"],
            2,
            vec![flex, ndarray],
        )
        .unwrap(),
    ];
    for scheduler in ["slurm", "slurm-stepped", "kubernetes"] {
        for (g, grid) in grids.iter().enumerate() {
            let case = format!("{scheduler}, grid {g}");
            let here = dir.join(format!("{scheduler}-{g}"));
            std::fs::create_dir_all(&here).unwrap();
            let template = here.join("part-{shard}.jsonl");
            let runs = grid.runs();
            // The unsharded sweep's results file, as its report reads it (a number read back
            // from JSON may be an ulp off the one written: both sides are read).
            let whole = here.join("unsharded.jsonl");
            let mut file = ResultsFile::open(&whole).unwrap();
            for (i, key) in runs.iter().enumerate() {
                file.append(synthetic(key, i)).unwrap();
            }
            drop(file);
            let unsharded = ResultsFile::read(&whole).unwrap();

            let mut parts = Vec::new();
            for task in 0..3 {
                // Task 2 is stopped after one run, then requeued: it resumes its own part.
                let stop = (task == 1).then_some(1);
                let (shard, part) = array_task(scheduler, task, grid, &template, stop);
                assert_eq!(
                    shard,
                    Shard {
                        index: task + 1,
                        count: 3
                    },
                    "{case}"
                );
                assert_eq!(
                    part,
                    here.join(format!("part-{}.jsonl", task + 1)),
                    "{case}"
                );
                if task == 1 {
                    assert_eq!(ResultsFile::read(&part).unwrap().len(), 1, "{case}");
                    array_task(scheduler, task, grid, &template, None);
                }
                // Exactly this shard's runs, each once.
                let keys: Vec<RunKey> = ResultsFile::read(&part)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.key)
                    .collect();
                let by_training = grid.experiment.trains_once_per_seed_and_backend();
                assert_eq!(keys, grid.shard(shard, by_training), "{case}, task {task}");
                parts.push(part);
            }
            // The merge job: the parts in order into one file.
            let all = here.join("all.jsonl");
            let mut merged = ResultsFile::open(&all).unwrap();
            for part in &parts {
                merged.merge(&ResultsFile::read(part).unwrap()).unwrap();
            }
            let merged = ResultsFile::read(&all).unwrap();
            assert_eq!(merged.len(), runs.len(), "{case}");
            assert_ne!(
                merged, unsharded,
                "{case}: the merged file is in another order"
            );
            assert_eq!(cells(&merged), cells(&unsharded), "{case}");
            let expected = report(&unsharded);
            assert_eq!(report(&merged), expected, "{case}");
            assert!(
                expected.lines().count() > runs.len() / 3,
                "{case}:\n{expected}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The checking interface: Slurm task 1 of `--array=0-2` runs exactly the second third of the
/// grid (every third run from the second).
#[test]
fn slurm_task_1_of_0_to_2_is_the_second_third() {
    let vars: HashMap<&str, &str> = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "2"),
    ]
    .into();
    let shard = "auto"
        .parse::<ShardSpec>()
        .unwrap()
        .resolve(|name| vars.get(name).map(|v| v.to_string()), None)
        .unwrap();
    assert_eq!(shard, Shard { index: 2, count: 3 });
    let grid = Grid::new(
        Experiment::Paths,
        &["2048", "8192"],
        3,
        vec![BackendKind::Flex],
    )
    .unwrap();
    let runs = grid.runs();
    let expected: Vec<RunKey> = runs.iter().skip(1).step_by(3).cloned().collect();
    assert_eq!(grid.shard(shard, false), expected);
    assert_eq!(expected.len(), 2);
}
