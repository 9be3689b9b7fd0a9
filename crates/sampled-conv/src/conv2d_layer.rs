//! `Conv2dLayer`: a convolution that is dense or sampled, the drop-in for Burn's `Conv2d` in
//! models that `sampled_linear::compress` compresses (see `LinearLayer`).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor};
use sampled_linear::{
    Compressible, LayerKind, LayerReport, SampledLinearError, SamplingConfig, StoredSize,
    dense_or_sampled_module,
};

use crate::{SampledConv2d, SampledConv2dConfig};

/// A convolution that is dense or sampled: a drop-in for Burn's `Conv2d` in models that may
/// be compressed (`sampled_linear::compress`). While dense it records and displays exactly as
/// the `Conv2d` it holds, so a dense checkpoint of the model loads as before.
#[derive(Debug, Clone)]
// Held by value like Burn's layers; a model has few of them.
#[allow(clippy::large_enum_variant)]
pub enum Conv2dLayer {
    /// Burn's dense convolution.
    Dense(Conv2d),
    /// Its Monte Carlo quantization.
    Sampled(SampledConv2d),
}

impl From<Conv2d> for Conv2dLayer {
    fn from(conv: Conv2d) -> Self {
        Self::Dense(conv)
    }
}

impl From<SampledConv2d> for Conv2dLayer {
    fn from(sampled: SampledConv2d) -> Self {
        Self::Sampled(sampled)
    }
}

impl Conv2dLayer {
    /// A dense convolution of `config` on `device` (Burn's initialization).
    pub fn new(config: &Conv2dConfig, device: &Device) -> Self {
        Self::Dense(config.init(device))
    }

    /// Applies the convolution.
    ///
    /// # Shapes
    /// - input: `[batch, channels_in, height, width]`
    /// - output: `[batch, channels_out, height_out, width_out]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Dense(conv) => conv.forward(input),
            Self::Sampled(sampled) => sampled.forward(input),
        }
    }

    /// Whether the convolution is sampled.
    pub fn is_sampled(&self) -> bool {
        matches!(self, Self::Sampled(_))
    }

    /// The dense convolution, if it is one.
    pub fn as_dense(&self) -> Option<&Conv2d> {
        match self {
            Self::Dense(conv) => Some(conv),
            Self::Sampled(_) => None,
        }
    }

    /// The sampled convolution, if it is one.
    pub fn as_sampled(&self) -> Option<&SampledConv2d> {
        match self {
            Self::Dense(_) => None,
            Self::Sampled(sampled) => Some(sampled),
        }
    }

    /// The weight's shape in `Conv2d`'s layout, `[c_out, c_in / groups, kh, kw]`.
    pub fn weight_dims(&self) -> [usize; 4] {
        match self {
            Self::Dense(conv) => conv.weight.lazy_shape().dims(),
            Self::Sampled(sampled) => sampled.geometry.weight_dims(),
        }
    }
}

impl Compressible for Conv2dLayer {
    const KIND: LayerKind = LayerKind::Conv2d;

    fn is_sampled(&self) -> bool {
        Conv2dLayer::is_sampled(self)
    }

    fn weights(&self) -> usize {
        self.weight_dims().iter().product()
    }

    fn outputs(&self) -> usize {
        self.weight_dims()[0]
    }

    fn stored_size(&self) -> StoredSize {
        match self {
            Self::Dense(conv) => StoredSize::dense(self.weights(), conv.num_params()),
            Self::Sampled(sampled) => sampled.stored_size(),
        }
    }

    fn sample(
        &self,
        config: &SamplingConfig,
        name: &str,
    ) -> Result<(Self, Option<LayerReport>), SampledLinearError> {
        match self {
            Self::Dense(conv) => {
                let (sampled, report) = SampledConv2d::from_conv2d(conv, config, name)?;
                Ok((Self::Sampled(sampled), Some(report)))
            }
            sampled => Ok((sampled.clone(), None)),
        }
    }

    fn layout(&self) -> Option<serde_json::Value> {
        self.as_sampled()
            .map(|s| serde_json::to_value(s.config()).expect("a config serializes"))
    }

    fn empty_sampled(&self, config: &serde_json::Value) -> Result<Self, String> {
        let config: SampledConv2dConfig = serde_json::from_value(config.clone())
            .map_err(|e| format!("not a SampledConv2d configuration: {e}"))?;
        let g = &config.geometry;
        g.check()?;
        config.layout.check()?;
        let dims = g.weight_dims();
        if dims != self.weight_dims()
            || g.taps() != config.layout.d_input
            || dims[0] != config.layout.d_output
        {
            return Err(format!(
                "a configuration of filters {dims:?} (layout {} × {}) for a convolution of {:?}",
                config.layout.d_output,
                config.layout.d_input,
                self.weight_dims()
            ));
        }
        let device = match self {
            Self::Dense(conv) => conv.weight.lazy_device(),
            Self::Sampled(sampled) => sampled.scales.lazy_device(),
        };
        Ok(Self::Sampled(config.init(&device)))
    }
}

dense_or_sampled_module!(Conv2dLayer);
