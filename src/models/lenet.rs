use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};
use sampled_conv::Conv2dLayer;
use sampled_linear::LinearLayer;

use super::ImageClassifier;

/// Configuration of [`LeNet5`].
#[derive(Config, Debug)]
pub struct LeNet5Config {
    /// Channels of the input images (1 for MNIST, 3 for CIFAR-10).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Height and width of the (square) input images.
    #[config(default = 28)]
    pub image_size: usize,
    /// Zero padding of the first convolution: 2 turns MNIST's 28×28 into the 32×32 of the
    /// original LeNet-5.
    #[config(default = 2)]
    pub padding: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
    /// Filters of the two convolutions: LeNet-5's 6 and 16; wider for CIFAR-10 (32 and 64
    /// reach the slides' dense accuracy there).
    #[config(default = "[6, 16]")]
    pub filters: [usize; 2],
    /// Widths of the two hidden fully connected layers: LeNet-5's 120 and 84.
    #[config(default = "[120, 84]")]
    pub hidden: [usize; 2],
}

/// LeNet-5 (LeCun et al., *Gradient-based learning applied to document recognition*, 1998)
/// with ReLU and max pooling: conv 6@5×5, pool 2, conv 16@5×5, pool 2, 120, 84, classes (the
/// filters and hidden widths are configurable).
///
/// Its convolutions and linear layers are [`Conv2dLayer`]s and [`LinearLayer`]s: dense as
/// built, compressible in one call (`sampled_linear::compress`).
///
/// Should be created with [`LeNet5Config`].
#[derive(Module, Debug)]
pub struct LeNet5 {
    /// First convolution, 6 filters of 5×5 (`filters[0]`).
    pub conv1: Conv2dLayer,
    /// Second convolution, 16 filters of 5×5 (`filters[1]`).
    pub conv2: Conv2dLayer,
    /// 2×2 max pooling after each convolution.
    pub pool: MaxPool2d,
    /// Fully connected, flattened features to 120 (`hidden[0]`).
    pub fc1: LinearLayer,
    /// Fully connected, 120 to 84 (`hidden[1]`).
    pub fc2: LinearLayer,
    /// Fully connected, 84 to the classes.
    pub fc3: LinearLayer,
    /// The activation after every layer but the last.
    pub activation: Relu,
}

impl LeNet5Config {
    /// Side of the feature maps after the second pooling, or `None` if the images are too
    /// small for two 5×5 convolutions and two poolings.
    fn features_side(&self) -> Option<usize> {
        let conv1 = (self.image_size + 2 * self.padding).checked_sub(4)?;
        let conv2 = (conv1 / 2).checked_sub(4)?;
        Some(conv2 / 2).filter(|&side| side > 0)
    }

    /// Initializes a LeNet-5 on `device`.
    ///
    /// # Panics
    /// If `in_channels`, `classes`, a filter count or a hidden width is 0, or `image_size` is
    /// too small for the layers.
    pub fn init(&self, device: &Device) -> LeNet5 {
        assert!(
            self.in_channels > 0,
            "in_channels must be at least 1, got 0"
        );
        assert!(self.classes > 0, "classes must be at least 1, got 0");
        assert!(
            !self.filters.contains(&0) && !self.hidden.contains(&0),
            "filters {:?} and hidden {:?} must all be at least 1",
            self.filters,
            self.hidden
        );
        let [f1, f2] = self.filters;
        let [h1, h2] = self.hidden;
        let side = self.features_side().unwrap_or_else(|| {
            panic!(
                "image_size {} with padding {} is too small for LeNet-5: the second pooling \
                 needs at least a 1×1 map (image_size + 2·padding ≥ 16)",
                self.image_size, self.padding
            )
        });
        let p = self.padding;
        LeNet5 {
            conv1: Conv2dConfig::new([self.in_channels, f1], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(device)
                .into(),
            conv2: Conv2dConfig::new([f1, f2], [5, 5]).init(device).into(),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(f2 * side * side, h1).init(device).into(),
            fc2: LinearConfig::new(h1, h2).init(device).into(),
            fc3: LinearConfig::new(h2, self.classes).init(device).into(),
            activation: Relu::new(),
        }
    }
}

impl LeNet5 {
    /// # Shapes
    /// - images: `[batch, in_channels, image_size, image_size]`
    /// - output: `[batch, classes]` (logits)
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_with(images, |_, x| x)
    }

    /// [`forward`](Self::forward) with `between(i, x)` applied to the activations after the
    /// `i`-th hidden fully connected layer (`i` = 0 after fc1, 1 after fc2): where dropout
    /// goes.
    pub fn forward_with(
        &self,
        images: Tensor<4>,
        between: impl Fn(usize, Tensor<2>) -> Tensor<2>,
    ) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.activation.forward(self.conv1.forward(images)));
        let x = self
            .pool
            .forward(self.activation.forward(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = between(0, self.activation.forward(self.fc1.forward(x)));
        let x = between(1, self.activation.forward(self.fc2.forward(x)));
        self.fc3.forward(x)
    }
}

impl ImageClassifier for LeNet5 {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        LeNet5::forward(self, images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_for_mnist_and_cifar() {
        let device = mcnn_backends::host_device();
        let mnist = LeNet5Config::new().init(&device);
        assert_eq!(mnist.fc1.dims(), [400, 120]);
        let y = mnist.forward(Tensor::zeros([2, 1, 28, 28], &device));
        assert_eq!(y.dims(), [2, 10]);

        let cifar = LeNet5Config::new()
            .with_in_channels(3)
            .with_image_size(32)
            .with_padding(0)
            .init(&device);
        assert_eq!(cifar.fc1.dims(), [400, 120]);
        assert_eq!(
            cifar.forward(Tensor::zeros([1, 3, 32, 32], &device)).dims(),
            [1, 10]
        );
    }

    #[test]
    fn parameter_count_is_lenet5s() {
        let model = LeNet5Config::new().init(&mcnn_backends::host_device());
        // 156 + 2416 + 48120 + 10164 + 850, the classic count for 32×32 inputs.
        assert_eq!(model.num_params(), 61_706);
    }

    #[test]
    #[should_panic(expected = "image_size 8 with padding 0 is too small")]
    fn tiny_images_are_rejected() {
        LeNet5Config::new()
            .with_image_size(8)
            .with_padding(0)
            .init(&mcnn_backends::host_device());
    }
}
