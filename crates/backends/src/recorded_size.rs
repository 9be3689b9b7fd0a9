//! A size that a layer records so that Burn's own load check refuses a record made for another
//! size.
//!
//! Burn records tensors only and checks their shapes when loading: a layer whose tensors do
//! not depend on one of its sizes (a sparse layer's `d_input`, a dropout's number of
//! partitions) would load a record made for another size without a word. [`RecordedSize`]
//! records the size as the shape `[0, size]` of an empty tensor, so the load fails with Burn's
//! `shape mismatch` naming the field, at no cost in the file.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::module::Module;
//! use burn::store::ModuleRecord;
//! use mcnn_backends::RecordedSize;
//!
//! #[derive(Module, Debug)]
//! struct Layer {
//!     d_input: RecordedSize,
//! }
//!
//! let record = Layer { d_input: RecordedSize::new(64) }.into_record();
//! let error = Layer { d_input: RecordedSize::new(32) }
//!     .try_load_record(record)
//!     .unwrap_err();
//! assert!(error.to_string().contains("d_input: shape mismatch, expected Shape { dims: [0, 32] }"));
//! # }
//! ```

use burn::module::{
    Content, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor, Param,
    ParamId,
};
use burn::tensor::{Bool, Tensor};

use crate::BackendKind;

/// A size of a layer, recorded as the shape `[0, size]` of an empty tensor (see the module
/// docs): a record of another size is refused at load time by Burn's shape check.
///
/// The value is configuration: loading never changes it. Clones, devices and optimizers leave
/// it alone.
#[derive(Clone, Debug)]
pub struct RecordedSize {
    id: ParamId,
    size: usize,
}

impl RecordedSize {
    /// The size `size`.
    pub fn new(size: usize) -> Self {
        Self {
            id: ParamId::new(),
            size,
        }
    }

    /// The size.
    pub fn get(&self) -> usize {
        self.size
    }

    /// The empty tensor whose shape carries the size, on a CPU backend where one is compiled
    /// (nothing is allocated).
    fn as_param(&self) -> Param<Tensor<2, Bool>> {
        let device = BackendKind::default_cpu()
            .map(BackendKind::device)
            .unwrap_or_default();
        Param::initialized(self.id, Tensor::empty([0, self.size], &device))
    }
}

impl PartialEq for RecordedSize {
    fn eq(&self, other: &Self) -> bool {
        self.size == other.size
    }
}

impl Module for RecordedSize {
    host_state_module!();

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        visitor.visit_bool(&self.as_param());
    }

    /// A loader checks the recorded shape against `[0, size]` (and refuses another); the size
    /// itself never changes.
    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let mapped = mapper.map_bool(self.as_param());
        Self {
            id: mapped.id,
            size: self.size,
        }
    }
}

impl ModuleDisplayDefault for RecordedSize {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&self.size).optional()
    }
}

impl ModuleDisplay for RecordedSize {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Module, Debug)]
    struct Layer {
        width: RecordedSize,
    }

    #[test]
    fn a_record_of_the_same_size_loads_and_another_is_refused_by_name() {
        let record = || {
            Layer {
                width: RecordedSize::new(7),
            }
            .into_record()
        };
        let same = Layer {
            width: RecordedSize::new(7),
        };
        let loaded = same.try_load_record(record()).unwrap();
        assert_eq!(loaded.width.get(), 7);
        let error = Layer {
            width: RecordedSize::new(8),
        }
        .try_load_record(record())
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("width: shape mismatch, expected Shape { dims: [0, 8] } but record has Shape { dims: [0, 7] }"),
            "{error}"
        );
    }

    #[test]
    fn the_size_survives_a_file_and_costs_no_data() {
        let path = std::env::temp_dir().join(format!("mcnn-size-{}.bpk", std::process::id()));
        Layer {
            width: RecordedSize::new(1 << 40),
        }
        .save_file(&path)
        .unwrap();
        let bytes = std::fs::metadata(&path).unwrap().len();
        let loaded = Layer {
            width: RecordedSize::new(1 << 40),
        }
        .try_load_file(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!(loaded.unwrap().width.get(), 1 << 40);
        assert!(bytes < 1024, "{bytes} bytes");
    }
}
