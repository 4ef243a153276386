//! Networks as data: one description (a PyTorch-shaped module tree) from which the GPU model, the
//! layer table, parameter counts, FLOPs and weight names all derive.

pub mod design;
pub mod fit;
pub mod layer;
pub mod summary;
pub mod zoo;

pub use design::Design;
pub use layer::{CLASSES, Inception, Layer, MAX_RATIO, MAX_SIDE, ParamSpec, Shape};
pub use summary::{Row, Summary};
pub use zoo::{Arch, Net, NetConfig, minimum_side};
