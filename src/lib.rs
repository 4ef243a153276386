//! cnnscope's engine: the classic CNNs' layers as WGSL compute shaders on WebGPU (wgpu), natively
//! and in the browser, and the same ops on the CPU engine where the GPU is a CPU or absent.
//!
//! - [`engine`]: the two engines below the ops — which one runs ([`engine::device`]), tensors,
//!   the recorder, errors; the WGSL engine ([`engine::wgsl`]: the adapter, pipelines, the GEMM
//!   cores) and the CPU engine ([`engine::cpu`]: its kernels on a GEMM crate, every core);
//! - [`ops`]: the op vocabulary, forward and backward, grouped by layer type: each op checks its
//!   shapes once, then records WGSL dispatches or a CPU task;
//! - [`net`]: the four networks and own designs as data (module tree, shapes, parameters, FLOPs)
//!   and whether a run fits the engine ([`net::fit`]), checked before anything is allocated;
//! - [`model`]: a network's parameters and compiled forward/backward passes, weights files;
//! - [`train`]: optimisers, the training step and evaluation;
//! - [`data`]: Fashion-MNIST's IDX files, checked and uploaded once;
//! - [`reference`]: plain f64 versions of every kernel, the tests' first oracle.

// The one unsafe block (the CPU engine's call into the gemm crate, engine/cpu/matmul.rs) allows
// itself; everything else is safe Rust, and stays so.
#![deny(unsafe_code)]

pub mod check;
pub mod data;
pub mod engine;
pub mod model;
pub mod net;
pub mod ops;
pub mod reference;
pub mod train;

pub use engine::device::{Choice, Device};
pub use engine::error::{EngineError, Result};
pub use engine::recorder::Recorder;
pub use engine::timing::{Clock, LayerTime, Part, PartTime, StepTiming};
pub use engine::tensor::{DType, Tensor, View};
pub use engine::wgsl::Gpu;
pub use engine::wgsl::gemm_core::GemmCore;
/// The wgpu the engine is built on, for callers that show adapter details.
pub use wgpu;
