//! The sweep's cross-backend check on a small grid: path networks on a MNIST subset, every
//! (value, seed) from the same initial weights on every compiled backend. The first training
//! steps' losses agree with the host backend to 1e-4 and the final accuracies within seed noise.
//! The sampling experiments report the sampled network, not the trained one, and the paths
//! experiment records the setup it ran.

use std::sync::Mutex;

use mcnn::backends::BackendKind;
use mcnn::datasets::Source;
use mcnn::sampled_linear::LayerSelection;
use mcnn::sweep::{
    Difference, Experiment, Grid, PathsDuplicates, PathsSetup, RunRow, Runner, cells,
};
use mcnn::training::{TrainingConfig, TrainingData};

/// Both tests seed the host backend's one random generator and draw initial weights from
/// it: run one at a time so that neither moves the other's draws.
static HOST_RNG: Mutex<()> = Mutex::new(());

#[test]
fn a_small_grid_agrees_across_backends() {
    let _rng = HOST_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = subset(Source::Mnist, 2000, 1000);
    let kinds = BackendKind::compiled();
    let grid = Grid::new(Experiment::Paths, &["2048", "8192"], 3, kinds).unwrap();
    // Exactly what the sweep example runs for each key.
    let mut runner = quiet_runner(Experiment::Paths, &data);
    let rows: Vec<RunRow> = grid.runs().iter().map(|k| runner.run(k).unwrap()).collect();
    assert!(
        rows.iter().all(|r| r.trained_accuracy.is_none()),
        "nothing sampled"
    );
    let host = grid.backends[0];
    for row in rows.iter().filter(|r| r.key.backend != host) {
        let reference = rows
            .iter()
            .find(|r| {
                r.key.backend == host
                    && r.key.setting == row.key.setting
                    && r.key.seed == row.key.seed
            })
            .unwrap();
        assert_eq!(row.first_losses.len(), 5);
        for (a, b) in row.first_losses.iter().zip(&reference.first_losses) {
            assert!(
                (a - b).abs() < 1e-4,
                "{:?}: step loss {a} vs {b} on {host}",
                row.key
            );
        }
    }
    let cells = cells(&rows);
    for a in cells.iter().filter(|c| c.backend == host) {
        for b in cells
            .iter()
            .filter(|c| c.setting == a.setting && c.backend != a.backend)
        {
            let d = Difference::between(a, b);
            eprintln!(
                "{} {} − {}: {:+.4} (t {:?})",
                a.setting, b.backend, a.backend, d.difference, d.t
            );
            match d.within_noise() {
                Some(within) => assert!(within, "{} on {}: {d:?}", a.setting, b.backend),
                // No spread on either side: the accuracies must be (nearly) equal.
                None => assert!(
                    d.difference.abs() < 2e-3,
                    "{} on {}: {d:?}",
                    a.setting,
                    b.backend
                ),
            }
        }
    }
}

/// The sampling experiments report the sampled network: its accuracy falls with the
/// sampling amount, and the network is trained once for both amounts.
#[test]
fn sampling_experiments_report_the_sampled_network() {
    let _rng = HOST_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // The output layer dense (the slides' protocol) and every layer.
    let experiments = [
        (Experiment::Sampled(LayerSelection::Hidden), 0.3),
        (Experiment::SampledConv(LayerSelection::All), 0.0),
    ];
    for (experiment, chance_margin) in experiments {
        let data = subset(experiment.source(), 2000, 500);
        let mut runner = quiet_runner(experiment, &data);
        let grid = Grid::new(experiment, &["1000", "0.01"], 1, vec![BackendKind::Flex]).unwrap();
        let runs = grid.runs();
        let near_dense = runner.run(&runs[0]).unwrap();
        let sparse = runner.run(&runs[1]).unwrap();
        eprintln!(
            "{experiment}: accuracy {:.4} at K = 1000, {:.4} at K = 0.01, trained {:?}",
            near_dense.accuracy, sparse.accuracy, near_dense.trained_accuracy
        );
        // Trained once for both values: the same losses and the same (measured) time.
        assert_eq!(near_dense.first_losses, sparse.first_losses, "{experiment}");
        assert_eq!(
            near_dense.seconds_per_epoch, sparse.seconds_per_epoch,
            "{experiment}"
        );
        assert_eq!(near_dense.first_losses.len(), 5, "{experiment}");
        // The trained network's accuracy is recorded with each sampled one.
        let trained = near_dense.trained_accuracy.unwrap();
        assert_eq!(sparse.trained_accuracy, Some(trained), "{experiment}");
        // K = 1000 keeps the network; K = 0.01 leaves about one weight in a hundred.
        assert!(
            (near_dense.accuracy - trained).abs() < 0.03,
            "{experiment}: {near_dense:?}"
        );
        assert!(
            near_dense.accuracy > 0.1 + chance_margin,
            "{experiment}: {near_dense:?}"
        );
        assert!(
            sparse.accuracy < near_dense.accuracy,
            "{experiment}: {sparse:?} vs {near_dense:?}"
        );
    }
}

/// The first `train` training and `test` test images of `source`, with its batcher.
fn subset(source: Source, train: usize, test: usize) -> TrainingData {
    // $MCNN_DATA, else ./data: tests run in the package's folder.
    let mut data =
        TrainingData::load(source, &mcnn::datasets::data_dir(None), Some(train)).unwrap();
    data.test_set = data.test_set.truncated(test);
    data
}

/// A runner of `experiment` on `data` that records 5 step losses and draws no progress.
fn quiet_runner(experiment: Experiment, data: &TrainingData) -> Runner<'_> {
    let config = TrainingConfig::new()
        .with_progress(false)
        .with_recorded_steps(5);
    Runner::new(experiment, data.trainer(config))
}

/// The paths experiment runs the dense baseline and paths from every source with the setup it
/// is given (experiment E5 runs through it), records that setup and the trained weights, and
/// repeats a run exactly; importance-sampled paths reuse the trained baseline.
#[test]
fn paths_runs_record_their_setup_and_weights() {
    let _rng = HOST_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = subset(Source::Mnist, 2000, 500);
    let setup = PathsSetup {
        duplicates: PathsDuplicates::Keep,
        widths: vec![784, 32, 10],
        ..PathsSetup::default()
    };
    let runner = || quiet_runner(Experiment::Paths, &data).with_paths_setup(setup.clone());
    let settings = [
        "dense",
        "importance/2048",
        "random/2048",
        "owen/2048",
        "2048",
    ];
    let grid = Grid::new(Experiment::Paths, &settings, 1, vec![BackendKind::Flex]).unwrap();
    let keys = grid.runs();
    let mut first = runner();
    assert!(!first.has_trained(&keys[0]));
    let rows: Vec<RunRow> = keys.iter().map(|k| first.run(k).unwrap()).collect();
    assert!(first.has_trained(&keys[0]), "the baseline is kept");
    for row in &rows {
        assert_eq!(row.extras.network.as_ref(), Some(&setup), "{:?}", row.key);
        assert_eq!(row.extras.epochs, Some(1));
        assert_eq!(row.extras.learning_rate, Some(3e-3));
        assert_eq!(row.extras.peak_mib, None, "measured by the caller only");
        // Trained: well above chance (0.1) after 31 steps on 2000 images (0.44–0.77 seen).
        assert!(row.accuracy > 0.3, "{:?}: {}", row.key, row.accuracy);
        let json = serde_json::to_string(row).unwrap();
        // (A float may come back one ulp off: serde_json without `float_roundtrip`.)
        let back = serde_json::from_str::<RunRow>(&json).unwrap();
        assert_eq!((&back.key, &back.extras), (&row.key, &row.extras));
    }
    assert_eq!(rows[0].extras.weights, Some(784 * 32 + 32 * 10));
    // Duplicates kept: one weight per path and transition.
    for row in &rows[1..] {
        assert_eq!(row.extras.weights, Some(2 * 2048), "{:?}", row.key);
    }
    // The same seed repeats the run, in a new runner (where importance trains its baseline).
    let mut second = runner();
    for i in [1, 2] {
        let again = second.run(&keys[i]).unwrap();
        assert_eq!(again.first_losses, rows[i].first_losses, "{:?}", keys[i]);
        assert_eq!(again.accuracy, rows[i].accuracy, "{:?}", keys[i]);
    }
}
