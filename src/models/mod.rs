//! Reference models shared by the examples, the experiments and the tests.

mod alexnet;
mod lenet;
mod lenet_dropout;
mod mlp;
mod path_net;

pub use alexnet::{AlexNetCifar, AlexNetCifarConfig};
pub use lenet::{LeNet5, LeNet5Config};
pub use lenet_dropout::{FeatureDropout, LeNet5Dropout};
pub use mlp::{Mlp, MlpConfig};

use burn::module::Module;
use burn::tensor::Tensor;

/// A model that maps a batch of images to class logits; what [`crate::training`] trains.
pub trait ImageClassifier: Module {
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, classes]` (logits)
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;
}

/// Flattens `[batch, channels, height, width]` images into `[batch, inputs]` rows for a
/// fully connected `model` (its name is for the panic message).
///
/// # Panics
/// If `channels · height · width` is not `inputs`.
pub(crate) fn flatten_images(images: Tensor<4>, inputs: usize, model: &str) -> Tensor<2> {
    let [batch, c, h, w] = images.dims();
    assert_eq!(
        c * h * w,
        inputs,
        "{model}: images of {c}×{h}×{w} = {} values, the first layer takes {inputs}",
        c * h * w
    );
    images.reshape([batch, inputs])
}
