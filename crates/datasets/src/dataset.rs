use std::path::Path;
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};

use crate::{DataError, Source, Split, cifar, fetch, idx};

/// Channels, height and width of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// Colour channels (1 for grey, 3 for RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// A shape of `channels × height × width`.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Bytes (pixels times channels) of one image.
    pub const fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the shape holds no pixel.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One image (bytes in channel, row, column order) and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageItem {
    /// `channels·height·width` pixel values in `0..=255`, channel-major.
    pub image: Vec<u8>,
    /// The class, `0..classes`.
    pub label: u8,
}

/// A labelled image data set held in memory: MNIST, Fashion-MNIST or CIFAR-10, or images
/// from elsewhere ([`ImageDataset::from_parts`]).
///
/// Implements Burn's [`Dataset`], so it plugs into `DataLoaderBuilder` with an
/// [`ImageBatcher`](crate::ImageBatcher). Clones share the pixel buffer.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    shape: ImageShape,
    images: Arc<[u8]>,
    labels: Arc<[u8]>,
    len: usize,
}

impl ImageDataset {
    /// Loads a split of a data set from `data_dir`, fetching and verifying the files first
    /// if they are not there (see [`fetch::ensure`]).
    /// Only the split's files are verified (once per process).
    pub fn load(source: Source, split: Split, data_dir: &Path) -> Result<Self, DataError> {
        let files = source.split_files(split);
        let dir = fetch::ensure_files(source, files, data_dir)?;
        Self::read(source, files, &dir)
            .map_err(|error| error.with_fix(fetch::refetch_advice(source)))
    }

    /// Reads and checks the verified `files` of a split from `dir`.
    fn read(source: Source, files: &[crate::DataFile], dir: &Path) -> Result<Self, DataError> {
        let (images, labels) = match source {
            Source::Mnist | Source::FashionMnist => {
                let images_path = dir.join(files[0].name);
                let labels_path = dir.join(files[1].name);
                let images = idx::read(&images_path, 3)?;
                let labels = idx::read(&labels_path, 1)?;
                if images.dims[1..] != [28, 28] || images.dims[0] != labels.dims[0] {
                    return Err(DataError::format(
                        &images_path,
                        format!(
                            "images {:?} do not match 28×28 images for the {} labels of {}",
                            images.dims,
                            labels.dims[0],
                            labels_path.display()
                        ),
                    ));
                }
                check_labels(&labels.data, &labels_path)?;
                (images.data, labels.data)
            }
            Source::Cifar10 => {
                let mut all = cifar::CifarBatch::default();
                for file in files {
                    let batch = cifar::read(&dir.join(file.name))?;
                    all.images.extend(batch.images);
                    all.labels.extend(batch.labels);
                }
                (all.images, all.labels)
            }
        };
        Ok(Self::from_parts(source.shape(), images, labels))
    }

    /// A data set from raw images (`len·shape.len()` bytes, channel-major per image) and one
    /// label per image.
    ///
    /// # Panics
    /// If the number of bytes is not `labels.len()` times the image size.
    pub fn from_parts(shape: ImageShape, images: Vec<u8>, labels: Vec<u8>) -> Self {
        assert_eq!(
            images.len(),
            labels.len() * shape.len(),
            "images: {} bytes is not {} labels × {} bytes per {shape:?} image",
            images.len(),
            labels.len(),
            shape.len()
        );
        Self {
            shape,
            len: labels.len(),
            images: images.into(),
            labels: labels.into(),
        }
    }

    /// The first `limit` images only (all of them if there are fewer).
    pub fn truncated(mut self, limit: usize) -> Self {
        self.len = self.len.min(limit);
        self
    }

    /// Shape of each image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The labels, in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels[..self.len]
    }

    /// How many images each class `0..classes` has.
    pub fn label_histogram(&self, classes: usize) -> Vec<usize> {
        let mut histogram = vec![0; classes];
        for &label in self.labels() {
            histogram[label as usize] += 1;
        }
        histogram
    }

    /// The pixels of image `index`.
    ///
    /// # Panics
    /// If `index >= len()`.
    pub fn image(&self, index: usize) -> &[u8] {
        assert!(
            index < self.len,
            "image {index} of a data set of {}",
            self.len
        );
        let size = self.shape.len();
        &self.images[index * size..(index + 1) * size]
    }
}

fn check_labels(labels: &[u8], path: &Path) -> Result<(), DataError> {
    match labels.iter().position(|&l| l >= 10) {
        Some(i) => Err(DataError::format(
            path,
            format!("label {i} is {}, expected 0..=9", labels[i]),
        )),
        None => Ok(()),
    }
}

impl Dataset<ImageItem> for ImageDataset {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        Ok(ImageItem {
            image: self.image(index).to_vec(),
            label: self.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ImageDataset {
        let shape = ImageShape::new(1, 2, 2);
        ImageDataset::from_parts(shape, (0..12).collect(), vec![3, 1, 3])
    }

    #[test]
    fn items_hold_their_own_pixels() {
        let data = tiny();
        assert_eq!(data.len(), 3);
        let item = data.get(1).unwrap();
        assert_eq!(item.image, vec![4, 5, 6, 7]);
        assert_eq!(item.label, 1);
    }

    #[test]
    fn truncation_and_histogram() {
        let data = tiny();
        assert_eq!(data.label_histogram(4), vec![0, 1, 0, 2]);
        let data = data.truncated(2);
        assert_eq!(data.len(), 2);
        assert_eq!(data.label_histogram(4), vec![0, 1, 0, 1]);
        assert_eq!(data.truncated(10).len(), 2);
    }

    #[test]
    #[should_panic(expected = "images: 11 bytes is not 3 labels × 4 bytes")]
    fn mismatched_parts_panic() {
        ImageDataset::from_parts(ImageShape::new(1, 2, 2), vec![0; 11], vec![0; 3]);
    }

    #[test]
    fn mnist_files_on_disk_are_parsed_and_checked() {
        // Files written here are not the real ones, so `load` (which verifies md5) is not
        // the path under test: the parsers and the label check are.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels");
        std::fs::write(&path, idx::encode(&[3], &[1, 10, 2])).unwrap();
        let labels = idx::read(&path, 1).unwrap();
        let err = check_labels(&labels.data, &path).unwrap_err().to_string();
        assert!(err.contains("label 1 is 10"), "{err}");
    }
}
