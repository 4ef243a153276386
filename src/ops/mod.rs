//! The kernels, grouped by layer type. Each function checks its tensors' shapes once, then records
//! the work for the recorder's engine: WGSL dispatches, or a task running the CPU engine's kernel
//! (`crate::engine::cpu`); nothing runs until the recorder is submitted.

pub mod accumulate;
pub mod activation;
pub mod concat;
pub mod conv2d;
pub mod input;
pub mod linear;
pub mod loss;
pub mod optim;
pub mod pool;
pub mod stats;

use crate::engine::cpu::{self, conv::Slab};
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::{Tensor, View};

pub use accumulate::accumulate;
pub use activation::{Dropout, relu_backward, relu_forward};
pub use concat::copy_channels;
pub use conv2d::Conv2d;
pub use input::{Augment, gather_resize};
pub use linear::{Linear, Matmul};
pub use loss::{softmax, softmax_cross_entropy};
pub use optim::{Adam, Sgd};
pub use pool::{Pool2d, PoolKind};
pub use stats::{adam_update_stats, tensor_stats};

/// Counts the kernels' index arithmetic divides out of an element index (images, channels, planes,
/// rows) stay below this: index_math.wgsl's `divmod` divides in f32, exactly while the quotient is
/// under 2^21 (its comment gives the bound; at ~2.4 M a GPU's division, allowed 2.5 ULP of error,
/// may land one off and index the wrong plane). Past it a kernel is refused, not run.
pub const MAX_DIVIDED: usize = 1 << 21;

/// Refuses `count` `what` (e.g. "planes (images × channels)") at or past [`MAX_DIVIDED`].
pub(crate) fn check_divided(op: &str, what: &str, count: usize) -> Result<()> {
    if count >= MAX_DIVIDED {
        return Err(EngineError::shape(op, format!("{count} {what} is more than one kernel indexes exactly (fewer than 2^21 = 2,097,152): lower the batch size")));
    }
    Ok(())
}

/// A tensor must have exactly `shape`.
pub(crate) fn check_shape(what: &str, tensor: &Tensor, shape: &[usize]) -> Result<()> {
    if tensor.shape() != shape {
        return Err(EngineError::shape(what, format!("expected shape {shape:?}, got {:?}", tensor.shape())));
    }
    Ok(())
}

/// WebGPU forbids binding one buffer as both input and output of a dispatch.
pub(crate) fn check_distinct(what: &str, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    if inputs.iter().any(|t| t.same_memory(output)) {
        return Err(EngineError::shape(what, "the output must not share memory with an input"));
    }
    Ok(())
}

/// Records a kernel with one invocation per element of `count` (256 per workgroup).
pub(crate) fn elementwise(
    rec: &mut Recorder,
    key: &str,
    source: impl FnOnce() -> String,
    storage: &[Access],
    params: &[u32],
    buffers: &[&wgpu::Buffer],
    count: usize,
) -> Result<()> {
    let pipeline = rec.gpu()?.pipeline(key, storage, source);
    rec.dispatch(pipeline, params, buffers, count.div_ceil(256) as u64)
}

/// The channel range of a view, as the CPU engine's kernels take it.
pub(crate) fn slab(v: &View) -> Slab {
    Slab { offset: v.offset, total: v.total_channels() }
}

/// Sets `t` to zeros (for kernels that scatter into their output).
pub(crate) fn zero(rec: &mut Recorder, t: &Tensor) -> Result<()> {
    if rec.cpu_threads().is_some() {
        let t = t.host()?.clone();
        return rec.task("zero", move || {
            t.write()?.fill(0.0);
            Ok(())
        });
    }
    // Whole vec4s: the buffer's padding (Tensor) takes the tail.
    let vec4s = t.len().div_ceil(4);
    elementwise(rec, "zero", || shaders::ZERO.to_string(), &[Access::ReadWrite], &[vec4s as u32], &[t.buffer()?], vec4s)
}

/// out[c] = the sum over images and positions of channel c of `grad`: bias gradients.
pub(crate) fn sum_channels(rec: &mut Recorder, grad: View, out: &Tensor) -> Result<()> {
    check_distinct("bias gradient", &[grad.tensor], out)?;
    let (batch, channels, h, w) = grad.dims();
    if rec.cpu_threads().is_some() {
        let (g, gs, o) = (grad.tensor.host()?.clone(), slab(&grad), out.host()?.clone());
        return rec.task("sum_channels", move || {
            cpu::conv::sum_channels(&g.read(), gs, (batch, channels, h * w), &mut o.write()?);
            Ok(())
        });
    }
    let storage = [Access::Read, Access::ReadWrite];
    let buffers = [grad.tensor.buffer()?, out.buffer()?];
    if h * w == 1 {
        let params = [batch, channels, grad.offset, grad.total_channels()].map(|v| v as u32);
        return elementwise(rec, "column_sum", || shaders::COLUMN_SUM.to_string(), &storage, &params, &buffers, channels);
    }
    // Planes of whole vec4s (every plane then starts on one) are summed four values per load.
    let (key, chunk, width) = match (h * w) % 4 {
        0 => ("channel_sum/vec4", "alias Chunk = vec4<f32>;\nfn chunk_sum(v: Chunk) -> f32 { return v.x + v.y + v.z + v.w; }", 4),
        _ => ("channel_sum", "alias Chunk = f32;\nfn chunk_sum(v: Chunk) -> f32 { return v; }", 1),
    };
    let params = [batch, channels, h * w / width, grad.offset, grad.total_channels()].map(|v| v as u32);
    let pipeline = rec.gpu()?.pipeline(key, &storage, || format!("{}\n{chunk}\n{}", shaders::INDEX_MATH, shaders::CHANNEL_SUM));
    rec.dispatch(pipeline, &params, &buffers, channels as u64)
}
