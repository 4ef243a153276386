//! The WGSL engine's GEMM policy, in one place: which core a kernel is built on, the tile each
//! workgroup computes, split-k and the partial-sum reduction; the kernels built on a GEMM (convolution
//! and linear, forward and backward) describe their loads and stores and leave the rest here.

use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu};
use crate::engine::wgsl::gemm_core::GemmCore;
use crate::engine::wgsl::shaders::{self, Tile};

/// A kernel whose work is one GEMM of shape m×n×k, written as loaders for the GEMM core.
pub(crate) struct GemmKernel<'a> {
    /// Names the kernel in the pipeline cache.
    pub name: &'static str,
    /// WGSL defining `p`, the bindings, load_a, load_b and store_c.
    pub parts: &'a [&'static str],
    pub storage: &'static [Access],
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// The block each workgroup computes, chosen by the GEMM's rows first. On every adapter the cost
/// that matters is loads, not multiply-adds (lavapipe runs each load lane by lane): an invocation
/// computing TM×TN outputs reads TM/4 + TN/4 vec4s per depth, so blocks stay 8×8 per invocation
/// wherever the rows allow, and a block much taller than the matrix (8–48 channels at width
/// ratio 8) is wasted work, so short matrices get short, wide blocks. Column-narrow GEMMs (a
/// weight gradient over few taps, a 10-class output) get narrow blocks. Chosen by measurement on
/// lavapipe (docs/BENCHMARKS.md). All stage at most 16 KiB, WebGPU's guaranteed workgroup memory.
fn tile_for(m: usize, n: usize) -> Tile {
    let t = |wgx, wgy, tm, tn, bk| Tile { wgx, wgy, tm, tn, bk };
    match (m, n) {
        (_, 0..=16) => t(4, 16, 4, 4, 16),
        (0..=16, 0..=64) => t(16, 4, 4, 4, 16),
        (_, 0..=64) => t(16, 16, 4, 4, 16),
        (0..=4, _) => t(64, 1, 4, 4, 8),
        (0..=16, _) => t(16, 2, 8, 8, 16),
        (0..=32, _) => t(16, 4, 8, 8, 16),
        (0..=64, _) => t(16, 8, 8, 8, 16),
        _ => t(16, 16, 8, 8, 16),
    }
}

/// The subgroup core's block: `sg` lanes, BM rows shared through subgroup broadcasts (a multiple
/// of `sg`, up to 64) and TN columns per lane (8, or 4 when the GEMM is narrow). Bigger blocks
/// win on lavapipe up to 64 rows × 8 columns per lane: each value loaded feeds more multiply-adds,
/// and spilled accumulators cost far less than loads there (docs/BENCHMARKS.md). The block's
/// results pass through 16 KiB of workgroup memory at most.
fn subgroup_tile_for(m: usize, n: usize, sg: u32) -> Tile {
    let tn = if n <= 4 * sg as usize { 4 } else { 8 };
    let max_rows = (64).min(16384 / (4 * sg * tn)) / sg * sg;
    let bm = (m as u32).next_multiple_of(sg).clamp(sg, max_rows);
    Tile { wgx: sg, wgy: 1, tm: bm, tn, bk: 1 }
}

/// Each split keeps at least this many k steps, so partial sums stay few.
const MIN_K_PER_SPLIT: usize = 256;
/// Partial sums may use at most this much scratch memory.
const MAX_SPLIT_BYTES: u64 = 64 << 20;
/// Outputs up to which even the narrowest block would be mostly empty: such GEMMs (a first layer's
/// weight gradient, 8×9 outputs over millions of k) run one output per invocation with k split
/// many ways. Larger ones (11×11 taps: 12×121) are ~3× faster tiled with split-k.
const TINY_OUTPUT: usize = 256;

/// Depth one invocation may loop over where the driver stops loops early ([`crate::Gpu::loop_limit`]):
/// three quarters of the limit, as the cores run up to ~1.13 loop iterations per depth (the tiled
/// core's staging loops: llvmpipe summed 58,255 of 65,536 depths before it stopped) plus a few
/// in their epilogues.
fn safe_depth(loop_limit: u64) -> usize {
    (loop_limit / 4 * 3) as usize
}

/// How one GEMM runs: which core, which tile, how many k splits.
struct Plan {
    core: GemmCore,
    tile: Tile,
    splits: usize,
    workgroups: u64,
}

impl GemmKernel<'_> {
    /// The plan for this GEMM; where the driver stops loops early, k is split so that no
    /// invocation's depth loop passes [`safe_depth`], and a GEMM that may not split (its epilogue
    /// needs the whole sum) and is that deep is refused instead of summed short.
    fn plan(&self, q: &Queue, gpu: &Gpu, allow_split: bool) -> Result<Plan> {
        let mut plan = self.plan_unbounded(q, gpu, allow_split);
        let Some(limit) = gpu.loop_limit() else { return Ok(plan) };
        let needed = self.k.div_ceil(safe_depth(limit));
        if needed <= plan.splits {
            return Ok(plan);
        }
        if !allow_split || needed > self.splits_by_memory(gpu) {
            return Err(EngineError::LoopLimit { kernel: self.name.to_string(), depth: self.k, limit });
        }
        // More splits of the same core and tile: each workgroup's share of k shrinks.
        plan.workgroups = plan.workgroups / plan.splits as u64 * needed as u64;
        plan.splits = needed;
        Ok(plan)
    }

    /// The most k splits whose partial sums fit the scratch memory split-k may use.
    fn splits_by_memory(&self, gpu: &Gpu) -> usize {
        let slab = (self.m * self.n * 4) as u64;
        (MAX_SPLIT_BYTES.min(gpu.max_binding_bytes()) / slab.max(1)) as usize
    }

    fn plan_unbounded(&self, q: &Queue, gpu: &Gpu, allow_split: bool) -> Plan {
        let target = q.target_workgroups;
        let tile = tile_for(self.m, self.n);
        let outputs = self.m * self.n;
        let max_splits = if allow_split {
            (self.k / MIN_K_PER_SPLIT).min(self.splits_by_memory(gpu)).max(1)
        } else {
            1
        };
        // The subgroup core asked for on an adapter without fixed-size subgroups runs tiled.
        match (q.gemm, gpu.subgroup_size) {
            (GemmCore::Naive, _) => Plan { core: GemmCore::Naive, tile, splits: 1, workgroups: outputs.div_ceil(256) as u64 },
            (GemmCore::Subgroup, Some(sg)) => {
                let tile = subgroup_tile_for(self.m, self.n, sg);
                let tiles = self.m.div_ceil(tile.rows()) * self.n.div_ceil(tile.cols());
                let splits = target.div_ceil(tiles).min(max_splits);
                Plan { core: GemmCore::Subgroup, tile, splits, workgroups: (tiles * splits) as u64 }
            }
            (GemmCore::Tiled | GemmCore::Subgroup, _) if outputs <= TINY_OUTPUT && max_splits > 1 => {
                let blocks = outputs.div_ceil(256);
                let splits = target.div_ceil(blocks).min(max_splits);
                Plan { core: GemmCore::Naive, tile, splits, workgroups: (blocks * splits) as u64 }
            }
            (GemmCore::Tiled | GemmCore::Subgroup, _) => {
                let tiles = self.m.div_ceil(tile.rows()) * self.n.div_ceil(tile.cols());
                let splits = target.div_ceil(tiles).min(max_splits);
                Plan { core: GemmCore::Tiled, tile, splits, workgroups: (tiles * splits) as u64 }
            }
        }
    }

    /// Records the GEMM writing `out` directly (no split-k: for kernels whose epilogue cannot work
    /// on partial sums). `params_tail` follows (m, n, k, splits) in the kernel's parameters.
    pub fn record(&self, q: &mut Queue, gpu: &Gpu, params_tail: &[u32], buffers: &[&wgpu::Buffer]) -> Result<()> {
        let plan = self.plan(q, gpu, false)?;
        self.dispatch(q, gpu, &plan, params_tail, buffers)
    }

    fn dispatch(&self, q: &mut Queue, gpu: &Gpu, plan: &Plan, params_tail: &[u32], buffers: &[&wgpu::Buffer]) -> Result<()> {
        let (core, tile) = (plan.core, plan.tile);
        let key = format!("{}/{core:?}/{tile:?}", self.name);
        let pipeline = gpu.pipeline(&key, self.storage, || shaders::gemm_source(core, tile, self.parts));
        let mut params = vec![self.m as u32, self.n as u32, self.k as u32, plan.splits as u32];
        params.extend_from_slice(params_tail);
        q.dispatch(gpu, pipeline, &params, buffers, plan.workgroups)
    }
}

/// out = the sum of `splits` slabs of `count` values in `partial`.
fn reduce_splits(q: &mut Queue, gpu: &Gpu, partial: &wgpu::Buffer, out: &wgpu::Buffer, count: usize, splits: usize) -> Result<()> {
    let pipeline = gpu.pipeline("reduce_splits", &[Access::Read, Access::ReadWrite], || shaders::REDUCE_SPLITS.to_string());
    q.dispatch(gpu, pipeline, &[count as u32, splits as u32], &[partial, out], count.div_ceil(256) as u64)
}

/// Records a GEMM whose output is `out` (m×n, overwritten): directly when one split suffices, else
/// through scratch partial sums and a reduction. `inputs` are the kernel's other buffers.
pub(crate) fn record_split(q: &mut Queue, gpu: &Gpu, gemm: &GemmKernel, params_tail: &[u32], inputs: &[&wgpu::Buffer], out: &wgpu::Buffer) -> Result<()> {
    let plan = gemm.plan(q, gpu, true)?;
    let mut buffers = inputs.to_vec();
    if plan.splits == 1 {
        buffers.push(out);
        return gemm.dispatch(q, gpu, &plan, params_tail, &buffers);
    }
    let count = gemm.m * gemm.n;
    let scratch = gpu.scratch((plan.splits * count * 4) as u64);
    buffers.push(&scratch);
    gemm.dispatch(q, gpu, &plan, params_tail, &buffers)?;
    reduce_splits(q, gpu, &scratch, out, count, plan.splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tiled core assumes of a tile (gemm_tiled.wgsl): vec4 rows and columns, staging
    /// roles that stay fixed (the invocations are a multiple of BK and of BN/4), WebGPU's default
    /// 256 invocations and 16 KiB of workgroup memory. And the subgroup core (gemm_subgroup.wgsl):
    /// one subgroup per workgroup, rows spread evenly over its lanes, vec4 columns, 16 KiB.
    #[test]
    fn every_tile_fits_the_core_and_webgpu_defaults() {
        for m in [1, 2, 4, 5, 8, 12, 16, 17, 32, 33, 48, 64, 65, 96, 128, 4096] {
            for n in [1, 9, 16, 17, 49, 64, 65, 121, 300, 4096, 1 << 20] {
                let t = tile_for(m, n);
                let lanes = t.wgx * t.wgy;
                let (bm, bn) = (t.rows() as u32, t.cols() as u32);
                assert!(t.tm % 4 == 0 && t.tn % 4 == 0, "{t:?}");
                assert!(lanes <= 256 && lanes % t.bk == 0 && lanes % (bn / 4) == 0, "{t:?}");
                assert!(t.bk * (bm + bn) * 4 <= 16 << 10, "{t:?}");
                for sg in [4, 8, 16] {
                    let t = subgroup_tile_for(m, n, sg);
                    assert!(t.wgx == sg && t.wgy == 1 && t.tm % sg == 0 && t.tm >= sg && t.tn % 4 == 0, "{t:?}");
                    assert!(t.rows() * t.cols() * 4 <= 16 << 10, "{t:?}");
                }
            }
        }
    }
}
