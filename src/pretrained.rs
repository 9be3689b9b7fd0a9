//! Networks trained elsewhere, in: PyTorch `state_dict`s saved as SafeTensors or `.pt`,
//! loaded through burn-store into the reference models, ready for
//! `sampled_linear::compress` (post-training quantization's real entry point).
//!
//! PyTorch stores a linear layer's weight as `[out, in]`, Burn as `[in, out]`: burn-store's
//! `PyTorchToBurnAdapter` transposes it. The parameter names differ too; each model has its
//! renaming ([`LENET5_PYTORCH_KEYS`] for `tools/peers/lenet_mnist_torch.py`'s LeNet-5).

use std::path::Path;

use burn::module::Module;
use burn::store::{
    ApplyResult, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

/// How the PyTorch peer's LeNet-5 (`nn.Sequential`s `features` and `classifier`) names
/// [`LeNet5`](crate::models::LeNet5)'s layers: `(regex of the PyTorch prefix, Burn prefix)`.
pub const LENET5_PYTORCH_KEYS: [(&str, &str); 5] = [
    (r"^features\.0\.", "conv1."),
    (r"^features\.3\.", "conv2."),
    (r"^classifier\.1\.", "fc1."),
    (r"^classifier\.3\.", "fc2."),
    (r"^classifier\.5\.", "fc3."),
];

/// Loads the PyTorch weights in `path` into `model`: a `.safetensors` file or a `.pt` / `.pth`
/// checkpoint (a `state_dict`), its keys renamed by `keys` (`(regex, replacement)` pairs),
/// linear weights transposed. Every parameter of `model` must be found, and every tensor of
/// the file used, with the shape the model expects.
///
/// # Errors
/// A file that cannot be read or is not of its extension's format, a key pattern that is not a
/// regular expression, a missing or extra tensor, or a tensor of another shape, naming the file
/// and the tensors.
pub fn load_pytorch<M: Module>(
    mut model: M,
    path: &Path,
    keys: &[(&str, &str)],
) -> Result<M, String> {
    let fail = |what: String| format!("pretrained weights {}: {what}", path.display());
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    // One renaming for either store; a pattern that is not a regex is an error, not the
    // panic of the stores' own `with_key_remapping`.
    let remapper = keys
        .iter()
        .try_fold(KeyRemapper::new(), |remapper, (from, to)| {
            remapper
                .add_pattern(*from, *to)
                .map_err(|e| fail(format!("key pattern {from:?}: {e}")))
        })?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let result: ApplyResult = match extension.as_str() {
        "safetensors" => {
            let mut store = SafetensorsStore::from_file(path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .allow_partial(true)
                .remap(remapper);
            model
                .load_from(&mut store)
                .map_err(|e| fail(e.to_string()))?
        }
        "pt" | "pth" => {
            // Always through the PyTorch adapter.
            let mut store = PytorchStore::from_file(path)
                .allow_partial(true)
                .remap(remapper);
            model
                .load_from(&mut store)
                .map_err(|e| fail(e.to_string()))?
        }
        other => {
            return Err(fail(format!(
                "extension `{other}`: expected .safetensors, .pt or .pth"
            )));
        }
    };
    check_complete(&result).map_err(fail)?;
    Ok(model)
}

/// Every tensor applied: none missing, none unused, no error.
fn check_complete(result: &ApplyResult) -> Result<(), String> {
    let mut problems = Vec::new();
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        problems.push(format!("errors: {}", errors.join("; ")));
    }
    if !result.missing.is_empty() {
        let missing: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
        problems.push(format!("missing tensors: {}", missing.join(", ")));
    }
    if !result.unused.is_empty() {
        problems.push(format!(
            "tensors the model has no place for: {}",
            result.unused.join(", ")
        ));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}
