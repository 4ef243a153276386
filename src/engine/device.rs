//! Where a network runs: a WebGPU adapter running the engine's WGSL kernels ([`Gpu`]), or the CPU
//! engine ([`Cpu`]). Ops say what to compute and check their shapes once; each engine says how
//! (`crate::ops`, one branch per engine). [`Device::open`] holds the one policy that picks.

use crate::engine::cpu::Cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Gpu;

/// Which engine a user asked for (`--device`, the page's engine switch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Choice {
    /// The WGSL engine on a real GPU; the CPU engine where the adapter is a CPU or there is none.
    #[default]
    Auto,
    Wgsl,
    Cpu,
}

impl Choice {
    /// As `--device` and `?device=` write it (what [`str::parse`] reads back).
    pub fn name(self) -> &'static str {
        match self {
            Choice::Auto => "auto",
            Choice::Wgsl => "gpu",
            Choice::Cpu => "cpu",
        }
    }
}

impl std::str::FromStr for Choice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Choice, String> {
        match s {
            "auto" => Ok(Choice::Auto),
            "gpu" => Ok(Choice::Wgsl),
            "cpu" => Ok(Choice::Cpu),
            other => Err(format!("unknown device \"{other}\": choose auto, gpu or cpu")),
        }
    }
}

/// Why [`Device::open`] picked the engine it did, in words a user reads on the adapter card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picked {
    pub reason: String,
}

/// What a device lets one run take: a GPU binds at most `max_binding` bytes per tensor within
/// [`crate::net::fit::MEMORY_BUDGET`] in all, and where the host's memory is bounded (`host`: the
/// browser's wasm32 worker, 4 GiB of address space) what the host holds of it (a checkpoint
/// being opened: its file and its tensors) fits that; the CPU engine binds nothing and has `budget` in all
/// ([`crate::engine::cpu::Cpu::budget`]), each tensor at most `max_tensor` (the budget, unless the
/// user set less). `Device::capacity` says which; the page gets it from its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Capacity {
    Gpu { max_binding: u64, host: Option<u64> },
    Cpu { budget: u64, max_tensor: u64 },
}

impl Capacity {
    /// A GPU's, with the host's bound where it has one.
    pub fn gpu(max_binding: u64) -> Capacity {
        // A native process's host memory is the machine's, far above what one GPU binds.
        let host = cfg!(target_arch = "wasm32").then_some(crate::engine::cpu::MEMORY_BUDGET);
        Capacity::Gpu { max_binding, host }
    }
}

/// How much faster the CPU engine trains the four nets than the WGSL kernels on a CPU adapter, as
/// measured (README's speed tables, ÷8, batch 64): natively against llvmpipe, and in Chromium
/// against SwiftShader. The adapter card quotes them.
pub const CPU_ENGINE_GAIN_NATIVE: &str = "6–8×";
pub const CPU_ENGINE_GAIN_BROWSER: &str = "21–25×";
/// The same in Firefox, whose WebGPU runs on the system's Vulkan driver (lavapipe here) and names
/// no adapter: AlexNet ÷16 at 67 px, batch 32, 413 images/s against 124–139 (tests/e2e/firefox.test.mjs).
pub const CPU_ENGINE_GAIN_FIREFOX: &str = "about 3×";

/// The engine that runs: the WGSL kernels on a WebGPU adapter, or the CPU engine.
pub enum Device {
    Wgsl(Gpu),
    Cpu(Cpu),
}

/// Whether an adapter is a CPU in a GPU's clothes: a software rasteriser (lavapipe, llvmpipe,
/// SwiftShader, WARP) or one that says so. On those the CPU engine is several times faster
/// (docs/ENGINE.md), so `auto` does not use them.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu || is_software_name(&info.name)
}

/// Whether an adapter's description names a software rasteriser (the browser's worker reads it
/// from `GPUAdapter.info`, which wgpu's WebGPU backend leaves out of its own).
pub fn is_software_name(name: &str) -> bool {
    let name = name.to_lowercase();
    ["swiftshader", "llvmpipe", "lavapipe", "warp", "software", "fallback"].iter().any(|s| name.contains(s))
}

impl Device {
    /// The CPU engine.
    pub fn cpu() -> Device {
        Device::Cpu(Cpu::new())
    }

    /// The WGSL engine on the best adapter (see [`Gpu::new`]).
    pub async fn gpu() -> Result<Device> {
        Ok(Device::Wgsl(Gpu::new().await?))
    }

    /// The engine `choice` asks for, and why: `auto` takes the WGSL engine on a real GPU and the CPU
    /// engine where the adapter is a CPU ([`is_software`]) or there is no adapter at all. Natively,
    /// `crate::check::open` goes on to trust a real GPU only once its self-check agrees.
    pub async fn open(choice: Choice) -> Result<(Device, Picked)> {
        let picked = |reason: String| Picked { reason };
        match choice {
            Choice::Cpu => Ok((Device::cpu(), picked("the CPU engine, as asked".into()))),
            Choice::Wgsl => {
                let gpu = Gpu::new().await?;
                let reason = format!("the WGSL engine on {}, as asked", gpu.name());
                Ok((Device::Wgsl(gpu), picked(reason)))
            }
            Choice::Auto => match Gpu::new().await {
                Ok(gpu) if is_software(&gpu.info) => {
                    // In the browser this is an adapter the browser does not name (Firefox's).
                    let gain = if cfg!(target_arch = "wasm32") { CPU_ENGINE_GAIN_FIREFOX } else { CPU_ENGINE_GAIN_NATIVE };
                    let reason = format!("this GPU adapter is a CPU ({}): training on the CPU engine, {gain} faster on such adapters", gpu.name());
                    Ok((Device::cpu(), picked(reason)))
                }
                Ok(gpu) => {
                    let reason = format!("the WGSL engine on {}", gpu.name());
                    Ok((Device::Wgsl(gpu), picked(reason)))
                }
                // What was wrong with the adapter matters only to `--device gpu`, which reports it.
                Err(EngineError::NoAdapter(_) | EngineError::DeviceRequest(_) | EngineError::LimitsTooSmall { .. }) => {
                    Ok((Device::cpu(), picked("no usable GPU adapter here: training on the CPU engine".into())))
                }
                Err(e) => Err(e),
            },
        }
    }

    /// The WGSL engine's GPU, or None on the CPU engine.
    pub fn gpu_ref(&self) -> Option<&Gpu> {
        match self {
            Device::Wgsl(gpu) => Some(gpu),
            Device::Cpu(_) => None,
        }
    }

    /// "the WGSL engine" or "the CPU engine", in sentences.
    pub fn name(&self) -> &'static str {
        match self {
            Device::Wgsl(_) => "the WGSL engine",
            Device::Cpu(_) => "the CPU engine",
        }
    }

    /// One line naming the adapter or the CPU engine, for logs and benchmark tables.
    pub fn describe(&self) -> String {
        match self {
            Device::Wgsl(gpu) => gpu.describe(),
            Device::Cpu(cpu) => cpu.describe(),
        }
    }

    /// The largest tensor one kernel may take, in bytes: the GPU's binding limit, or the CPU
    /// engine's whole budget (it binds nothing; [`Cpu::budget`]); either lowered where the user
    /// set a limit ([`Device::limit_bindings`]).
    pub fn max_binding_bytes(&self) -> u64 {
        match self {
            Device::Wgsl(gpu) => gpu.max_binding_bytes(),
            Device::Cpu(cpu) => cpu.max_tensor(),
        }
    }

    /// Lets no kernel bind more than `bytes` from now on, as on an adapter with that limit: a
    /// tensor over it is refused and a training step whose tensors are larger runs in
    /// micro-batches ([`crate::net::fit::MicroBatches`]). For a user who wants the step's memory
    /// smaller than the adapter allows (a shared GPU), and for tests of a small adapter's limit
    /// (WebGPU's default binding is 128 MiB) on a larger one.
    pub fn limit_bindings(&mut self, bytes: u64) {
        match self {
            Device::Wgsl(gpu) => gpu.limit_bindings(bytes),
            Device::Cpu(cpu) => cpu.limit_tensors(bytes),
        }
    }

    /// What this device lets one run take (checked by [`crate::net::fit`]).
    pub fn capacity(&self) -> Capacity {
        match self {
            Device::Wgsl(gpu) => Capacity::gpu(gpu.max_binding_bytes()),
            Device::Cpu(cpu) => Capacity::Cpu { budget: cpu.budget(), max_tensor: cpu.max_tensor() },
        }
    }

    /// Errors the device reported since the last call, as one typed error; a lost device first.
    pub fn take_error(&self) -> Result<()> {
        match self {
            Device::Wgsl(gpu) => gpu.take_error(),
            Device::Cpu(cpu) => cpu.take_error(),
        }
    }

    /// Resolves once everything submitted so far has run (at once on the CPU engine, whose
    /// submissions run when they are made).
    pub async fn idle(&self) {
        if let Device::Wgsl(gpu) = self {
            gpu.idle().await;
        }
    }

    /// Why the device was lost, if it was (the CPU engine never is).
    pub fn lost(&self) -> Option<String> {
        self.gpu_ref().and_then(Gpu::lost)
    }

    /// Resolves with the reason once the device is lost ([`Gpu::lost_notice`]); never on the CPU
    /// engine, which cannot be.
    pub async fn lost_notice(&self) -> String {
        match self {
            Device::Wgsl(gpu) => gpu.lost_notice().await,
            Device::Cpu(_) => std::future::pending().await,
        }
    }

    /// Runs `f` with the device's errors discarded ([`Gpu::discarding_errors`]).
    pub fn discarding_errors<T>(&self, f: impl FnOnce() -> T) -> T {
        match self {
            Device::Wgsl(gpu) => gpu.discarding_errors(f),
            Device::Cpu(_) => f(),
        }
    }

    /// Kernels asked for and not compiled yet (none on the CPU engine: nothing to compile).
    pub fn pending_pipelines(&self) -> usize {
        self.gpu_ref().map_or(0, Gpu::pending_pipelines)
    }
}
