//! cnnscope's engine: the classic CNNs' layers as WGSL compute shaders on WebGPU (wgpu), natively
//! and in the browser, and the same ops on the CPU engine where the GPU is a CPU or absent.
//!
//! - [`device`]: which engine runs (a [`Gpu`] or the [`cpu`] engine), and the policy that picks;
//! - [`cpu`]: the CPU engine's kernels (a GEMM crate's SIMD, every core);
//! - [`data`]: Fashion-MNIST's IDX files, checked and uploaded once;
//! - [`fit`]: whether a run fits the adapter, checked before anything is allocated;
//! - [`gpu`]: the adapter, device, limits and compiled pipelines;
//! - [`tensor`]: GPU-resident arrays and channel views;
//! - [`recorder`]: many kernels recorded into one command buffer;
//! - [`ops`]: the kernels, forward and backward, grouped by layer type;
//! - [`model`]: a network's parameters and compiled forward/backward passes on the GPU, weights files;
//! - [`train`]: optimisers, the training step and evaluation;
//! - [`net`]: the four networks as data (module tree, shapes, parameters, FLOPs);
//! - [`reference`]: plain CPU versions of every kernel, the tests' first oracle.

pub mod cpu;
pub mod data;
pub mod device;
pub mod error;
pub mod fit;
pub mod gpu;
pub mod model;
pub mod net;
pub mod ops;
pub mod recorder;
pub mod reference;
mod shaders;
pub mod tensor;
pub mod train;

pub use device::{Choice, Device};
pub use error::{EngineError, Result};
pub use gpu::Gpu;
pub use recorder::{GemmCore, LayerTime, Part, PartTime, Recorder};
pub use tensor::{DType, Tensor, View};
/// The wgpu the engine is built on, for callers that show adapter details.
pub use wgpu;
