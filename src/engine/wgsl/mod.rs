//! The WGSL engine: the adapter and device ([`Gpu`]), compiled pipelines, the WGSL sources under
//! `shaders/` ([`shaders`]), each [`crate::engine::op::Op`] as dispatches of those kernels with
//! their bindings and parameters ([`kernels`]), how each GEMM runs on them ([`gemm`]: which core,
//! which tile, how many k splits) and a step's dispatches waiting for the submission ([`queue`]).

pub(crate) mod gemm;
pub mod gemm_core;
mod gpu;
pub(crate) mod kernels;
pub(crate) mod queue;
pub(crate) mod shaders;

pub use gemm_core::GemmCore;
pub use gpu::{Access, Gpu, Pipeline};
