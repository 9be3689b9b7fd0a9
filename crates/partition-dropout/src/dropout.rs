//! `PartitionDropout`: neurons assigned to `P` partitions once per cycle, dropped in turn.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::tensor::{Device, Tensor};
//! use partition_dropout::PartitionDropoutConfig;
//!
//! let dropout = PartitionDropoutConfig::new(4).with_seed(1).init();
//! let device = Device::flex().autodiff();
//! let x = Tensor::<2>::ones([2, 8], &device);
//! // Training (autodiff device): a quarter of each row is zero, the rest scaled by 4/3.
//! let y = dropout.forward(x);
//! let zeros = y.clone().equal_elem(0.0).int().sum().into_scalar::<i64>();
//! assert!(zeros > 0 && zeros < 16);
//! # }
//! ```

use std::sync::{Arc, Mutex};

use burn::backend::Dispatch;
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Flag, Module, ModuleDisplay, Param};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::assignment::{Assignment, assign};
use crate::{PartitionMaskBackend, StepCounter};

/// Which partitions are dropped at phase `k` of a cycle.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Partition `k` is dropped, the others kept and scaled by `P / (P − 1)`: rate `1/P`.
    DropOne,
    /// Only partition `k` is kept, scaled by `P`: rate `1 − 1/P`.
    KeepOne,
}

/// Which elements share one assignment.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every sample (index of the first axis) has its own assignment of all its elements.
    PerSample,
    /// One assignment of the elements of a sample, shared by the whole batch.
    PerBatch,
    /// `[batch, channels, height, width]` inputs: whole channels are dropped, per sample.
    Channel,
}

/// Configuration of a [`PartitionDropout`].
#[derive(Config, Debug)]
pub struct PartitionDropoutConfig {
    /// The number of partitions `P`, at least 2 (drop-one drops `1/P` of the neurons).
    pub partitions: usize,
    /// Which partitions a phase drops.
    #[config(default = "Mode::DropOne")]
    pub mode: Mode,
    /// The random source of the assignment.
    #[config(default = "Assignment::Lfsr")]
    pub assignment: Assignment,
    /// Which elements share an assignment.
    #[config(default = "Scope::PerSample")]
    pub scope: Scope,
    /// Seed of the assignments.
    #[config(default = 0)]
    pub seed: u64,
}

/// Dropout by partitions: once per cycle of `P` training steps every neuron is assigned to
/// one of `P` partitions (one random number per neuron per cycle), and step `k` of the cycle
/// drops partition `k` (or keeps only it). Every neuron is dropped exactly once per cycle.
/// Identity at inference (a device without autodiff, or after `valid()`).
///
/// From Gamboa and Keller, *Monte Carlo methods and neural networks* (NVIDIA); section 1 of
/// the project's `algorithms.md`. Should be created with [`PartitionDropoutConfig`].
///
/// The cycle position is saved with the record and shared by clones; [`reset`](Self::reset)
/// starts over.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct PartitionDropout {
    /// The number of partitions `P`.
    pub partitions: usize,
    /// Which partitions a phase drops.
    #[module(skip)]
    pub mode: Mode,
    /// The random source of the assignment.
    #[module(skip)]
    pub assignment: Assignment,
    /// Which elements share an assignment.
    #[module(skip)]
    pub scope: Scope,
    /// Seed of the assignments.
    pub seed: u64,
    /// Whether to behave as during training (cleared by `freeze` and `valid`).
    pub training: Param<Flag>,
    /// Training forward passes so far: the cycle is `step / P`, the phase `step % P`.
    pub step: StepCounter,
    /// The current cycle's assignment, drawn once per cycle, and the random numbers drawn
    /// since creation (or the last reset).
    #[module(skip)]
    cache: Arc<Mutex<(Option<CycleCache>, u64)>>,
}

/// One cycle's partitions, `[rows, neurons]`, on the device they were last used on.
#[derive(Debug)]
struct CycleCache {
    cycle: u64,
    table: Tensor<2, Int>,
}

impl PartitionDropoutConfig {
    /// Initializes a [`PartitionDropout`]. Panics if `partitions < 2`.
    pub fn init(&self) -> PartitionDropout {
        assert!(
            self.partitions >= 2,
            "PartitionDropout: partitions must be at least 2, got {} (with one partition \
             drop-one would drop every neuron)",
            self.partitions
        );
        assert!(
            self.partitions <= u32::MAX as usize,
            "PartitionDropout: partitions must be at most {}, got {}",
            u32::MAX,
            self.partitions
        );
        PartitionDropout {
            partitions: self.partitions,
            mode: self.mode,
            assignment: self.assignment,
            scope: self.scope,
            seed: self.seed,
            training: Param::from_bool(true),
            step: StepCounter::default(),
            cache: Arc::default(),
        }
    }
}

impl PartitionDropout {
    /// Applies the layer; in training, advances the step.
    ///
    /// # Shapes
    /// - input: `[batch, ...]` (`[batch, channels, height, width]` for [`Scope::Channel`])
    /// - output: the same
    ///
    /// # Panics
    /// On an input of rank 1 (there is no batch axis), or not of rank 4 with `Scope::Channel`.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if !self.training.is_enabled() || !input.device().is_autodiff() {
            return input;
        }
        let dims = input.dims();
        assert!(
            D >= 2,
            "PartitionDropout: the input needs a batch axis (rank ≥ 2), got rank {D}"
        );
        let (rows, mask_dims) = match self.scope {
            Scope::PerSample => (dims[0], dims),
            Scope::PerBatch => {
                let mut mask_dims = dims;
                mask_dims[0] = 1;
                (1, mask_dims)
            }
            Scope::Channel => {
                assert!(
                    D == 4,
                    "PartitionDropout: Scope::Channel takes [batch, channels, height, width], \
                     got rank {D}"
                );
                let mut mask_dims = [1; D];
                mask_dims[..2].copy_from_slice(&dims[..2]);
                (dims[0], mask_dims)
            }
        };
        let neurons = mask_dims[1..].iter().product::<usize>();
        let inner = dims[1..].iter().product::<usize>() / neurons.max(1);
        let step = self.step.advance();
        let p = self.partitions as u64;
        let (cycle, phase) = (step / p, (step % p) as u32);
        let table = self.table(cycle, rows, neurons, &input.device());
        let pf = self.partitions as f32;
        let (keep, scale) = match self.mode {
            Mode::DropOne => (false, pf / (pf - 1.0)),
            Mode::KeepOne => (true, pf),
        };
        let output = <Dispatch as PartitionMaskBackend>::partition_mask(
            input.reshape([dims[0], neurons, inner]).into_dispatch(),
            table.reshape([rows, neurons, 1]).into_dispatch(),
            phase,
            keep,
            scale,
        );
        Tensor::<3>::from_dispatch(output).reshape(dims)
    }

    /// Starts over at step 0 (cycle 0, phase 0).
    pub fn reset(&self) {
        self.step.reset();
        *self.cache.lock().expect("cache lock") = (None, 0);
    }

    /// Random numbers drawn for assignments since creation or the last [`reset`](Self::reset):
    /// one per neuron (and sample) per cycle, not per step.
    pub fn draws(&self) -> u64 {
        self.cache.lock().expect("cache lock").1
    }

    /// The cycle's partition table `[rows, neurons]` on `device`: drawn on the first step of
    /// the cycle (one random number per neuron and row), uploaded once, reused by the next
    /// `P − 1` steps and by their backward passes.
    fn table(&self, cycle: u64, rows: usize, neurons: usize, device: &Device) -> Tensor<2, Int> {
        let mut guard = self.cache.lock().expect("cache lock");
        let (cache, draws) = &mut *guard;
        if let Some(c) = cache.as_ref()
            && c.cycle == cycle
            && c.table.dims() == [rows, neurons]
        {
            if c.table.device() != *device {
                let table = c.table.clone().to_device(device);
                *cache = Some(CycleCache {
                    cycle,
                    table: table.clone(),
                });
                return table;
            }
            return c.table.clone();
        }
        let mut partitions = Vec::with_capacity(rows * neurons);
        for row in 0..rows {
            let seed = self.seed;
            let (parts, n) = assign(
                self.assignment,
                self.partitions,
                neurons,
                seed,
                cycle,
                row as u64,
            );
            partitions.extend(parts);
            *draws += n;
        }
        // One byte per entry where the partitions fit and the device stores bytes (a quarter
        // of an f32 mask); else 32 bits.
        let data = TensorData::new(partitions, [rows, neurons]);
        let bytes = self.partitions <= u8::MAX as usize && device.supports_dtype(DType::U8);
        let (data, dtype) = match bytes {
            true => (data.convert::<u8>(), DType::U8),
            false => (data.convert::<i32>(), DType::I32),
        };
        let table = Tensor::from_data(data, (device, dtype));
        *cache = Some(CycleCache {
            cycle,
            table: table.clone(),
        });
        table
    }
}

impl ModuleDisplay for PartitionDropout {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("partitions", &self.partitions)
            .add("mode", &format!("{:?}", self.mode))
            .add("assignment", &format!("{:?}", self.assignment))
            .add("scope", &format!("{:?}", self.scope))
            .add("step", &self.step.get())
            .optional()
    }
}
