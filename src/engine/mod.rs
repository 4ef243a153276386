//! The two engines below the ops. Ops say *what* to compute; an engine says *how*:
//!
//! - [`device`]: which engine runs — the WGSL engine on a WebGPU adapter or the CPU engine — and
//!   the one policy that picks;
//! - [`tensor`]: arrays in either engine's memory (a GPU buffer or host memory) and channel views;
//! - [`recorder`]: a step's work recorded in order (WGSL dispatches into one command buffer, or
//!   CPU tasks) and run when submitted;
//! - [`error`]: the engine's one error type;
//! - [`wgsl`]: the WGSL engine — the adapter's context, compiled pipelines, the shaders' sources
//!   and the GEMM cores' policy;
//! - [`cpu`]: the CPU engine — its kernels on a GEMM crate's SIMD, spread over every core.

pub mod cpu;
pub mod device;
pub mod error;
pub mod recorder;
pub mod tensor;
pub mod wgsl;
