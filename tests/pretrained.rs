//! PyTorch weights in ([`mcnn::pretrained`]): a `.pt` written by PyTorch
//! (`tools/peers/tiny_pytorch_fixture.py`), and SafeTensors files in PyTorch's layout written
//! here byte by byte, loaded through burn-store.

use std::path::Path;

use burn::tensor::{Distribution, Tensor};
use mcnn::backends::{host_device, materialize};
use mcnn::models::{LeNet5, LeNet5Config, MlpConfig};
use mcnn::pretrained::{LENET5_PYTORCH_KEYS, load_pytorch};

#[test]
fn a_pytorch_checkpoint_gives_pytorchs_output() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp_4_3_2.pt");
    let keys = [(r"^0\.", "layers.0."), (r"^2\.", "layers.1.")];
    let model = MlpConfig::new(vec![4, 3, 2]).init(&host_device());
    let model = load_pytorch(model, &path, &keys).unwrap();
    let x = Tensor::<2>::from_floats([[1.0, -2.0, 3.0, -4.0]], &host_device());
    let y = model
        .forward_flat(x)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    // What the fixture's script printed: PyTorch's forward pass.
    let expected = [0.479_424_7_f32, -0.118_818_78];
    for (got, want) in y.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{y:?} vs {expected:?}");
    }
}

/// One tensor of a SafeTensors file: its name, shape and values.
type Named = (String, Vec<usize>, Vec<f32>);

/// A SafeTensors file: an 8-byte little-endian header length, the JSON header, the data.
fn write_safetensors(path: &Path, tensors: &[Named]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::Value::Object(header).to_string().into_bytes();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

fn values<const D: usize>(tensor: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    (
        tensor.dims().to_vec(),
        tensor.into_data().try_to_vec().unwrap(),
    )
}

/// `model`'s parameters under the PyTorch peer's names, linear weights as `[out, in]`.
fn pytorch_state_dict(model: &LeNet5) -> Vec<Named> {
    let mut named = Vec::new();
    let convs = [("features.0", &model.conv1), ("features.3", &model.conv2)];
    for (name, conv) in convs {
        let conv = conv.as_dense().unwrap();
        let (shape, w) = values(conv.weight.val());
        named.push((format!("{name}.weight"), shape, w));
        let (shape, b) = values(conv.bias.as_ref().unwrap().val());
        named.push((format!("{name}.bias"), shape, b));
    }
    let linears = [
        ("classifier.1", &model.fc1),
        ("classifier.3", &model.fc2),
        ("classifier.5", &model.fc3),
    ];
    for (name, linear) in linears {
        let linear = linear.as_dense().unwrap();
        let (shape, w) = values(linear.weight.val().transpose());
        named.push((format!("{name}.weight"), shape, w));
        let (shape, b) = values(linear.bias.as_ref().unwrap().val());
        named.push((format!("{name}.bias"), shape, b));
    }
    named
}

fn lenet(seed: u64) -> LeNet5 {
    let host = host_device();
    host.seed(seed);
    materialize(LeNet5Config::new().init(&host))
}

#[test]
fn a_safetensors_lenet_in_pytorchs_layout_loads_as_the_same_network() {
    let trained = lenet(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lenet.safetensors");
    write_safetensors(&path, &pytorch_state_dict(&trained));
    // The extension's case does not matter.
    let upper = dir.path().join("lenet.SafeTensors");
    std::fs::copy(&path, &upper).unwrap();
    let loaded = load_pytorch(lenet(2), &upper, &LENET5_PYTORCH_KEYS).unwrap();
    let images = Tensor::<4>::random([3, 1, 28, 28], Distribution::Default, &host_device());
    loaded
        .forward(images.clone())
        .into_data()
        .assert_eq(&trained.forward(images.clone()).into_data(), true);
    assert_ne!(
        lenet(2).forward(images.clone()).into_data(),
        trained.forward(images).into_data()
    );
}

#[test]
fn incomplete_or_foreign_files_are_refused_with_the_tensors_named() {
    let dir = tempfile::tempdir().unwrap();
    let state = pytorch_state_dict(&lenet(1));
    let load = |name: &str, tensors: &[Named]| {
        let path = dir.path().join(name);
        write_safetensors(&path, tensors);
        load_pytorch(lenet(2), &path, &LENET5_PYTORCH_KEYS).unwrap_err()
    };

    let missing = load("missing.safetensors", &state[..9]);
    assert!(missing.contains("missing tensors: fc3.bias"), "{missing}");

    let mut extra = state.clone();
    extra.push(("classifier.7.weight".into(), vec![2], vec![0.0, 1.0]));
    let extra = load("extra.safetensors", &extra);
    assert!(
        extra.contains("no place for: classifier.7.weight"),
        "{extra}"
    );

    let mut reshaped = state.clone();
    reshaped[9] = ("classifier.5.bias".into(), vec![5], vec![0.0; 5]);
    let reshaped = load("reshaped.safetensors", &reshaped);
    assert!(reshaped.contains("fc3.bias"), "{reshaped}");

    let path = dir.path().join("full.safetensors");
    write_safetensors(&path, &state);
    let pattern = load_pytorch(lenet(2), &path, &[("features.(0", "conv1.")]).unwrap_err();
    assert!(pattern.contains("key pattern \"features.(0\""), "{pattern}");

    let absent = load_pytorch(lenet(2), &dir.path().join("absent.pt"), &[]).unwrap_err();
    assert!(
        absent.contains("absent.pt") && absent.contains("no such file"),
        "{absent}"
    );
    std::fs::write(dir.path().join("weights.bin"), b"x").unwrap();
    let other = load_pytorch(lenet(2), &dir.path().join("weights.bin"), &[]).unwrap_err();
    assert!(
        other.contains("expected .safetensors, .pt or .pth"),
        "{other}"
    );
    std::fs::write(dir.path().join("cut.safetensors"), b"\x40\0\0\0\0\0\0\0{").unwrap();
    let cut = load_pytorch(lenet(2), &dir.path().join("cut.safetensors"), &[]).unwrap_err();
    assert!(cut.contains("cut.safetensors"), "{cut}");
}
