//! Dispatching kernels built on the GEMM core: tile choice, split-k and the partial-sum reduction.

use crate::error::Result;
use crate::gpu::Access;
use crate::recorder::{GemmCore, Recorder};
use crate::shaders::{self, Tile};

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

/// Fewer rows than a 64-row tile wastes most of it: narrow layers (common at width ratio 8) get
/// tiles that are short along rows and long along columns.
fn tile_for(m: usize) -> Tile {
    match m {
        0..=16 => (1, 8),
        17..=32 => (2, 8),
        _ => (4, 4),
    }
}

/// Workgroups a GEMM should be spread over before splitting k is worth its extra pass.
const TARGET_WORKGROUPS: usize = 128;
/// Each split keeps at least this many k steps, so partial sums stay few.
const MIN_K_PER_SPLIT: usize = 256;
/// Partial sums may use at most this much scratch memory.
const MAX_SPLIT_BYTES: u64 = 64 << 20;

impl GemmKernel<'_> {
    /// How many parts to cut k into: more than one only when m·n alone gives too few workgroups.
    pub fn splits(&self, rec: &Recorder) -> usize {
        if rec.gemm == GemmCore::Naive {
            return 1;
        }
        let (tm, tn) = tile_for(self.m);
        let tiles = self.m.div_ceil(16 * tm as usize) * self.n.div_ceil(16 * tn as usize);
        let by_parallelism = TARGET_WORKGROUPS.div_ceil(tiles);
        let by_depth = self.k / MIN_K_PER_SPLIT;
        let slab = (self.m * self.n * 4) as u64;
        let by_memory = (MAX_SPLIT_BYTES.min(rec.gpu.max_binding_bytes()) / slab.max(1)) as usize;
        by_parallelism.min(by_depth).min(by_memory).max(1)
    }

    /// Records the GEMM; `params_tail` follows (m, n, k, splits) in the kernel's uniform.
    pub fn record(&self, rec: &mut Recorder, params_tail: &[u32], buffers: &[&wgpu::Buffer], splits: usize) -> Result<()> {
        let core = rec.gemm;
        let tile = tile_for(self.m);
        let key = format!("{}/{core:?}/{}x{}", self.name, tile.0, tile.1);
        let pipeline = rec.gpu.pipeline(&key, self.storage, || shaders::gemm_source(core, tile, self.parts));
        let mut params = vec![self.m as u32, self.n as u32, self.k as u32, splits as u32];
        params.extend_from_slice(params_tail);
        let workgroups = match core {
            GemmCore::Tiled => {
                let tiles_m = self.m.div_ceil(16 * tile.0 as usize);
                let tiles_n = self.n.div_ceil(16 * tile.1 as usize);
                (tiles_m * tiles_n * splits) as u64
            }
            GemmCore::Naive => (self.m * self.n).div_ceil(256) as u64,
        };
        rec.dispatch(pipeline, &params, buffers, workgroups)
    }
}

/// out = the sum of `splits` slabs of `count` values in `partial`.
pub(crate) fn reduce_splits(rec: &mut Recorder, partial: &wgpu::Buffer, out: &wgpu::Buffer, count: usize, splits: usize) -> Result<()> {
    let pipeline = rec.gpu.pipeline("reduce_splits", &[Access::Read, Access::ReadWrite], || shaders::REDUCE_SPLITS.to_string());
    rec.dispatch(pipeline, &[count as u32, splits as u32], &[partial, out], count.div_ceil(256) as u64)
}

/// Records a GEMM whose output is `out` (m×n): directly when one split suffices, else through
/// scratch partial sums and a reduction. `buffers` are the kernel's inputs; `out` comes last.
pub(crate) fn record_split(rec: &mut Recorder, gemm: &GemmKernel, params_tail: &[u32], inputs: &[&wgpu::Buffer], out: &wgpu::Buffer) -> Result<()> {
    let splits = gemm.splits(rec);
    if splits == 1 {
        let mut buffers = inputs.to_vec();
        buffers.push(out);
        return gemm.record(rec, params_tail, &buffers, 1);
    }
    let count = gemm.m * gemm.n;
    let scratch = rec.gpu.scratch((splits * count * 4) as u64);
    let mut buffers = inputs.to_vec();
    buffers.push(&scratch);
    gemm.record(rec, params_tail, &buffers, splits)?;
    reduce_splits(rec, &scratch, out, count, splits)
}
