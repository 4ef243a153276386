//! Fashion-MNIST: 60,000 training and 10,000 test images of 28×28 grey pixels in ten classes, read
//! from the four original IDX `.gz` files.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::data::idx::{Images, parse_images, parse_labels};
use crate::engine::error::{EngineError, Result};
use crate::engine::device::Device;
use crate::engine::tensor::Tensor;

pub const CLASS_NAMES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// The four files, in the order [`FashionMnist::from_files`] takes them.
pub const FILE_NAMES: [&str; 4] =
    ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

/// Where the app serves the files from and the CLI looks for them (scripts/setup.sh puts them there).
pub const DEFAULT_DIR: &str = "public/data/fashion-mnist";

/// Images with one label each.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub images: Images,
    pub labels: Vec<u8>,
}

impl Split {
    fn new(images: Images, labels: Vec<u8>, [image_file, label_file]: [&str; 2]) -> Result<Split> {
        if images.count == 0 {
            return Err(EngineError::Dataset { file: image_file.to_string(), detail: "holds no images".into() });
        }
        if images.count != labels.len() {
            return Err(EngineError::Dataset {
                file: label_file.to_string(),
                detail: format!("has {} labels for {} images", labels.len(), images.count),
            });
        }
        Ok(Split { images, labels })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` examples (all if fewer).
    pub fn truncated(&self, n: usize) -> Split {
        let n = n.min(self.len());
        // A parsed split's pixels hold count × rows × cols bytes, so these products fit.
        let per_image = self.images.rows * self.images.cols;
        Split {
            images: Images { count: n, pixels: self.images.pixels.iter().take(n * per_image).copied().collect(), ..self.images },
            labels: self.labels.iter().take(n).copied().collect(),
        }
    }

    /// Bytes [`Split::upload`] puts on the engine: the pixels packed four to a word, a word per label.
    pub fn uploaded_bytes(&self) -> u64 {
        4 * (self.images.pixels.len().div_ceil(4) as u64 + self.labels.len() as u64)
    }

    /// Copies the split to the GPU once: pixels packed four to a u32, labels one per u32.
    pub fn upload(&self, device: &Device) -> Result<DeviceSplit> {
        // Little-endian: byte i of the split is byte i % 4 of word i / 4.
        let packed: Vec<u32> = self
            .images
            .pixels
            .chunks(4)
            .map(|c| c.iter().rev().fold(0u32, |w, &b| (w << 8) | u32::from(b)))
            .collect();
        let labels: Vec<u32> = self.labels.iter().map(|&l| l as u32).collect();
        Ok(DeviceSplit {
            pixels: Tensor::from_u32(device, &[packed.len()], &packed, "dataset pixels")?,
            labels: Tensor::from_u32(device, &[labels.len()], &labels, "dataset labels")?,
            count: self.len(),
            side: (self.images.rows, self.images.cols),
        })
    }
}

/// A split resident on the GPU, gathered into batches by the input kernel.
#[derive(Clone, Debug)]
pub struct DeviceSplit {
    pub pixels: Tensor,
    pub labels: Tensor,
    pub count: usize,
    /// Source image rows × cols.
    pub side: (usize, usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FashionMnist {
    pub train: Split,
    pub test: Split,
}

impl FashionMnist {
    /// Parses the four `.gz` files' bytes, in [`FILE_NAMES`] order.
    pub fn from_files(files: [&[u8]; 4]) -> Result<FashionMnist> {
        let [train_images, train_labels, test_images, test_labels] = files;
        let split = |images: &[u8], labels: &[u8], names: [&str; 2]| -> Result<Split> {
            let images = parse_images(names[0], images)?;
            let labels = parse_labels(names[1], labels, CLASS_NAMES.len())?;
            Split::new(images, labels, names)
        };
        let data = FashionMnist {
            train: split(train_images, train_labels, [FILE_NAMES[0], FILE_NAMES[1]])?,
            test: split(test_images, test_labels, [FILE_NAMES[2], FILE_NAMES[3]])?,
        };
        let (train, test) = (&data.train.images, &data.test.images);
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(EngineError::Dataset {
                file: FILE_NAMES[2].to_string(),
                detail: format!("has {}×{} images, the training set {}×{}", test.rows, test.cols, train.rows, train.cols),
            });
        }
        Ok(data)
    }

    /// Reads the four files from a directory.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(dir: &std::path::Path) -> Result<FashionMnist> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| EngineError::Dataset {
                file: path.display().to_string(),
                detail: format!("cannot be read ({e}); run scripts/setup.sh to put Fashion-MNIST in {DEFAULT_DIR}"),
            })
        };
        let files = [read(FILE_NAMES[0])?, read(FILE_NAMES[1])?, read(FILE_NAMES[2])?, read(FILE_NAMES[3])?];
        FashionMnist::from_files([&files[0], &files[1], &files[2], &files[3]])
    }
}
