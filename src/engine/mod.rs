//! The two engines below the ops. Ops say *what* to compute; an engine says *how*:
//!
//! - [`device`]: which engine runs — the WGSL engine on a WebGPU adapter or the CPU engine — and
//!   the one policy that picks;
//! - [`tensor`]: arrays in either engine's memory (a GPU buffer or host memory) and channel views;
//! - [`op`]: the operations the engines run, the one vocabulary between the ops and the engines;
//! - [`recorder`]: a step's ops recorded in order, each handed to its engine (WGSL dispatches
//!   into one command buffer, or CPU tasks) and run when submitted;
//! - [`timing`]: a step's parts and their times, as either engine measures them;
//! - [`error`]: the engine's one error type;
//! - [`augment`]: the augmentation draws both engines' batch gathers make;
//! - [`wgsl`]: the WGSL engine — the adapter's context, compiled pipelines, the shaders' sources
//!   and the GEMM cores' policy;
//! - [`cpu`]: the CPU engine — its kernels on a GEMM crate's SIMD, spread over every core.

pub mod augment;
pub mod cpu;
pub mod device;
pub mod error;
pub mod op;
pub mod recorder;
pub mod tensor;
pub mod timing;
pub mod wgsl;
