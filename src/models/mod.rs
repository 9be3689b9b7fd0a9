//! Reference models shared by the examples, the experiments and the tests.

mod alexnet;
mod lenet;
mod lenet_dropout;
mod mlp;
mod path_net;
mod stats;

pub use alexnet::{AlexNetCifar, AlexNetCifarConfig};
pub use lenet::{LeNet5, LeNet5Config};
pub use lenet_dropout::{FeatureDropout, LeNet5Dropout};
pub use mlp::{Mlp, MlpConfig};
pub use stats::{ModelStat, ModelStats, PartitionPhase};

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;

/// A model that maps a batch of images to class logits; what [`crate::training`] trains and
/// [`crate::learner::Classifier`] trains through burn-train.
pub trait ImageClassifier: Module + ModuleDisplay {
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, classes]` (logits)
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;

    /// What the training metrics report of the model now (see [`ModelStats`]). By default
    /// its sampled layers ([`ModelStats::of_layers`]).
    fn stats(&self) -> ModelStats {
        ModelStats::of_layers(self)
    }
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
