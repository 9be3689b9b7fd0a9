use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::{ImageItem, ImageShape, Source};

/// A batch of images and their classes.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Normalised images, `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// Classes, `[batch]`.
    pub targets: Tensor<1, Int>,
}

/// Turns [`ImageItem`]s into an [`ImageBatch`]: pixels scaled to `[0, 1]`, then normalised
/// per channel by `(x - mean) / std`.
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    shape: ImageShape,
    /// `lut[c][v]`: the normalised value of pixel value `v` in channel `c`.
    lut: Vec<[f32; 256]>,
}

impl ImageBatcher {
    /// A batcher for images of `shape`, with one mean and standard deviation per channel.
    ///
    /// # Panics
    /// If `mean` or `std` does not have one entry per channel, or a `std` is not positive.
    pub fn new(shape: ImageShape, mean: &[f32], std: &[f32]) -> Self {
        assert!(
            mean.len() == shape.channels && std.len() == shape.channels,
            "mean ({}) and std ({}) need one value per channel ({})",
            mean.len(),
            std.len(),
            shape.channels
        );
        if let Some(bad) = std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            panic!("std must be positive and finite, got {bad}");
        }
        let lut = mean
            .iter()
            .zip(std)
            .map(|(m, s)| std::array::from_fn(|v| (v as f32 / 255.0 - m) / s))
            .collect();
        Self { shape, lut }
    }

    /// The batcher with the usual normalisation of a data set.
    pub fn for_source(source: Source) -> Self {
        let (mean, std) = source.normalization();
        Self::new(source.shape(), mean, std)
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let plane = self.shape.height * self.shape.width;
        let mut pixels = Vec::with_capacity(items.len() * self.shape.len());
        for item in &items {
            assert_eq!(
                item.image.len(),
                self.shape.len(),
                "image of the wrong size"
            );
            for (channel, lut) in item.image.chunks_exact(plane).zip(&self.lut) {
                pixels.extend(channel.iter().map(|&v| lut[v as usize]));
            }
        }
        let n = items.len();
        let ImageShape {
            channels,
            height,
            width,
        } = self.shape;
        let images = Tensor::from_data(
            TensorData::new(pixels, [n, channels, height, width]),
            device,
        );
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        let targets = Tensor::from_data(TensorData::new(labels, [n]), device);
        ImageBatch { images, targets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_per_channel() {
        mcnn_backends::for_each_backend(|kind, device| {
            let batcher = ImageBatcher::new(ImageShape::new(2, 1, 2), &[0.0, 1.0], &[1.0, 0.5]);
            let items = vec![
                ImageItem {
                    image: vec![0, 255, 51, 255],
                    label: 4,
                },
                ImageItem {
                    image: vec![255, 0, 0, 102],
                    label: 9,
                },
            ];
            let batch = batcher.batch(items, &device);
            assert_eq!(batch.images.dims(), [2, 2, 1, 2]);
            let expected = TensorData::new(
                vec![0.0f32, 1.0, -1.6, 0.0, 1.0, 0.0, -2.0, -1.2],
                [2, 2, 1, 2],
            );
            batch
                .images
                .into_data()
                .assert_approx_eq::<f32>(&expected, Default::default());
            let targets: Vec<i64> = batch
                .targets
                .into_data()
                .convert::<i64>()
                .try_to_vec()
                .unwrap();
            assert_eq!(targets, vec![4, 9], "on {kind}");
        });
    }

    #[test]
    #[should_panic(expected = "std must be positive")]
    fn zero_std_is_rejected() {
        ImageBatcher::new(ImageShape::new(1, 1, 1), &[0.0], &[0.0]);
    }
}
