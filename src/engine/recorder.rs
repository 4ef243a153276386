//! A step's work, recorded in order as [`Op`]s and run when submitted: on both engines nothing runs
//! before the submission. The recorder knows no kernel: each op goes to its engine, the WGSL
//! engine's dispatches (`engine::wgsl::queue`, one command buffer for a whole step) or the CPU
//! engine's tasks (`engine::cpu::queue`). It keeps which part of the step (a layer's forward or
//! backward pass) each op belongs to, so a step can be timed part by part on either engine.

use crate::engine::cpu;
use crate::engine::device::Device;
use crate::engine::error::Result;
use crate::engine::op::Op;
use crate::engine::timing::{Clock, Part, StepTiming};
use crate::engine::wgsl::{self, GemmCore};

/// The engine a recording is for, and its queue.
enum Work<'g> {
    Wgsl(&'g wgsl::Gpu, wgsl::queue::Queue),
    Cpu(&'g cpu::Cpu, cpu::queue::Queue),
}

/// Ops waiting to be submitted together, on one device.
pub struct Recorder<'g> {
    device: &'g Device,
    parts: Vec<Part>,
    work: Work<'g>,
}

impl<'g> Recorder<'g> {
    pub fn new(device: &'g Device) -> Self {
        let work = match device {
            Device::Wgsl(gpu) => Work::Wgsl(gpu, wgsl::queue::Queue::new(gpu)),
            Device::Cpu(engine) => Work::Cpu(engine, cpu::queue::Queue::default()),
        };
        Recorder { device, parts: vec![Part::Other("other".into())], work }
    }

    pub fn device(&self) -> &'g Device {
        self.device
    }

    /// The ops recorded from now on belong to `part`.
    pub fn enter(&mut self, part: Part) {
        if self.parts.last() != Some(&part) {
            self.parts.push(part);
        }
    }

    /// Queues `op` on the device's engine: WGSL dispatches or a CPU task. Refused, with the
    /// reason, where the engine cannot take it (a tensor of the other engine, a grid or a loop
    /// past the adapter's limits).
    pub fn record(&mut self, op: Op) -> Result<()> {
        let part = self.parts.len() - 1;
        match &mut self.work {
            Work::Wgsl(gpu, queue) => {
                queue.part = part;
                wgsl::kernels::record(queue, gpu, op)
            }
            Work::Cpu(engine, queue) => {
                queue.push(part, cpu::tasks::task(engine, op)?);
                Ok(())
            }
        }
    }

    /// Builds the GEMMs recorded from now on on `core` (the WGSL engine's kernel tests and
    /// benchmark compare cores; the CPU engine has one way of multiplying and ignores it).
    pub fn set_gemm_core(&mut self, core: GemmCore) {
        if let Work::Wgsl(_, queue) = &mut self.work {
            queue.gemm = core;
        }
    }

    /// Splits a GEMM's k until it keeps `workgroups` busy (the WGSL engine's split-k policy, set
    /// by tests that need splits on a CPU adapter; the CPU engine ignores it).
    pub fn set_target_workgroups(&mut self, workgroups: usize) {
        if let Work::Wgsl(_, queue) = &mut self.work {
            queue.target_workgroups = workgroups;
        }
    }

    /// Runs everything recorded: one submission on the WGSL engine, the tasks in order on the CPU
    /// engine.
    pub fn submit(self) {
        self.submit_in(1);
    }

    /// Runs everything recorded; the WGSL engine in `pieces` submissions of consecutive
    /// dispatches (at most one per dispatch), the same work with the same results, each piece
    /// shorter: under the limit GPU watchdogs put on one submission (Windows' TDR ~2 s, Chrome's
    /// ~10 s, Metal's).
    pub fn submit_in(self, pieces: usize) {
        match self.work {
            Work::Wgsl(gpu, queue) => queue.submit_in(gpu, pieces),
            Work::Cpu(engine, queue) => queue.submit(engine),
        }
    }

    /// Runs the recording and times it part by part ([`Recorder::enter`]): on the WGSL engine
    /// with the GPU's timestamps where the device writes them, else each part submitted and
    /// waited for on its own and timed by `clock` (seconds); on the CPU engine each part's tasks
    /// timed as they run. The same work as [`Recorder::submit`] with the same results, natively
    /// and in the browser.
    pub async fn time_parts(self, clock: impl Fn() -> f64) -> Result<StepTiming> {
        match self.work {
            Work::Wgsl(gpu, queue) => queue.time_parts(gpu, &self.parts, clock).await,
            Work::Cpu(engine, queue) => Ok(StepTiming { parts: queue.time_parts(engine, &self.parts, clock)?, clock: Clock::CpuTasks }),
        }
    }

    /// Runs each dispatch (or task) on its own and waits for it: (kernel, workgroups, seconds)
    /// each, for finding where a step's time goes. Native only (the browser cannot wait).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(self) -> Vec<(String, u64, f64)> {
        match self.work {
            Work::Wgsl(gpu, queue) => queue.profile(gpu),
            Work::Cpu(engine, queue) => queue.profile(engine),
        }
    }
}
