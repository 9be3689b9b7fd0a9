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

use mcnn_backends::{RecordedSize, StepCounter};

use crate::assignment::{Assignment, MAX_PARTITIONS, assign};
use crate::{DropoutError, PartitionMaskBackend};

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
    /// The number of partitions `P`, from 2 to [`MAX_PARTITIONS`] (drop-one drops `1/P` of
    /// the neurons).
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
    /// Seed of the assignments. The assignments depend on the seed, the cycle and the sample,
    /// not on the layer: two layers of one seed drop the neurons they have in common (the
    /// first `min(n₁, n₂)`) at the same steps. Give each layer of a model its own seed.
    #[config(default = 0)]
    pub seed: u64,
}

/// Dropout by partitions: once per cycle of `P` training steps every neuron is assigned to
/// one of `P` partitions (one random number per neuron per cycle), and step `k` of the cycle
/// drops partition `k` (or keeps only it). Every neuron is dropped exactly once per cycle.
/// Identity at inference (a device without autodiff, or after `valid()`).
///
/// From Gamboa and Keller, *Monte Carlo methods and neural networks* (NVIDIA); section 1 of
/// `docs/algorithms.md`. Should be created with [`PartitionDropoutConfig`].
///
/// # Using one layer at several places
///
/// Like Burn's `Dropout`, one layer may be applied at several places of a forward pass (the
/// Burn book's model applies its one `dropout` after each block). Every distinct input shape
/// (all axes but the batch) is a call site with its own cycle, phase and assignment, so each
/// place drops every neuron exactly once per cycle. Two places whose inputs have the *same*
/// shape would share one cycle and each see only part of it: give them a layer each. Inputs
/// whose shape changes from step to step (sequences of varying length) each get a call site of
/// their own, starting its cycle anew: a layer fed many shapes keeps a site (and a table) per
/// shape.
///
/// # Records
///
/// The step (the cycle position) is saved with the record and shared by clones;
/// [`reset`](Self::reset) starts over. It is the busiest call site's count: after a load every
/// site continues from it, so a layer whose sites run unequally often (inputs of varying shape)
/// resumes with other masks than an uninterrupted run would have drawn. `partitions`, `mode`,
/// `assignment`, `scope` and `seed` are configuration, as in Burn's layers: build the layer
/// from the same [`PartitionDropoutConfig`] before loading. `partitions` is also recorded, as the shape of
/// an empty tensor, so a record of another `P` is refused at load time. A checkpoint of the
/// same model with Burn's `Dropout` (which records nothing) loads with
/// `ModuleRecord::allow_partial(true)`; the step then starts at 0.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct PartitionDropout {
    /// The number of partitions `P` (recorded as a size, checked at load time).
    pub partitions: RecordedSize,
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
    /// Training steps so far: the forward passes of the busiest call site. A call site's
    /// cycle is its step / P, its phase step % P.
    pub step: StepCounter,
    /// The call sites, their cycles' assignments, and the random numbers drawn since
    /// creation (or the last reset).
    #[module(skip)]
    state: Arc<Mutex<SiteState>>,
}

/// The call sites of one layer (see the type's docs).
#[derive(Debug, Default)]
struct SiteState {
    /// Call sites in order of first use.
    sites: Vec<CallSite>,
    /// The step every call site started from (0, or a loaded step).
    base: u64,
    /// The step last written to the counter: any other value there was loaded or reset.
    published: u64,
    /// Random numbers drawn for assignments.
    draws: u64,
}

/// One call site: inputs of one per-sample shape.
#[derive(Debug)]
struct CallSite {
    /// The input's shape without its batch axis.
    shape: Vec<usize>,
    /// Training forward passes at this site since `base`.
    calls: u64,
    /// The current cycle's partitions, `[rows, neurons]`, on the device last used.
    cycle: Option<(u64, Tensor<2, Int>)>,
}

impl PartitionDropoutConfig {
    /// Initializes a [`PartitionDropout`]. Panics if `partitions < 2` or above
    /// [`MAX_PARTITIONS`]; see [`try_init`](Self::try_init).
    pub fn init(&self) -> PartitionDropout {
        self.try_init()
            .unwrap_or_else(|error| panic!("PartitionDropout: {error}"))
    }

    /// [`init`](Self::init) that returns the error instead of panicking.
    ///
    /// # Errors
    /// [`DropoutError`] naming `partitions` when it is below 2 or above [`MAX_PARTITIONS`].
    pub fn try_init(&self) -> Result<PartitionDropout, DropoutError> {
        if self.partitions < 2 {
            return Err(DropoutError::new(
                "partitions",
                self.partitions,
                "at least 2 (with one partition drop-one would drop every neuron)",
            ));
        }
        if self.partitions > MAX_PARTITIONS {
            return Err(DropoutError::new(
                "partitions",
                self.partitions,
                format!(
                    "at most {MAX_PARTITIONS} (2^24, the resolution of the assignments' draws)"
                ),
            ));
        }
        Ok(PartitionDropout {
            partitions: RecordedSize::new(self.partitions),
            mode: self.mode,
            assignment: self.assignment,
            scope: self.scope,
            seed: self.seed,
            training: Param::from_bool(true),
            step: StepCounter::default(),
            state: Arc::default(),
        })
    }

    /// The configuration whose drop rate is nearest `prob`, the rate of Burn's
    /// `DropoutConfig::new(prob)`: drop-one drops `1/P` (for `prob ≤ 1/2`), keep-one
    /// `1 − 1/P` (above), with the `P` whose rate is nearest. Returns the configuration and the
    /// rate it gives.
    ///
    /// # Errors
    /// [`DropoutError`] naming `prob` when it is not in `(0, 1)`, or too close to 0 or 1 for
    /// `P ≤` [`MAX_PARTITIONS`].
    pub fn from_drop_rate(prob: f64) -> Result<(Self, f64), DropoutError> {
        if !(prob > 0.0 && prob < 1.0) {
            return Err(DropoutError::new(
                "prob",
                prob,
                "a drop rate in (0, 1), exclusive",
            ));
        }
        let (mode, inverse) = match prob <= 0.5 {
            true => (Mode::DropOne, 1.0 / prob),
            false => (Mode::KeepOne, 1.0 / (1.0 - prob)),
        };
        // The nearest rate, not the nearest 1/rate: compare the two neighbouring P.
        let rate_of = |p: f64| match mode {
            Mode::DropOne => 1.0 / p,
            Mode::KeepOne => 1.0 - 1.0 / p,
        };
        let (low, high) = (inverse.floor().max(2.0), inverse.ceil().max(2.0));
        let partitions = match (rate_of(low) - prob).abs() <= (rate_of(high) - prob).abs() {
            true => low,
            false => high,
        };
        if partitions > MAX_PARTITIONS as f64 {
            return Err(DropoutError::new(
                "prob",
                prob,
                format!(
                    "a drop rate that needs at most {MAX_PARTITIONS} partitions (this one needs \
                     {partitions})"
                ),
            ));
        }
        Ok((
            Self::new(partitions as usize).with_mode(mode),
            rate_of(partitions),
        ))
    }
}

impl PartitionDropout {
    /// Applies the layer; in training, advances the step of the input's call site (its
    /// shape without the batch axis, see the type's docs).
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
        assert!(
            D == 4 || self.scope != Scope::Channel,
            "PartitionDropout: Scope::Channel takes [batch, channels, height, width], got rank {D}"
        );
        if dims.contains(&0) {
            // Nothing to drop, as Burn's `Dropout` (and no step: nothing was trained).
            return input;
        }
        let (rows, mask_dims) = match self.scope {
            Scope::PerSample => (dims[0], dims),
            Scope::PerBatch => {
                let mut mask_dims = dims;
                mask_dims[0] = 1;
                (1, mask_dims)
            }
            Scope::Channel => {
                let mut mask_dims = [1; D];
                mask_dims[..2].copy_from_slice(&dims[..2]);
                (dims[0], mask_dims)
            }
        };
        let neurons = mask_dims[1..].iter().product::<usize>();
        let inner = dims[1..].iter().product::<usize>() / neurons;
        let p = self.partitions.get() as u64;
        let (step, table) = self.site_step(&dims[1..], rows, neurons, &input.device());
        let phase = (step % p) as u32;
        let pf = p as f32;
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

    /// Starts over at step 0 (cycle 0, phase 0) at every call site.
    pub fn reset(&self) {
        self.step.reset();
        *self.state.lock().expect("state lock") = SiteState::default();
    }

    /// The phase the next training step drops: `step % P` (phase `p` drops partition `p`, or
    /// keeps only it, as `mode` says). The step counts training steps (see the type's docs).
    pub fn phase(&self) -> usize {
        (self.step.get() % self.partitions.get() as u64) as usize
    }

    /// Random numbers drawn for assignments since creation or the last [`reset`](Self::reset):
    /// one per neuron (and sample) per cycle and call site, not per step.
    pub fn draws(&self) -> u64 {
        self.state.lock().expect("state lock").draws
    }

    /// The call sites seen so far: the input shapes without the batch axis, in order of
    /// first use.
    pub fn call_sites(&self) -> Vec<Vec<usize>> {
        let state = self.state.lock().expect("state lock");
        state.sites.iter().map(|s| s.shape.clone()).collect()
    }

    /// The step of this call at the site of `shape`, advancing it, and the site's partition
    /// table `[rows, neurons]` for the step's cycle on `device`: drawn on the first step of
    /// the cycle (one random number per neuron and row), uploaded once, reused by the next
    /// `P − 1` steps and by their backward passes.
    fn site_step(
        &self,
        shape: &[usize],
        rows: usize,
        neurons: usize,
        device: &Device,
    ) -> (u64, Tensor<2, Int>) {
        let mut guard = self.state.lock().expect("state lock");
        let state = &mut *guard;
        let counted = self.step.get();
        if counted != state.published {
            // Loaded (or set) from outside: every site continues from there.
            *state = SiteState {
                base: counted,
                published: counted,
                draws: state.draws,
                sites: Vec::new(),
            };
        }
        let index = match state.sites.iter().position(|s| s.shape == shape) {
            Some(index) => index,
            None => {
                state.sites.push(CallSite {
                    shape: shape.to_vec(),
                    calls: 0,
                    cycle: None,
                });
                state.sites.len() - 1
            }
        };
        let site = &mut state.sites[index];
        let step = state.base + site.calls;
        site.calls += 1;
        if step + 1 > state.published {
            state.published = step + 1;
            self.step.set(step + 1);
        }
        let cycle = step / self.partitions.get() as u64;
        if let Some((c, table)) = &mut site.cycle
            && *c == cycle
            && table.dims() == [rows, neurons]
        {
            if table.device() != *device {
                *table = table.clone().to_device(device);
            }
            return (step, table.clone());
        }
        // Site 0 keeps the layer's seed (a layer used once draws what it always drew); the
        // others get streams of their own.
        let seed = self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut partitions = Vec::with_capacity(rows * neurons);
        for row in 0..rows {
            let (parts, n) = assign(
                self.assignment,
                self.partitions.get(),
                neurons,
                seed,
                cycle,
                row as u64,
            );
            partitions.extend(parts);
            state.draws += n;
        }
        // One byte per entry where the partitions fit and the device stores bytes (a quarter
        // of an f32 mask); else 32 bits.
        let data = TensorData::new(partitions, [rows, neurons]);
        let bytes = self.partitions.get() <= u8::MAX as usize && device.supports_dtype(DType::U8);
        let (data, dtype) = match bytes {
            true => (data.convert::<u8>(), DType::U8),
            false => (data.convert::<i32>(), DType::I32),
        };
        let table = Tensor::from_data(data, (device, dtype));
        state.sites[index].cycle = Some((cycle, table.clone()));
        (step, table)
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
            .add("partitions", &self.partitions.get())
            .add("mode", &format!("{:?}", self.mode))
            .add("assignment", &format!("{:?}", self.assignment))
            .add("scope", &format!("{:?}", self.scope))
            .add("step", &self.step.get())
            .optional()
    }
}
