use burn::config::Config;
use burn::module::Module;
use burn::nn::{LinearConfig, Relu};
use burn::tensor::{Device, Tensor};
use sampled_linear::LinearLayer;

use super::ImageClassifier;

/// Configuration of an [`Mlp`]: the sizes of its layers, input first, classes last.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// `[inputs, hidden…, classes]`, e.g. `[784, 300, 10]`: at least two sizes, none 0.
    pub sizes: Vec<usize>,
}

/// A multilayer perceptron with ReLU between its layers: the flattened image in, logits out
/// (the MNIST MLPs of LeCun et al. 1998 and of the Monte Carlo quantization paper).
///
/// Its layers are [`LinearLayer`]s: dense as built, compressible in one call
/// (`sampled_linear::compress`).
///
/// Should be created with [`MlpConfig`].
#[derive(Module, Debug)]
pub struct Mlp {
    /// The fully connected layers, input to output.
    pub layers: Vec<LinearLayer>,
    /// The activation after every layer but the last.
    pub activation: Relu,
}

impl MlpConfig {
    /// Initializes the MLP on `device`.
    ///
    /// # Panics
    /// If fewer than two sizes are given or one of them is 0.
    pub fn init(&self, device: &Device) -> Mlp {
        assert!(
            self.sizes.len() >= 2 && !self.sizes.contains(&0),
            "MlpConfig: sizes must hold at least an input and an output size, none 0; got {:?}",
            self.sizes
        );
        Mlp {
            layers: self
                .sizes
                .windows(2)
                .map(|pair| LinearConfig::new(pair[0], pair[1]).init(device).into())
                .collect(),
            activation: Relu::new(),
        }
    }
}

impl Mlp {
    /// # Shapes
    /// - input: `[batch, inputs]`
    /// - output: `[batch, classes]`
    pub fn forward_flat(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x
    }
}

impl ImageClassifier for Mlp {
    /// # Shapes
    /// - images: `[batch, channels, height, width]` with `channels · height · width` the
    ///   MLP's input size
    /// - output: `[batch, classes]`
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let inputs = self.layers[0].dims()[0];
        self.forward_flat(super::flatten_images(images, inputs, "Mlp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_relu_between_layers() {
        let device = mcnn_backends::host_device();
        let mlp = MlpConfig::new(vec![4, 3, 2]).init(&device);
        assert_eq!(
            mlp.forward(Tensor::<4>::ones([5, 1, 2, 2], &device)).dims(),
            [5, 2]
        );
        // Against the same layers applied by hand.
        let x = Tensor::<2>::from_floats([[1.0, -2.0, 3.0, -4.0]], &device);
        let expected = mlp.layers[1].forward(mlp.layers[0].forward(x.clone()).clamp_min(0.0));
        mlp.forward_flat(x)
            .into_data()
            .assert_eq(&expected.into_data(), true);
    }

    #[test]
    #[should_panic(expected = "at least an input and an output size")]
    fn one_size_is_refused() {
        MlpConfig::new(vec![784]).init(&mcnn_backends::host_device());
    }
}
