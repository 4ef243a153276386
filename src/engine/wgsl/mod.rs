//! The WGSL engine: the adapter and device ([`Gpu`]), compiled pipelines, the WGSL sources under
//! `shaders/`, and how each GEMM runs on them ([`gemm`]: which core, which tile, how many k splits).

pub mod gemm;
mod gpu;
pub(crate) mod shaders;

pub use gpu::{Access, Gpu, Pipeline};
