//! Records many kernel dispatches and submits them as one command buffer, so a whole training step
//! costs one submission and one parameter-buffer upload. On the CPU engine it records tasks, run in
//! order when it is submitted: on both engines nothing runs before the submission.

use std::sync::Arc;

use crate::engine::device::Device;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::gemm::GemmCore;
use crate::engine::wgsl::{Gpu, Pipeline};

/// Timestamps one step may write: WebGPU's limit on a query set's size (4096) leaves room for
/// 2048 parts, far more than a step of the four nets has (GoogLeNet: ~200).
const MAX_QUERIES: u32 = 4096;

/// The part of a step a dispatch belongs to, for seeing where the step's time goes
/// ([`Recorder::time_parts`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part {
    /// A layer's forward or backward pass, by its module name (`conv.3`).
    Forward(String),
    Backward(String),
    /// Everything else: the batch gather, the loss, the optimiser.
    Other(String),
}

/// How a step's parts were timed, which says how far their times can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Clock {
    /// The GPU's own timestamps around each part, all in one submission: what the GPU spent.
    GpuTimestamps,
    /// Each part submitted and waited for on its own, timed by the host: each reads high by a
    /// submission's round trip (Firefox: ~100 ms; Chromium: under 15).
    RoundTrips,
    /// The CPU engine's tasks, timed as they run.
    CpuTasks,
}

/// A step's parts in order with their times, and how they were timed.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTiming {
    pub parts: Vec<PartTime>,
    pub clock: Clock,
}

/// How long one part of a step took, and in how many dispatches.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartTime {
    pub part: Part,
    pub secs: f64,
    pub dispatches: usize,
}

/// A step's time by layer: its forward and backward passes (the batch, the loss and the optimiser
/// as rows of their own, under `other`), in the order the step first reaches each.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerTime {
    pub name: String,
    pub forward: f64,
    pub backward: f64,
    pub other: f64,
}

impl LayerTime {
    pub fn total(&self) -> f64 {
        self.forward + self.backward + self.other
    }

    /// `parts` summed by layer.
    pub fn by_layer(parts: &[PartTime]) -> Vec<LayerTime> {
        let mut rows: Vec<LayerTime> = Vec::new();
        for p in parts {
            let name = match &p.part {
                Part::Forward(n) | Part::Backward(n) | Part::Other(n) => n,
            };
            let at = match rows.iter().position(|r| r.name == *name) {
                Some(at) => at,
                None => {
                    rows.push(LayerTime { name: name.clone(), ..LayerTime::default() });
                    rows.len() - 1
                }
            };
            let row = &mut rows[at];
            match p.part {
                Part::Forward(_) => row.forward += p.secs,
                Part::Backward(_) => row.backward += p.secs,
                Part::Other(_) => row.other += p.secs,
            }
        }
        rows
    }
}

struct Dispatch {
    /// Index into the recorder's parts.
    part: usize,
    pipeline: Arc<Pipeline>,
    buffers: Vec<wgpu::Buffer>,
    params_offset: u64,
    params_len: u64,
    groups: (u32, u32),
}

/// A CPU engine kernel waiting for the submission, with the inputs and outputs it captured.
struct Task {
    part: usize,
    /// The kernel's name in profiles (native only).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    name: &'static str,
    run: Box<dyn FnOnce() -> Result<()>>,
}

/// Dispatches (or CPU tasks) waiting to be submitted together.
pub struct Recorder<'g> {
    device: &'g Device,
    pub gemm: GemmCore,
    /// Workgroups a GEMM should keep busy before splitting its k dimension is worth the extra
    /// reduction pass: enough to fill a GPU's compute units (128). A CPU adapter (lavapipe,
    /// SwiftShader) runs a couple at a time, and there extra splits only cost: measured on
    /// lavapipe, 8×9 outputs over 1.6M k take 0.11 s in two splits and 1.3 s in 128.
    pub target_workgroups: usize,
    dispatches: Vec<Dispatch>,
    tasks: Vec<Task>,
    params: Vec<u8>,
    parts: Vec<Part>,
}

/// WebGPU forbids a dispatch to bind one buffer twice where either binding is writable (Dawn
/// refuses the bind group; wgpu natively lets it through, and the two bindings would race). Every
/// dispatch is checked here, on every backend, so a kernel that would alias fails its tests
/// natively too, with its name, instead of only in the browser.
fn check_no_writable_alias(pipeline: &Pipeline, buffers: &[&wgpu::Buffer]) -> Result<()> {
    let writable = |k: usize| pipeline.storage.get(k) == Some(&crate::engine::wgsl::Access::ReadWrite);
    for (i, a) in buffers.iter().enumerate() {
        for (j, b) in buffers.iter().enumerate().skip(i + 1) {
            if a == b && (writable(i) || writable(j)) {
                return Err(EngineError::shape(
                    pipeline.key.clone(),
                    format!("binds one buffer at bindings {} and {}, one of them writable: WebGPU forbids it", i + 1, j + 1),
                ));
            }
        }
    }
    Ok(())
}

impl<'g> Recorder<'g> {
    pub fn new(device: &'g Device) -> Self {
        let (gemm, target_workgroups) = match device {
            Device::Wgsl(gpu) => (gpu.fastest_gemm(), if gpu.info.device_type == wgpu::DeviceType::Cpu { 2 } else { 128 }),
            Device::Cpu(_) => (GemmCore::default(), 1),
        };
        let parts = vec![Part::Other("other".into())];
        Recorder { device, gemm, target_workgroups, dispatches: Vec::new(), tasks: Vec::new(), params: Vec::new(), parts }
    }

    pub fn device(&self) -> &'g Device {
        self.device
    }

    /// The GPU the WGSL kernels are recorded for; on the CPU engine, an error (a WGSL kernel was
    /// asked of it: an engine bug, reported rather than a panic).
    pub(crate) fn gpu(&self) -> Result<&'g Gpu> {
        self.device.gpu_ref().ok_or_else(|| EngineError::shape("recorder", "a WGSL kernel was recorded for the CPU engine"))
    }

    /// The CPU engine's thread count, when recording for it: ops take their CPU branch.
    pub(crate) fn cpu_threads(&self) -> Option<usize> {
        match self.device {
            Device::Cpu(cpu) => Some(cpu.threads()),
            Device::Wgsl(_) => None,
        }
    }

    /// Queues a CPU engine kernel, `name` in profiles; it runs at the submission.
    pub(crate) fn task(&mut self, name: &'static str, run: impl FnOnce() -> Result<()> + 'static) -> Result<()> {
        self.tasks.push(Task { part: self.parts.len() - 1, name, run: Box::new(run) });
        Ok(())
    }

    /// Runs `tasks` in order; the first error stops them and waits for the next readback, as a
    /// GPU's errors do.
    fn run_tasks(device: &Device, tasks: impl IntoIterator<Item = Task>) {
        for task in tasks {
            if let Err(e) = (task.run)() {
                if let Device::Cpu(cpu) = device {
                    cpu.report(e);
                }
                return;
            }
        }
    }

    /// The dispatches recorded from now on belong to `part`.
    pub fn enter(&mut self, part: Part) {
        if self.parts.last() != Some(&part) {
            self.parts.push(part);
        }
    }

    /// Queues `pipeline` over `workgroups` workgroups (a linear count; kernels recover their index
    /// from a 2-D grid so counts beyond 65,535 work) with its `params` and storage `buffers`.
    pub(crate) fn dispatch(
        &mut self,
        pipeline: Arc<Pipeline>,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        workgroups: u64,
    ) -> Result<()> {
        let gpu = self.gpu()?;
        check_no_writable_alias(&pipeline, buffers)?;
        let max = gpu.limits.max_compute_workgroups_per_dimension as u64;
        let x = workgroups.clamp(1, max);
        let y = workgroups.div_ceil(x);
        if y > max {
            return Err(EngineError::shape(
                "dispatch",
                format!("{workgroups} workgroups exceed this GPU's grid of {max}×{max}"),
            ));
        }
        let align = gpu.limits.min_storage_buffer_offset_alignment as usize;
        let params_offset = self.params.len().next_multiple_of(align);
        self.params.resize(params_offset, 0);
        self.params.extend_from_slice(bytemuck::cast_slice(params));
        // Parameter structs are padded to 16 bytes.
        let params_len = (params.len() * 4).next_multiple_of(16);
        self.params.resize(params_offset + params_len, 0);
        self.dispatches.push(Dispatch {
            part: self.parts.len() - 1,
            pipeline,
            buffers: buffers.iter().map(|b| (*b).clone()).collect(),
            params_offset: params_offset as u64,
            params_len: params_len as u64,
            groups: (x as u32, y as u32),
        });
        Ok(())
    }

    /// Encodes everything recorded into one compute pass and submits it.
    pub fn submit(self) {
        self.submit_in(1);
    }

    /// Encodes everything recorded and submits it as `pieces` submissions of consecutive dispatches
    /// (at most one per dispatch). The queue runs them in order, so the result is the same as one
    /// submission's; each piece is just shorter, which keeps it under the limit GPU watchdogs put
    /// on one submission (Windows' TDR ~2 s, Chrome's ~10 s, Metal's).
    pub fn submit_in(self, pieces: usize) {
        let gpu = match self.device {
            Device::Cpu(_) => return Self::run_tasks(self.device, self.tasks),
            Device::Wgsl(gpu) => gpu,
        };
        if self.dispatches.is_empty() {
            return;
        }
        // The parameter buffer lives until the GPU is done with it (wgpu keeps it alive).
        let (_params, bind_groups) = self.bind_groups(gpu);
        let per_piece = self.dispatches.len().div_ceil(pieces.clamp(1, self.dispatches.len()));
        for (dispatches, groups) in self.dispatches.chunks(per_piece).zip(bind_groups.chunks(per_piece)) {
            gpu.queue.submit([self.encode(gpu, dispatches, groups)]);
        }
    }

    /// `dispatches` (with their bind groups) in one compute pass.
    fn encode(&self, gpu: &Gpu, dispatches: &[Dispatch], groups: &[wgpu::BindGroup]) -> wgpu::CommandBuffer {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for (d, group) in dispatches.iter().zip(groups) {
                pass.set_pipeline(&gpu.compiled(&d.pipeline).pipeline);
                pass.set_bind_group(0, group, &[]);
                pass.dispatch_workgroups(d.groups.0, d.groups.1, 1);
            }
        }
        encoder.finish()
    }

    /// Runs the recording and times it part by part ([`Recorder::enter`]): with the GPU's
    /// timestamps where the device writes them (one submission, a compute pass per part), else
    /// part by part, each submitted and waited for on its own and timed by `clock` (seconds). The
    /// same work as [`Recorder::submit`] with the same results (the queue runs in order either
    /// way), natively and in the browser.
    pub async fn time_parts(self, clock: impl Fn() -> f64) -> Result<StepTiming> {
        let gpu = match self.device {
            Device::Cpu(_) => return Ok(StepTiming { parts: self.time_tasks(clock)?, clock: Clock::CpuTasks }),
            Device::Wgsl(gpu) => gpu,
        };
        let (_params, bind_groups) = self.bind_groups(gpu);
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < self.dispatches.len() {
            let part = self.dispatches[start].part;
            let end = self.dispatches[start..].iter().position(|d| d.part != part).map_or(self.dispatches.len(), |n| start + n);
            ranges.push((start, end));
            start = end;
        }
        // Whatever was submitted before is not this step's.
        gpu.idle().await;
        let queries = u32::try_from(2 * ranges.len()).ok().filter(|&n| n <= MAX_QUERIES);
        let parts = match queries {
            Some(queries) if gpu.timestamps => {
                let timed = self.time_by_timestamps(gpu, &ranges, &bind_groups, queries).await?;
                return Ok(StepTiming { parts: timed, clock: Clock::GpuTimestamps });
            }
            _ => {
                let mut times = Vec::new();
                for &(start, end) in &ranges {
                    let began = clock();
                    gpu.queue.submit([self.encode(gpu, &self.dispatches[start..end], &bind_groups[start..end])]);
                    gpu.idle().await;
                    times.push(PartTime { part: self.parts[self.dispatches[start].part].clone(), secs: clock() - began, dispatches: end - start });
                }
                times
            }
        };
        gpu.take_error()?;
        Ok(StepTiming { parts, clock: Clock::RoundTrips })
    }

    /// [`Recorder::time_parts`] with timestamps: one command buffer, a compute pass per part whose
    /// beginning and end the GPU stamps, the stamps resolved and read back.
    async fn time_by_timestamps(&self, gpu: &Gpu, ranges: &[(usize, usize)], bind_groups: &[wgpu::BindGroup], queries: u32) -> Result<Vec<PartTime>> {
        let set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("step timing"), ty: wgpu::QueryType::Timestamp, count: queries });
        let bytes = u64::from(queries) * 8;
        let buffer = |label, usage| gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: bytes, usage, mapped_at_creation: false });
        let resolved = buffer("timestamps", wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let readback = buffer("timestamps readback", wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for (i, &(start, end)) in ranges.iter().enumerate() {
            let at = 2 * i as u32;
            let writes = wgpu::ComputePassTimestampWrites { query_set: &set, beginning_of_pass_write_index: Some(at), end_of_pass_write_index: Some(at + 1) };
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: Some(writes) });
            for (d, group) in self.dispatches[start..end].iter().zip(&bind_groups[start..end]) {
                pass.set_pipeline(&gpu.compiled(&d.pipeline).pipeline);
                pass.set_bind_group(0, group, &[]);
                pass.dispatch_workgroups(d.groups.0, d.groups.1, 1);
            }
        }
        encoder.resolve_query_set(&set, 0..queries, &resolved, 0);
        encoder.copy_buffer_to_buffer(&resolved, 0, &readback, 0, bytes);
        gpu.queue.submit([encoder.finish()]);
        let stamps: Vec<u64> = bytemuck::pod_collect_to_vec(&gpu.read_mapped(&readback).await?);
        // Nanoseconds per tick (1 in the browser, whose stamps are nanoseconds).
        let period = f64::from(gpu.queue.get_timestamp_period()) * 1e-9;
        Ok(ranges
            .iter()
            .zip(stamps.chunks_exact(2))
            .map(|(&(start, end), pair)| PartTime {
                part: self.parts[self.dispatches[start].part].clone(),
                secs: pair[1].saturating_sub(pair[0]) as f64 * period,
                dispatches: end - start,
            })
            .collect())
    }

    /// [`Recorder::time_parts`] on the CPU engine: its tasks run part by part, each part timed.
    fn time_tasks(self, clock: impl Fn() -> f64) -> Result<Vec<PartTime>> {
        let mut times: Vec<PartTime> = Vec::new();
        for task in self.tasks {
            let (part, began) = (task.part, clock());
            Self::run_tasks(self.device, [task]);
            let secs = clock() - began;
            match times.last_mut() {
                Some(last) if last.part == self.parts[part] => {
                    last.secs += secs;
                    last.dispatches += 1;
                }
                _ => times.push(PartTime { part: self.parts[part].clone(), secs, dispatches: 1 }),
            }
        }
        self.device.take_error()?;
        Ok(times)
    }

    /// Runs each dispatch on its own and waits for it: (kernel, workgroups, seconds) per dispatch,
    /// for finding where a step's time goes. Native only (the browser cannot wait).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(self) -> Vec<(String, u64, f64)> {
        let gpu = match self.device {
            Device::Cpu(_) => {
                let device = self.device;
                return self
                    .tasks
                    .into_iter()
                    .map(|task| {
                        let (name, start) = (task.name, std::time::Instant::now());
                        Self::run_tasks(device, [task]);
                        (name.to_string(), 1, start.elapsed().as_secs_f64())
                    })
                    .collect();
            }
            Device::Wgsl(gpu) => gpu,
        };
        let (_params, bind_groups) = self.bind_groups(gpu);
        let wait = || {
            let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        };
        wait();
        self.dispatches
            .iter()
            .zip(&bind_groups)
            .map(|(d, group)| {
                let start = std::time::Instant::now();
                gpu.queue.submit([self.encode(gpu, std::slice::from_ref(d), std::slice::from_ref(group))]);
                wait();
                (d.pipeline.key.clone(), d.groups.0 as u64 * d.groups.1 as u64, start.elapsed().as_secs_f64())
            })
            .collect()
    }

    /// The parameter buffer (every dispatch's parameters at aligned offsets) and one bind group per dispatch.
    fn bind_groups(&self, gpu: &Gpu) -> (wgpu::Buffer, Vec<wgpu::BindGroup>) {
        let device = &gpu.device;
        // Written through the queue, not mapped at creation: on a lost device mapping fails
        // (natively wgpu panics), while a queued write is only reported as the device's error.
        let all_params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel parameters"),
            size: self.params.len() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        gpu.queue.write_buffer(&all_params, 0, &self.params);
        let bind_groups: Vec<wgpu::BindGroup> = self
            .dispatches
            .iter()
            .map(|d| {
                let params = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &all_params,
                    offset: d.params_offset,
                    size: wgpu::BufferSize::new(d.params_len),
                });
                let entries: Vec<_> = std::iter::once(params)
                    .chain(d.buffers.iter().map(|b| b.as_entire_binding()))
                    .enumerate()
                    .map(|(i, resource)| wgpu::BindGroupEntry { binding: i as u32, resource })
                    .collect();
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &gpu.compiled(&d.pipeline).layout,
                    entries: &entries,
                })
            })
            .collect();
        (all_params, bind_groups)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::wgsl::{Access, shaders};

    /// One buffer bound twice in a dispatch, once writable, is refused natively as Dawn refuses it
    /// in the browser (wgpu's native backends would run it); bound twice for reading, it is not.
    #[test]
    fn a_buffer_bound_writable_twice_is_refused_natively() {
        let Ok(gpu) = pollster::block_on(Gpu::new()) else { return eprintln!("no GPU adapter: nothing to check") };
        let device = Device::Wgsl(gpu);
        let gpu = device.gpu_ref().unwrap();
        let buffer = crate::Tensor::zeros(&device, &[8], crate::DType::F32, "x").unwrap();
        let buffer = buffer.buffer().unwrap();
        let mut rec = Recorder::new(&device);
        let accumulate = gpu.pipeline("accumulate", &[Access::Read, Access::ReadWrite], || shaders::ACCUMULATE.to_string());
        let err = rec.dispatch(accumulate, &[2], &[buffer, buffer], 1).unwrap_err().to_string();
        assert!(err.contains("accumulate: binds one buffer at bindings 1 and 2, one of them writable: WebGPU forbids it"), "{err}");
        let read_twice = gpu.pipeline("read twice", &[Access::Read, Access::Read], String::new);
        rec.dispatch(read_twice, &[2], &[buffer, buffer], 1).unwrap();
    }
}
