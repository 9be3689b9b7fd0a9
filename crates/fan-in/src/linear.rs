//! `FanInLinear`: a linear layer in which every output neuron reads `k` of the inputs.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::tensor::{Device, Distribution, Tensor};
//! use mcnn_fan_in::FanInLinearConfig;
//!
//! let device = Device::flex();
//! // 784 inputs, 300 outputs, each output reads 16 of the inputs.
//! let layer = FanInLinearConfig::new(784, 300, 16).with_seed(7).init(&device);
//! let x = Tensor::<2>::random([8, 784], Distribution::Normal(0.0, 1.0), &device);
//! assert_eq!(layer.forward(x).dims(), [8, 300]);
//! # }
//! ```

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param, ParamId};
use burn::nn::{Initializer, Linear};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use mcnn_backends::RecordedSize;

use crate::pattern::{pack_rows, random_indices};
use crate::{FanInError, fan_in};

/// Configuration of a [`FanInLinear`] with a random connection pattern: every output neuron
/// reads `fan_in` distinct inputs drawn uniformly (seeded, reproducible).
#[derive(Config, Debug)]
pub struct FanInLinearConfig {
    /// The size of the input features.
    pub d_input: usize,
    /// The size of the output features.
    pub d_output: usize,
    /// How many inputs every output neuron reads (`k`), in `1..=d_input`.
    pub fan_in: usize,
    /// If a bias should be added.
    #[config(default = true)]
    pub bias: bool,
    /// Seed of the connection pattern (the weights use the device's RNG, like Burn's layers).
    #[config(default = 0)]
    pub seed: u64,
    /// Initializer of the weights and bias, with `fan_in` (not `d_input`) as the fan-in.
    #[config(
        default = "Initializer::KaimingUniform{gain:1.0/num_traits::Float::sqrt(3.0), fan_out_only:false}"
    )]
    pub initializer: Initializer,
}

/// A sparse linear layer with constant fan-in,
/// `y[.., o] = Σ_k weight[o,k] · x[.., indices[o,k]] + bias[o]`, at a cost proportional to
/// `batch · d_output · k` in the forward and the
/// backward pass (the shared primitive of section 5 of `docs/algorithms.md`).
///
/// The indices are a parameter so they are saved with the record; optimizers skip them
/// (integer tensors get no gradient). Rows with fewer than `k` real inputs (variable fan-in,
/// see [`FanInLinear::from_masked_dense`]) are padded with index 0 and weight 0: the output
/// is exact, and in training the padding slots receive gradients like any edge to input 0.
///
/// Should be created with [`FanInLinearConfig`], [`FanInLinear::from_indices`] or
/// [`FanInLinear::from_masked_dense`].
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct FanInLinear {
    /// The weights of the edges, `[d_output, k]`.
    pub weight: Param<Tensor<2>>,
    /// The input read by each edge, `[d_output, k]`, every value in `0..d_input`.
    pub indices: Param<Tensor<2, Int>>,
    /// The bias, `[d_output]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// The size of the input features (recorded, checked at load time).
    pub d_input: RecordedSize,
}

impl FanInLinearConfig {
    /// Initializes a [`FanInLinear`] with a random pattern. Panics on a bad configuration;
    /// see [`try_init`](Self::try_init).
    pub fn init(&self, device: &Device) -> FanInLinear {
        self.try_init(device)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`init`](Self::init) that returns configuration errors instead of panicking.
    pub fn try_init(&self, device: &Device) -> Result<FanInLinear, FanInError> {
        if self.d_input == 0 || self.d_input > u32::MAX as usize {
            return Err(FanInError::new("d_input", self.d_input, "1..=u32::MAX"));
        }
        if self.d_output == 0 {
            return Err(FanInError::new("d_output", self.d_output, "1 or more"));
        }
        if self.fan_in == 0 || self.fan_in > self.d_input {
            return Err(FanInError::new(
                "fan_in",
                self.fan_in,
                format!(
                    "1..={} (d_input: the inputs of a row are distinct)",
                    self.d_input
                ),
            ));
        }
        if self
            .d_output
            .checked_mul(self.fan_in)
            .is_none_or(|edges| edges > u32::MAX as usize)
        {
            return Err(FanInError::new(
                "d_output · fan_in",
                format!("{} · {}", self.d_output, self.fan_in),
                "at most 2^32 − 1 edges (the GPU kernels index them with 32 bits)",
            ));
        }
        let indices = random_indices(self.d_output, self.fan_in, self.d_input, self.seed);
        let indices = Tensor::from_data(
            TensorData::new(indices, [self.d_output, self.fan_in]),
            device,
        );
        let (fan_in, fan_out) = (Some(self.fan_in), Some(self.d_output));
        Ok(FanInLinear {
            weight: self.initializer.init_with(
                [self.d_output, self.fan_in],
                fan_in,
                fan_out,
                device,
            ),
            indices: Param::initialized(ParamId::new(), indices),
            bias: self.bias.then(|| {
                self.initializer
                    .init_with([self.d_output], fan_in, fan_out, device)
            }),
            d_input: RecordedSize::new(self.d_input),
        })
    }
}

impl FanInLinear {
    /// A layer from explicit edges. Panics on bad input; see [`try_from_indices`](Self::try_from_indices).
    pub fn from_indices(
        weight: Tensor<2>,
        indices: Tensor<2, Int>,
        bias: Option<Tensor<1>>,
        d_input: usize,
    ) -> Self {
        Self::try_from_indices(weight, indices, bias, d_input)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// A layer from explicit edges: `weight` and `indices` of shape `[d_output, k]`, every
    /// index in `0..d_input` (checked here, once, on the host), `bias` of shape `[d_output]`.
    pub fn try_from_indices(
        weight: Tensor<2>,
        indices: Tensor<2, Int>,
        bias: Option<Tensor<1>>,
        d_input: usize,
    ) -> Result<Self, FanInError> {
        crate::function::check_edges(&weight, &indices, bias.as_ref())?;
        let k = weight.dims()[1];
        let values = indices.to_data();
        if let Some((position, j)) = values
            .iter::<i64>()
            .enumerate()
            .find(|(_, j)| !(0..d_input as i64).contains(j))
        {
            return Err(FanInError::new(
                "indices",
                format!("{j} at [{}, {}]", position / k.max(1), position % k.max(1)),
                format!("0..{d_input} (d_input)"),
            ));
        }
        Ok(Self {
            weight: Param::from_tensor(weight),
            indices: Param::initialized(ParamId::new(), indices),
            bias: bias.map(Param::from_tensor),
            d_input: RecordedSize::new(d_input),
        })
    }

    /// The sparse layer of the entries of a trained `linear` that `mask` keeps: `mask` is in
    /// the layout of `linear.weight`, `[d_input, d_output]`; the bias is kept. See
    /// [`from_masked_dense`](Self::from_masked_dense).
    ///
    /// # Errors
    /// A mask of another shape than the weight, naming `mask`.
    pub fn from_linear(linear: &Linear, mask: Tensor<2, Bool>) -> Result<Self, FanInError> {
        Self::try_from_masked_dense(
            linear.weight.val(),
            mask,
            linear.bias.as_ref().map(Param::val),
        )
    }

    /// The sparse layer that computes `input · (weight ⊙ mask) + bias` for a dense `weight`
    /// in Burn's `Linear` layout, `[d_input, d_output]`, and a `mask` of the same shape. `k`
    /// is the largest number of kept entries of an output (at least 1); shorter rows are
    /// padded (see the type's docs). Panics on mismatched shapes; see
    /// [`try_from_masked_dense`](Self::try_from_masked_dense).
    pub fn from_masked_dense(
        weight: Tensor<2>,
        mask: Tensor<2, Bool>,
        bias: Option<Tensor<1>>,
    ) -> Self {
        Self::try_from_masked_dense(weight, mask, bias).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`from_masked_dense`](Self::from_masked_dense) that returns errors instead of panicking.
    pub fn try_from_masked_dense(
        weight: Tensor<2>,
        mask: Tensor<2, Bool>,
        bias: Option<Tensor<1>>,
    ) -> Result<Self, FanInError> {
        let [d_input, d_output] = weight.dims();
        if mask.dims() != [d_input, d_output] {
            return Err(FanInError::new(
                "mask",
                format!("shape {:?}", mask.dims()),
                format!(
                    "the shape of `weight` (Burn's Linear layout [d_input, d_output]), [{d_input}, {d_output}]"
                ),
            ));
        }
        if let Some(bias) = &bias
            && bias.dims() != [d_output]
        {
            return Err(FanInError::new(
                "bias",
                format!("shape {:?}", bias.dims()),
                format!("[{d_output}] (d_output, the second axis of `weight`)"),
            ));
        }
        let device = weight.device();
        let dense = mcnn_backends::host_values(weight);
        let keep = mask.to_data().iter::<bool>().collect::<Vec<_>>();
        let (indices, weights, k) = pack_rows(
            d_output,
            d_input,
            |o, j| keep[j * d_output + o],
            |o, j| dense[j * d_output + o],
        );
        Self::try_from_indices(
            Tensor::from_data(TensorData::new(weights, [d_output, k]), &device),
            Tensor::from_data(TensorData::new(indices, [d_output, k]), &device),
            bias,
            d_input,
        )
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let d_input = input.dims()[D - 1];
        assert_eq!(
            d_input,
            self.d_input.get(),
            "FanInLinear: the input's last axis is {d_input}, the layer takes d_input = {}",
            self.d_input.get()
        );
        fan_in(
            input,
            self.weight.val(),
            self.indices.val(),
            self.bias.as_ref().map(Param::val),
        )
    }

    /// The number of inputs each output reads (`k`, padding included).
    pub fn fan_in(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The equivalent dense weight in Burn's `Linear` layout, `[d_input, d_output]`.
    pub fn dense_weight(&self) -> Tensor<2> {
        crate::dense_weight(self.weight.val(), self.indices.val(), self.d_input.get()).transpose()
    }
}

impl ModuleDisplay for FanInLinear {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let [d_output, k] = self.weight.dims();
        content
            .add("d_input", &self.d_input.get())
            .add("d_output", &d_output)
            .add("fan_in", &k)
            .add("bias", &self.bias.is_some())
            .optional()
    }
}
