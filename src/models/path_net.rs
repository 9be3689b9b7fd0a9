//! Path networks ([`path_net::PathNet`]) as image classifiers: the flattened image in.

use burn::tensor::Tensor;
use path_net::PathNet;

use super::{ImageClassifier, ModelStats, flatten_images};

impl ImageClassifier for PathNet {
    /// # Shapes
    /// - images: `[batch, channels, height, width]` with `channels · height · width = n_0`
    /// - output: `[batch, n_L]`
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        PathNet::forward(self, flatten_images(images, self.d_input(), "PathNet"))
    }

    /// Its trained weights: one per edge.
    fn stats(&self) -> ModelStats {
        ModelStats {
            path_weights: Some(self.edges()),
            ..ModelStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use path_net::PathNetConfig;

    #[test]
    fn images_are_flattened_into_the_input_layer() {
        let device = mcnn_backends::host_device();
        let net = PathNetConfig::new(vec![4, 8, 2], 64).init(&device);
        let images =
            Tensor::<4>::random([3, 1, 2, 2], burn::tensor::Distribution::Default, &device);
        let flat = images.clone().reshape([3, 4]);
        ImageClassifier::forward(&net, images)
            .into_data()
            .assert_eq(&net.forward(flat).into_data(), true);
    }
}
