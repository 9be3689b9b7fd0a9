//! `BernoulliDropout`: ordinary dropout driven by the same LFSR, the baseline partition
//! dropout is compared with.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::tensor::{Device, Tensor};
//! use partition_dropout::BernoulliDropoutConfig;
//!
//! let dropout = BernoulliDropoutConfig::new(0.25).with_seed(1).init();
//! let y = dropout.forward(Tensor::<2>::ones([4, 100], &Device::flex().autodiff()));
//! let zeros = y.equal_elem(0.0).int().sum().into_scalar::<i64>();
//! assert!((60..140).contains(&zeros), "about a quarter of 400: {zeros}");
//! # }
//! ```

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Flag, Module, ModuleDisplay, Param};
use burn::tensor::{Tensor, TensorData};
use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::lfsr::Lfsr32;

use crate::{DropoutError, StepCounter};

/// Configuration of a [`BernoulliDropout`].
#[derive(Config, Debug)]
pub struct BernoulliDropoutConfig {
    /// The probability `t` that an element is zeroed: 0, or from [`MIN_PROB`] (`2⁻²⁴`) to
    /// [`MAX_PROB`] (`1 − 2⁻²⁴`).
    pub prob: f64,
    /// Seed of the LFSR streams.
    #[config(default = 0)]
    pub seed: u64,
}

/// Dropout with one LFSR draw per element per training step: each element is zeroed with
/// probability `prob`, kept ones are scaled by `1 / (1 − prob)`; identity at inference.
///
/// The slides' baseline for partition dropout, with the same 32-bit LFSR
/// (`mcnn_sequences::lfsr::Lfsr32`) so that the comparison is made with the same generator.
/// Step `s` draws from an LFSR seeded by a hash of `(seed, s)`: the same seed gives the same
/// masks. Should be created with [`BernoulliDropoutConfig`].
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct BernoulliDropout {
    /// The probability that an element is zeroed.
    pub prob: f64,
    /// Seed of the LFSR streams.
    pub seed: u64,
    /// Whether to behave as during training (cleared by `freeze` and `valid`).
    pub training: Param<Flag>,
    /// Training forward passes so far, saved with the record.
    pub step: StepCounter,
}

/// The largest drop probability of [`BernoulliDropout`]: its draws are `f32`s on a grid of
/// `2⁻²⁴` below 1, and a rate between this and 1 would round to 1 and zero every element.
pub const MAX_PROB: f64 = 1.0 - 1.0 / (1u32 << 24) as f64;

/// The smallest non-zero drop probability of [`BernoulliDropout`], `2⁻²⁴`: on the draws'
/// grid a smaller rate would drop as often as this one.
pub const MIN_PROB: f64 = 1.0 / (1u32 << 24) as f64;

impl BernoulliDropoutConfig {
    /// Initializes a [`BernoulliDropout`]. Panics unless `prob` is 0 or from [`MIN_PROB`] to
    /// [`MAX_PROB`]; see [`try_init`](Self::try_init).
    pub fn init(&self) -> BernoulliDropout {
        self.try_init()
            .unwrap_or_else(|error| panic!("BernoulliDropout: {error}"))
    }

    /// [`init`](Self::init) that returns the error instead of panicking.
    ///
    /// # Errors
    /// [`DropoutError`] naming `prob` unless it is 0 or from [`MIN_PROB`] to [`MAX_PROB`].
    pub fn try_init(&self) -> Result<BernoulliDropout, DropoutError> {
        if !(self.prob == 0.0 || (MIN_PROB..=MAX_PROB).contains(&self.prob)) {
            return Err(DropoutError::new(
                "prob",
                self.prob,
                "0, or in [2^-24, 1 − 2^-24]: the draws are f32 on a grid of 2^-24, so a \
                 smaller rate would drop as often as 2^-24 and one closer to 1 would drop \
                 everything",
            ));
        }
        Ok(BernoulliDropout {
            prob: self.prob,
            seed: self.seed,
            training: Param::from_bool(true),
            step: StepCounter::default(),
        })
    }
}

impl BernoulliDropout {
    /// Applies the layer; in training, advances the step.
    ///
    /// # Shapes
    /// - input: `[...]`
    /// - output: the same
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if !self.training.is_enabled() || !input.device().is_autodiff() || self.prob == 0.0 {
            return input;
        }
        let step = self.step.advance();
        let stream = CounterHash::from_seed(self.seed)
            .derive(step as u32)
            .derive((step >> 32) as u32);
        let mut lfsr =
            Lfsr32::from_seed(((stream.u32_at(0) as u64) << 32) | stream.u32_at(1) as u64);
        let scale = (1.0 / (1.0 - self.prob)) as f32;
        let prob = self.prob as f32;
        let dims = input.dims();
        let mask: Vec<f32> = (0..dims.iter().product::<usize>())
            .map(|_| if lfsr.next_f32() < prob { 0.0 } else { scale })
            .collect();
        input.clone() * Tensor::from_data(TensorData::new(mask, dims), &input.device())
    }

    /// Starts over at step 0.
    pub fn reset(&self) {
        self.step.reset();
    }
}

impl ModuleDisplay for BernoulliDropout {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("prob", &self.prob)
            .add("step", &self.step.get())
            .optional()
    }
}
