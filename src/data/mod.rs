//! The dataset: Fashion-MNIST's IDX files parsed and checked on the CPU, then uploaded to the GPU
//! once; batches are gathered and resized there.

pub mod fashion_mnist;
pub mod idx;
pub mod picture;

pub use fashion_mnist::{CLASS_NAMES, DEFAULT_DIR, FILE_NAMES, FashionMnist, DeviceSplit, Split};
pub use idx::Images;
