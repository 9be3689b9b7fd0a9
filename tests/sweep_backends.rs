//! The sweep's cross-backend check on a small grid: path networks on a MNIST subset, every
//! (value, seed) from the same initial weights on every compiled backend. The first training
//! steps' losses agree with the host backend to 1e-4 and the final accuracies within seed noise.

use mcnn::backends::{BackendKind, fork_identical, host_device, materialize};
use mcnn::datasets::{ImageBatcher, ImageDataset, Source, Split};
use mcnn::path_net::PathNetConfig;
use mcnn::sweep::{Difference, Grid, RunRow, cells};
use mcnn::training::{TrainingConfig, train};

#[test]
fn a_small_grid_agrees_across_backends() {
    // $MCNN_DATA, else ./data: tests run in the package's folder.
    let dir = mcnn::datasets::data_dir(None);
    let train_set = ImageDataset::load(Source::Mnist, Split::Train, &dir)
        .unwrap()
        .truncated(2000);
    let test_set = ImageDataset::load(Source::Mnist, Split::Test, &dir)
        .unwrap()
        .truncated(1000);
    let batcher = ImageBatcher::for_source(Source::Mnist);
    let kinds = BackendKind::compiled();
    let grid = Grid::new(
        "paths",
        vec!["2048".into(), "8192".into()],
        3,
        kinds.iter().map(BackendKind::to_string).collect(),
    );
    let mut rows = Vec::new();
    for key in grid.runs() {
        let host = host_device();
        host.seed(key.seed);
        let net = materialize(
            PathNetConfig::new(vec![784, 300, 300, 10], key.setting.parse().unwrap()).init(&host),
        );
        let kind = BackendKind::from_flag(Some(&key.backend)).unwrap();
        let device = kind.device();
        let config = TrainingConfig::new()
            .with_seed(key.seed)
            .with_progress(false)
            .with_recorded_steps(5);
        let (_, reports) = train(
            fork_identical(&net, &device),
            &train_set,
            &test_set,
            &batcher,
            &config,
            &device,
            |_| {},
        );
        rows.push(RunRow {
            key,
            accuracy: reports[0].test_accuracy,
            seconds_per_epoch: reports[0].train_seconds,
            first_losses: reports[0].step_losses.clone(),
        });
    }
    let host = &grid.backends[0];
    for row in rows.iter().filter(|r| &r.key.backend != host) {
        let reference = rows
            .iter()
            .find(|r| {
                &r.key.backend == host
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
    for a in cells.iter().filter(|c| &c.backend == host) {
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
