use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};
use sampled_conv::Conv2dLayer;
use sampled_linear::LinearLayer;

use super::ImageClassifier;

/// Configuration of [`AlexNetCifar`].
#[derive(Config, Debug)]
pub struct AlexNetCifarConfig {
    /// Filters of the five convolutions: AlexNet's `[64, 192, 384, 256, 256]` by default;
    /// scale them down for a CPU budget. None may be 0.
    #[config(default = "[64, 192, 384, 256, 256]")]
    pub channels: [usize; 5],
    /// Width of the two hidden fully connected layers (AlexNet's 4096, reduced for 32×32).
    #[config(default = 1024)]
    pub hidden: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
}

/// An AlexNet-style network for 32×32 colour images (Krizhevsky, Sutskever and Hinton 2012,
/// adapted to CIFAR-10 as is usual): conv 5×5, pool, conv 5×5, pool, three conv 3×3, pool
/// (all "same" padded, ReLU), then two hidden fully connected layers and the classifier. No
/// dropout or local response normalisation.
///
/// Should be created with [`AlexNetCifarConfig`].
#[derive(Module, Debug)]
pub struct AlexNetCifar {
    /// The five convolutions (compressible: `sampled_linear::compress`).
    pub convs: Vec<Conv2dLayer>,
    /// 2×2 max pooling after the first, second and fifth convolution.
    pub pool: MaxPool2d,
    /// The fully connected layers: features to hidden, hidden to hidden, hidden to classes.
    pub fcs: Vec<LinearLayer>,
    /// The activation after every layer but the last.
    pub activation: Relu,
}

impl AlexNetCifarConfig {
    /// Initializes the network on `device`.
    ///
    /// # Panics
    /// If a channel count, `hidden` or `classes` is 0.
    pub fn init(&self, device: &Device) -> AlexNetCifar {
        assert!(
            !self.channels.contains(&0) && self.hidden > 0 && self.classes > 0,
            "AlexNetCifarConfig: channels {:?}, hidden {} and classes {} must all be at least 1",
            self.channels,
            self.hidden,
            self.classes
        );
        let c = self.channels;
        let conv = |from: usize, to: usize, kernel: usize| {
            let p = kernel / 2;
            Conv2dConfig::new([from, to], [kernel, kernel])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(device)
                .into()
        };
        AlexNetCifar {
            convs: vec![
                conv(3, c[0], 5),
                conv(c[0], c[1], 5),
                conv(c[1], c[2], 3),
                conv(c[2], c[3], 3),
                conv(c[3], c[4], 3),
            ],
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fcs: vec![
                // Three poolings take 32×32 to 4×4.
                LinearConfig::new(c[4] * 16, self.hidden)
                    .init(device)
                    .into(),
                LinearConfig::new(self.hidden, self.hidden)
                    .init(device)
                    .into(),
                LinearConfig::new(self.hidden, self.classes)
                    .init(device)
                    .into(),
            ],
            activation: Relu::new(),
        }
    }
}

impl ImageClassifier for AlexNetCifar {
    /// # Shapes
    /// - images: `[batch, 3, 32, 32]`
    /// - output: `[batch, classes]` (logits)
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for (i, conv) in self.convs.iter().enumerate() {
            x = self.activation.forward(conv.forward(x));
            if matches!(i, 0 | 1 | 4) {
                x = self.pool.forward(x);
            }
        }
        let mut x: Tensor<2> = x.flatten(1, 3);
        let last = self.fcs.len() - 1;
        for (i, fc) in self.fcs.iter().enumerate() {
            x = fc.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cifar_images_give_class_logits() {
        let device = mcnn_backends::host_device();
        let net = AlexNetCifarConfig::new()
            .with_channels([4, 6, 8, 8, 5])
            .with_hidden(12)
            .init(&device);
        assert_eq!(net.fcs[0].dims(), [5 * 16, 12]);
        let y = ImageClassifier::forward(&net, Tensor::zeros([2, 3, 32, 32], &device));
        assert_eq!(y.dims(), [2, 10]);
    }

    #[test]
    #[should_panic(expected = "must all be at least 1")]
    fn zero_channels_are_rejected() {
        AlexNetCifarConfig::new()
            .with_channels([4, 0, 8, 8, 5])
            .init(&mcnn_backends::host_device());
    }
}
