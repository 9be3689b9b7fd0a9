//! Compressed reference models saved by one process reload in another, from their own
//! constructors, their layouts and their records alone (no dense model, no sampling), and give
//! bit-identical outputs.
//!
//! The test runs itself again as the second process: with `MCNN_RELOAD_FROM` set it only
//! loads and compares.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Distribution, Tensor, TensorData};
use mcnn::models::{ImageClassifier, LeNet5Config, MlpConfig};
use mcnn::sampled_linear::{
    Budget, CompactLayout, CompressionPlan, LayerSelection, SamplingConfig, compress,
};
use mcnn_backends::{host_device, host_values, materialize};

const CHILD: &str = "MCNN_RELOAD_FROM";
const TEST: &str = "compressed_models_reload_in_a_new_process_with_identical_outputs";

fn write(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Saves `model` compressed as `plan` says under `dir/name.*`, with the outputs it gives on
/// the saved input.
fn save<M: ImageClassifier>(model: M, plan: &CompressionPlan, dir: &Path, name: &str) {
    let (compact, reports) = compress(model, plan).unwrap();
    assert!(!reports.is_empty());
    CompactLayout::of(&compact)
        .save(dir.join(format!("{name}.json")))
        .unwrap();
    let input = Tensor::<4>::from_data(
        TensorData::new(read(&dir.join("input.bin")), [4, 1, 28, 28]),
        &host_device(),
    );
    write(
        &dir.join(format!("{name}.out")),
        &host_values(compact.forward(input)),
    );
    compact.save_file(dir.join(format!("{name}.bpk"))).unwrap();
}

/// The second process: `build`'s model, the layout, the record; the outputs must be the same
/// bits.
fn check<M: ImageClassifier>(build: impl Fn() -> M, dir: &Path, name: &str) {
    let layout = CompactLayout::load(dir.join(format!("{name}.json"))).unwrap();
    let model = layout
        .apply(build())
        .unwrap()
        .load_file(dir.join(format!("{name}.bpk")));
    let input = Tensor::<4>::from_data(
        TensorData::new(read(&dir.join("input.bin")), [4, 1, 28, 28]),
        &host_device(),
    );
    let got = host_values(model.forward(input));
    let expected = read(&dir.join(format!("{name}.out")));
    assert_eq!(got.len(), expected.len(), "{name}");
    for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{name}: output {i}: {a} vs {b}");
    }
}

#[test]
fn compressed_models_reload_in_a_new_process_with_identical_outputs() {
    let host = host_device();
    let lenet = || LeNet5Config::new().init(&host);
    let mlp = || MlpConfig::new(vec![784, 64, 10]).init(&host);
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = PathBuf::from(dir);
        check(lenet, &dir, "lenet");
        check(mlp, &dir, "mlp");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mcnn-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    host.seed(3);
    let input = Tensor::<4>::random([4, 1, 28, 28], Distribution::Normal(0.0, 1.0), &host);
    write(&dir.join("input.bin"), &host_values(input));
    let sampling = SamplingConfig::new(Budget::Amount(0.5)).with_seed(5);
    save(
        materialize(lenet()),
        &CompressionPlan::new(sampling.clone()).with_layers(LayerSelection::Inner),
        &dir,
        "lenet",
    );
    save(
        materialize(mlp()),
        &CompressionPlan::new(sampling).with_layers(LayerSelection::Hidden),
        &dir,
        "mlp",
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture"])
        .env(CHILD, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the reloading process failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
