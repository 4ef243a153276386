//! The WGSL engine's recorded work: dispatches (a pipeline, its parameters and buffers, a grid of
//! workgroups) waiting for the submission, then encoded into compute passes and submitted, so a
//! whole training step costs one submission and one parameter-buffer upload; and the GEMM policy
//! a step is recorded with ([`super::gemm`]).

use std::sync::Arc;

use crate::engine::error::{EngineError, Result};
use crate::engine::timing::{Clock, Part, PartTime, StepTiming};
use crate::engine::wgsl::gemm_core::GemmCore;
use crate::engine::wgsl::{Access, Gpu, Pipeline};

/// Timestamps one step may write: WebGPU's limit on a query set's size (4096) leaves room for
/// 2048 parts, far more than a step of the four nets has (GoogLeNet: ~200).
const MAX_QUERIES: u32 = 4096;

struct Dispatch {
    /// Index into the recorder's parts.
    part: usize,
    pipeline: Arc<Pipeline>,
    buffers: Vec<wgpu::Buffer>,
    params_offset: u64,
    params_len: u64,
    groups: (u32, u32),
}

/// WebGPU forbids a dispatch to bind one buffer twice where either binding is writable (Dawn
/// refuses the bind group; wgpu natively lets it through, and the two bindings would race). Every
/// dispatch is checked here, on every backend, so a kernel that would alias fails its tests
/// natively too, with its name, instead of only in the browser.
fn check_no_writable_alias(pipeline: &Pipeline, buffers: &[&wgpu::Buffer]) -> Result<()> {
    let writable = |k: usize| pipeline.storage.get(k) == Some(&Access::ReadWrite);
    for (i, a) in buffers.iter().enumerate() {
        for (j, b) in buffers.iter().enumerate().skip(i + 1) {
            if a == b && (writable(i) || writable(j)) {
                return Err(EngineError::Aliased {
                    kernel: pipeline.key.clone(),
                    detail: format!("binds one buffer at bindings {} and {}, one of them writable: WebGPU forbids it", i + 1, j + 1),
                });
            }
        }
    }
    Ok(())
}

/// Dispatches waiting to be submitted together, and how the GEMMs among them are planned.
pub(crate) struct Queue {
    /// The GEMM core the convolution and linear kernels are built on: the adapter's fastest, or
    /// the one a test or benchmark asks for ([`crate::Recorder::set_gemm_core`]).
    pub gemm: GemmCore,
    /// Workgroups a GEMM should keep busy before splitting its k dimension is worth the extra
    /// reduction pass: enough to fill a GPU's compute units (128). A CPU adapter (lavapipe,
    /// SwiftShader) runs a couple at a time, and there extra splits only cost: measured on
    /// lavapipe, 8×9 outputs over 1.6M k take 0.11 s in two splits and 1.3 s in 128.
    pub target_workgroups: usize,
    /// The recorder's part the next dispatches belong to.
    pub part: usize,
    dispatches: Vec<Dispatch>,
    params: Vec<u8>,
}

impl Queue {
    pub fn new(gpu: &Gpu) -> Queue {
        let target_workgroups = if gpu.info.device_type == wgpu::DeviceType::Cpu { 2 } else { 128 };
        Queue { gemm: gpu.fastest_gemm(), target_workgroups, part: 0, dispatches: Vec::new(), params: Vec::new() }
    }

    /// Queues `pipeline` over `workgroups` workgroups (a linear count; kernels recover their index
    /// from a 2-D grid so counts beyond 65,535 work) with its `params` and storage `buffers`.
    pub(crate) fn dispatch(&mut self, gpu: &Gpu, pipeline: Arc<Pipeline>, params: &[u32], buffers: &[&wgpu::Buffer], workgroups: u64) -> Result<()> {
        check_no_writable_alias(&pipeline, buffers)?;
        let max = gpu.limits.max_compute_workgroups_per_dimension as u64;
        let x = workgroups.clamp(1, max);
        let y = workgroups.div_ceil(x);
        if y > max {
            return Err(EngineError::GridTooLarge { workgroups, max });
        }
        let align = gpu.limits.min_storage_buffer_offset_alignment as usize;
        let params_offset = self.params.len().next_multiple_of(align);
        self.params.resize(params_offset, 0);
        self.params.extend_from_slice(bytemuck::cast_slice(params));
        // Parameter structs are padded to 16 bytes.
        let params_len = (params.len() * 4).next_multiple_of(16);
        self.params.resize(params_offset + params_len, 0);
        self.dispatches.push(Dispatch {
            part: self.part,
            pipeline,
            buffers: buffers.iter().map(|b| (*b).clone()).collect(),
            params_offset: params_offset as u64,
            params_len: params_len as u64,
            groups: (x as u32, y as u32),
        });
        Ok(())
    }

    /// Encodes everything recorded and submits it as `pieces` submissions of consecutive dispatches
    /// (at most one per dispatch). The queue runs them in order, so the result is the same as one
    /// submission's; each piece is just shorter, which keeps it under the limit GPU watchdogs put
    /// on one submission (Windows' TDR ~2 s, Chrome's ~10 s, Metal's).
    pub fn submit_in(self, gpu: &Gpu, pieces: usize) {
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

    /// Runs the recording and times it part by part: with the GPU's timestamps where the device
    /// writes them (one submission, a compute pass per part), else part by part, each submitted
    /// and waited for on its own and timed by `clock` (seconds). The same work as
    /// [`Queue::submit_in`] with the same results (the queue runs in order either way), natively
    /// and in the browser.
    pub async fn time_parts(self, gpu: &Gpu, parts: &[Part], clock: impl Fn() -> f64) -> Result<StepTiming> {
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
                let timed = self.time_by_timestamps(gpu, parts, &ranges, &bind_groups, queries).await?;
                return Ok(StepTiming { parts: timed, clock: Clock::GpuTimestamps });
            }
            _ => {
                let mut times = Vec::new();
                for &(start, end) in &ranges {
                    let began = clock();
                    gpu.queue.submit([self.encode(gpu, &self.dispatches[start..end], &bind_groups[start..end])]);
                    gpu.idle().await;
                    times.push(PartTime { part: parts[self.dispatches[start].part].clone(), secs: clock() - began, dispatches: end - start });
                }
                times
            }
        };
        gpu.take_error()?;
        Ok(StepTiming { parts, clock: Clock::RoundTrips })
    }

    /// [`Queue::time_parts`] with timestamps: one command buffer, a compute pass per part whose
    /// beginning and end the GPU stamps, the stamps resolved and read back.
    async fn time_by_timestamps(&self, gpu: &Gpu, parts: &[Part], ranges: &[(usize, usize)], bind_groups: &[wgpu::BindGroup], queries: u32) -> Result<Vec<PartTime>> {
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
                part: parts[self.dispatches[start].part].clone(),
                secs: pair[1].saturating_sub(pair[0]) as f64 * period,
                dispatches: end - start,
            })
            .collect())
    }

    /// Runs each dispatch on its own and waits for it: (kernel, workgroups, seconds) per dispatch,
    /// for finding where a step's time goes. Native only (the browser cannot wait).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(self, gpu: &Gpu) -> Vec<(String, u64, f64)> {
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
    use crate::engine::device::Device;
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
        let mut queue = Queue::new(gpu);
        let accumulate = gpu.pipeline("accumulate", &[Access::Read, Access::ReadWrite], || shaders::vec4_map(shaders::ACCUMULATE));
        let err = queue.dispatch(gpu, accumulate.clone(), &[2], &[buffer, buffer], 1).unwrap_err();
        assert!(matches!(err, EngineError::Aliased { .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("accumulate: binds one buffer at bindings 1 and 2, one of them writable: WebGPU forbids it"), "{err}");
        let read_twice = gpu.pipeline("read twice", &[Access::Read, Access::Read], String::new);
        queue.dispatch(gpu, read_twice.clone(), &[2], &[buffer, buffer], 1).unwrap();
        // More workgroups than the grid holds is refused with the numbers.
        let max = gpu.limits.max_compute_workgroups_per_dimension as u64;
        let err = queue.dispatch(gpu, read_twice, &[2], &[buffer, buffer], max * max + 1).unwrap_err();
        assert_eq!(err, EngineError::GridTooLarge { workgroups: max * max + 1, max });
    }
}
