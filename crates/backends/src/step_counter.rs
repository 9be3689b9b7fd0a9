//! A training-step counter that lives in a module: advanced from `&self` in `forward`, saved
//! and loaded with the module's record, untouched by optimizers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::module::{
    Content, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor, Param,
    ParamId,
};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// The number of training forward passes a layer has run.
///
/// Clones (and the modules returned by `fork`, `to_device`, `valid` or an optimizer step)
/// share the count, so it runs on through training. In the record it is a one-element integer
/// parameter: optimizers skip it, `save_file`/`load_file` keep it.
#[derive(Clone, Debug)]
pub struct StepCounter {
    id: ParamId,
    step: Arc<AtomicU64>,
}

impl Default for StepCounter {
    fn default() -> Self {
        Self {
            id: ParamId::new(),
            step: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl StepCounter {
    /// The current count.
    pub fn get(&self) -> u64 {
        self.step.load(Ordering::Relaxed)
    }

    /// Returns the current count and adds one.
    pub fn advance(&self) -> u64 {
        self.step.fetch_add(1, Ordering::Relaxed)
    }

    /// Sets the count to `value`.
    pub fn set(&self, value: u64) {
        self.step.store(value, Ordering::Relaxed)
    }

    /// Sets the count back to zero.
    pub fn reset(&self) {
        self.step.store(0, Ordering::Relaxed)
    }

    fn as_param(&self) -> Param<Tensor<1, Int>> {
        let value = TensorData::new(vec![self.get() as i64], [1]);
        Param::initialized(self.id, Tensor::from_data(value, &Device::default()))
    }
}

impl Module for StepCounter {
    host_state_module!();

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        visitor.visit_int(&self.as_param());
    }

    /// A loader hands back the saved count (and id); every other mapper hands back the same
    /// value. Reading it back costs one one-element tensor read per traversal.
    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let mapped = mapper.map_int(self.as_param());
        let value = mapped.val().into_data().iter::<i64>().next().unwrap_or(0);
        self.step.store(value.max(0) as u64, Ordering::Relaxed);
        Self {
            id: mapped.id,
            step: self.step,
        }
    }
}

impl ModuleDisplayDefault for StepCounter {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&self.get()).optional()
    }
}

impl ModuleDisplay for StepCounter {}
