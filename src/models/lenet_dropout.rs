//! LeNet-5 with a dropout layer after each hidden fully connected layer: the model of the
//! partition-dropout experiment (E1).

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;
use partition_dropout::{BernoulliDropout, PartitionDropout};

use super::{ImageClassifier, LeNet5, ModelStats, PartitionPhase};

/// A dropout layer for `[batch, features]` activations.
pub trait FeatureDropout: Module + ModuleDisplay {
    /// # Shapes
    /// - input and output: `[batch, features]`
    fn apply(&self, x: Tensor<2>) -> Tensor<2>;

    /// Where the next training step is in the partition cycle (`None` for a dropout without
    /// one).
    fn partition_phase(&self) -> Option<PartitionPhase> {
        None
    }
}

impl FeatureDropout for PartitionDropout {
    fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }

    fn partition_phase(&self) -> Option<PartitionPhase> {
        Some(PartitionPhase {
            phase: self.phase(),
            partitions: self.partitions.get(),
        })
    }
}

impl FeatureDropout for BernoulliDropout {
    fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }
}

/// [`LeNet5`] with `after_fc1` and `after_fc2` applied to the hidden activations. Give the two
/// layers different seeds: partition dropout of one seed drops neuron `i` of both at the same
/// steps.
#[derive(Module, Debug)]
pub struct LeNet5Dropout<Dr: FeatureDropout> {
    /// The network.
    pub lenet: LeNet5,
    /// Dropout on the 120 activations after fc1.
    pub after_fc1: Dr,
    /// Dropout on the 84 activations after fc2.
    pub after_fc2: Dr,
}

impl<Dr: FeatureDropout> ImageClassifier for LeNet5Dropout<Dr> {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.lenet.forward_with(images, |i, x| match i {
            0 => self.after_fc1.apply(x),
            _ => self.after_fc2.apply(x),
        })
    }

    /// The sampled layers of the LeNet and the phase of the first dropout layer.
    fn stats(&self) -> ModelStats {
        ModelStats {
            partition_phase: self.after_fc1.partition_phase(),
            ..ModelStats::of_layers(&self.lenet)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::LeNet5Config;
    use partition_dropout::PartitionDropoutConfig;

    #[test]
    fn dropout_acts_only_in_training() {
        let device = mcnn_backends::host_device();
        let lenet = mcnn_backends::materialize(LeNet5Config::new().init(&device));
        let dropout = || PartitionDropoutConfig::new(2).with_seed(1).init();
        let model = LeNet5Dropout {
            lenet: lenet.clone(),
            after_fc1: dropout(),
            after_fc2: dropout(),
        };
        let images = Tensor::<4>::ones([2, 1, 28, 28], &device);
        // Inference: exactly LeNet-5.
        let expected = lenet.forward(images.clone()).into_data();
        ImageClassifier::forward(&model, images.clone())
            .into_data()
            .assert_eq(&expected, true);
        // Training: half of the hidden units of each layer dropped, so the logits change.
        let ad = device.autodiff();
        let trained = ImageClassifier::forward(&model.fork(&ad), images.to_device(&ad).autodiff())
            .into_data();
        assert_ne!(trained, expected);
    }
}
