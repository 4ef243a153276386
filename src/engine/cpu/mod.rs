//! The CPU engine: the same ops as the WGSL kernels, run on the processor. Where the "GPU" is a CPU
//! anyway (lavapipe, SwiftShader, llvmpipe, WARP) or there is no WebGPU, this is the fast way: the
//! heavy part is a kept GEMM crate's SIMD kernels (`gemm`: AVX-512/AVX2/NEON chosen at run time,
//! simd128 in the browser) on im2col'd convolutions, spread over every core natively (rayon); the
//! rest are plain loops. docs/ENGINE.md ("The CPU engine") gives the measurements.
//!
//! Tensors keep their values in host memory ([`Buffer`]); ops check shapes exactly as for the GPU
//! (`crate::ops`) and record an [`crate::engine::op::Op`], which becomes a task running these
//! kernels ([`tasks`]) when the recorder is submitted ([`queue`]), so a step means the same on both
//! engines: nothing runs until it is submitted, in recording order.

pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod input;
pub(crate) mod matmul;
pub(crate) mod pool;
pub(crate) mod queue;
pub(crate) mod tasks;

use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::engine::error::{EngineError, Result};

/// Memory the CPU engine lets one run take in the browser: wasm32's whole 4 GiB address space,
/// which the dataset and a checkpoint's copies share.
pub const MEMORY_BUDGET: u64 = 4 << 30;

/// Memory the CPU engine lets one run take: natively three quarters of what the host has
/// available (Linux's MemAvailable; 4 GiB where it cannot be read), in the browser
/// [`MEMORY_BUDGET`].
fn memory_budget() -> u64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib.saturating_mul(1024))
        });
        available.map_or(MEMORY_BUDGET, |bytes| bytes / 4 * 3)
    }
    #[cfg(target_arch = "wasm32")]
    MEMORY_BUDGET
}

/// The CPU engine as a device: how many threads its kernels use, the memory one run may take
/// (read once, when the engine opens), and errors met while running submitted work (reported at
/// the next readback, as the GPU's are).
pub struct Cpu {
    threads: usize,
    budget: u64,
    /// The largest tensor the user lets one kernel take ([`crate::Device::limit_bindings`]).
    max_tensor: Option<u64>,
    errors: Mutex<Vec<String>>,
}

impl Default for Cpu {
    fn default() -> Self {
        Cpu::new()
    }
}

impl Cpu {
    pub fn new() -> Cpu {
        Cpu { threads: threads(), budget: memory_budget(), max_tensor: None, errors: Mutex::new(Vec::new()) }
    }

    /// Bytes one run may take ([`memory_budget`] when the engine opened).
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The largest tensor one kernel may take: the whole budget, or less where the user set it.
    pub fn max_tensor(&self) -> u64 {
        self.max_tensor.map_or(self.budget, |limit| limit.min(self.budget))
    }

    /// Takes no tensor over `bytes` from now on ([`crate::Device::limit_bindings`]).
    pub fn limit_tensors(&mut self, bytes: u64) {
        self.max_tensor = Some(bytes);
    }

    /// Threads the kernels spread over: every core natively, one in the browser (threaded wasm
    /// needs nightly Rust).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// One line naming the engine and the processor's SIMD it uses, for logs and benchmark tables.
    pub fn describe(&self) -> String {
        format!("CPU engine ({} thread{}, {})", self.threads, if self.threads == 1 { "" } else { "s" }, simd())
    }

    pub(crate) fn report(&self, error: EngineError) {
        self.errors.lock().unwrap_or_else(|e| e.into_inner()).push(error.to_string());
    }

    /// Errors met since the last call, as one typed error.
    pub fn take_error(&self) -> Result<()> {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.is_empty() {
            return Ok(());
        }
        let message = errors.join("; ");
        errors.clear();
        Err(EngineError::Cpu(message))
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(target_arch = "wasm32")]
fn threads() -> usize {
    1
}

/// The widest SIMD the GEMM kernels find on this processor.
fn simd() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "AVX2+FMA";
        }
        "SSE2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(target_arch = "wasm32")]
    {
        "wasm simd128"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "wasm32")))]
    {
        "scalar"
    }
}

/// A tensor's values in host memory, 4-byte words (u32 tensors are stored bit for bit as f32s).
/// Cloning shares the memory, as cloning a GPU buffer does.
#[derive(Clone, Debug)]
pub struct Buffer(Arc<RwLock<Vec<f32>>>);

impl Buffer {
    /// `len` zeros, or an error (never an abort) when the host cannot give the memory.
    pub(crate) fn zeros(len: usize, label: &str) -> Result<Buffer> {
        let mut values = Vec::new();
        values.try_reserve_exact(len).map_err(|_| EngineError::HostOutOfMemory { what: label.into(), values: len })?;
        values.resize(len, 0.0);
        Ok(Buffer(Arc::new(RwLock::new(values))))
    }

    pub(crate) fn same(&self, other: &Buffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The values, read-only (several readers at once, the same tensor as two inputs included).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<f32>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The values, writable. A kernel that would write a tensor it also reads is refused when it
    /// is recorded (`ops::check_distinct`), so this never waits on the same task's own reader.
    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, Vec<f32>>> {
        self.0.try_write().map_err(|_| EngineError::Aliased { kernel: "cpu engine".into(), detail: "a kernel's output is also one of its inputs".into() })
    }
}

/// Runs `f(i, chunk)` on each `size`-long chunk of `data` (the last may be shorter): on every core
/// natively, in order in the browser. Chunks are independent, so the result does not depend on
/// how many threads run them.
pub(crate) fn for_chunks<T: Send>(data: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let size = size.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
    #[cfg(target_arch = "wasm32")]
    data.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
}

thread_local! {
    /// Each thread's working memory for kernels that need some per chunk (an im2col buffer),
    /// kept between calls: allocating it per chunk cost more than the convolution's GEMM on
    /// AlexNet's first layer (fresh pages fault on first touch).
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`for_chunks`] with `scratch` values of working memory for each call of `f` (its thread's,
/// reused; contents unspecified).
pub(crate) fn for_chunks_with<T: Send>(data: &mut [T], size: usize, scratch: usize, f: impl Fn(&mut [f32], usize, &mut [T]) + Sync + Send) {
    let run = |i: usize, chunk: &mut [T]| {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut mine) => {
                if mine.len() < scratch {
                    mine.resize(scratch, 0.0);
                }
                f(&mut mine[..scratch], i, chunk)
            }
            // Already in use on this thread: a nested parallel product ran another chunk here
            // while this one waited. That chunk gets memory of its own.
            Err(_) => f(&mut vec![0.0; scratch], i, chunk),
        })
    };
    for_chunks(data, size, run);
}

/// [`for_chunks`] over two slices of equal length at once (SGD's parameter and velocity).
pub(crate) fn for_chunks2(a: &mut [f32], b: &mut [f32], size: usize, f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync + Send) {
    let size = size.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        a.par_chunks_mut(size).zip(b.par_chunks_mut(size)).enumerate().for_each(|(i, (a, b))| f(i, a, b));
    }
    #[cfg(target_arch = "wasm32")]
    a.chunks_mut(size).zip(b.chunks_mut(size)).enumerate().for_each(|(i, (a, b))| f(i, a, b));
}

/// [`for_chunks`] over three slices of equal length at once (an optimiser's parameter and moments).
pub(crate) fn for_chunks3(a: &mut [f32], b: &mut [f32], c: &mut [f32], size: usize, f: impl Fn(usize, &mut [f32], &mut [f32], &mut [f32]) + Sync + Send) {
    let size = size.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        a.par_chunks_mut(size).zip(b.par_chunks_mut(size)).zip(c.par_chunks_mut(size)).enumerate().for_each(|(i, ((a, b), c))| f(i, a, b, c));
    }
    #[cfg(target_arch = "wasm32")]
    a.chunks_mut(size).zip(b.chunks_mut(size)).zip(c.chunks_mut(size)).enumerate().for_each(|(i, ((a, b), c))| f(i, a, b, c));
}

/// Elements per chunk for elementwise kernels spread over threads: large enough that a chunk's
/// work outweighs handing it to a thread.
pub(crate) const ELEMENTWISE_CHUNK: usize = 1 << 16;
