//! Reference models shared by the examples, the experiments and the tests.

mod lenet;
mod lenet_dropout;
mod mlp;

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
