//! Convolution, forward and backward, each an implicit GEMM on the GEMM core ([`crate::engine::wgsl::gemm`]),
//! and the channel sums that make bias gradients.

use crate::engine::error::Result;
use crate::engine::op::ConvShape;
use crate::engine::tensor::{Slab, Tensor, View};
use crate::engine::wgsl::gemm::{self, GemmKernel};
use crate::engine::wgsl::kernels::per_element;
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu, shaders};

const FLAG_RELU: u32 = 1;
const FLAG_ACCUMULATE: u32 = 2;

/// The parameter fields after (m, n, k, splits) (conv2d_params.wgsl): the shape, the flags, and
/// the input's and output's channel ranges.
fn params(s: &ConvShape, x: Slab, y: Slab, flags: u32) -> Vec<u32> {
    [s.batch, s.cin, s.h, s.w, s.cout, s.oh, s.ow, s.kernel, s.kernel, s.stride, s.padding, flags as usize, x.offset, x.total, y.offset, y.total]
        .iter()
        .map(|&v| v as u32)
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn forward(q: &mut Queue, gpu: &Gpu, s: &ConvShape, relu: bool, x: View, weight: &Tensor, bias: &Tensor, y: View) -> Result<()> {
    let kernel = GemmKernel {
        name: "conv2d_forward",
        parts: &[shaders::INDEX_MATH, shaders::CONV2D_PARAMS, shaders::CONV2D_FORWARD],
        storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite],
        m: s.cout,
        n: s.batch * s.oh * s.ow,
        k: s.cin * s.kernel * s.kernel,
    };
    let flags = if relu { FLAG_RELU } else { 0 };
    kernel.record(q, gpu, &params(s, x.slab(), y.slab(), flags), &[x.tensor.buffer()?, weight.buffer()?, bias.buffer()?, y.tensor.buffer()?])
}

pub(super) fn backward_input(q: &mut Queue, gpu: &Gpu, s: &ConvShape, grad_y: View, weight: &Tensor, grad_x: View, accumulate: bool) -> Result<()> {
    let kernel = GemmKernel {
        name: "conv2d_backward_input",
        parts: &[shaders::INDEX_MATH, shaders::CONV2D_PARAMS, shaders::CONV2D_BACKWARD_INPUT],
        storage: &[Access::Read, Access::Read, Access::ReadWrite],
        m: s.cin,
        n: s.batch * s.h * s.w,
        k: s.cout * s.kernel * s.kernel,
    };
    let flags = if accumulate { FLAG_ACCUMULATE } else { 0 };
    kernel.record(q, gpu, &params(s, grad_x.slab(), grad_y.slab(), flags), &[grad_y.tensor.buffer()?, weight.buffer()?, grad_x.tensor.buffer()?])
}

pub(super) fn backward_weight(q: &mut Queue, gpu: &Gpu, s: &ConvShape, grad_y: View, x: View, grad_weight: &Tensor) -> Result<()> {
    let kernel = GemmKernel {
        name: "conv2d_backward_weight",
        parts: &[shaders::INDEX_MATH, shaders::CONV2D_PARAMS, shaders::CONV2D_BACKWARD_WEIGHT],
        storage: &[Access::Read, Access::Read, Access::ReadWrite],
        m: s.cout,
        n: s.cin * s.kernel * s.kernel,
        k: s.batch * s.oh * s.ow,
    };
    let params = params(s, x.slab(), grad_y.slab(), 0);
    gemm::record_split(q, gpu, &kernel, &params, &[grad_y.tensor.buffer()?, x.tensor.buffer()?], grad_weight.buffer()?)
}

/// out[c] = the sum over images and positions of channel c of `grad`: one invocation per channel.
pub(super) fn sum_channels(q: &mut Queue, gpu: &Gpu, grad: View, out: &Tensor) -> Result<()> {
    let (batch, channels, h, w) = grad.dims();
    let g = grad.slab();
    let storage = [Access::Read, Access::ReadWrite];
    let buffers = [grad.tensor.buffer()?, out.buffer()?];
    if h * w == 1 {
        let params = [batch, channels, g.offset, g.total].map(|v| v as u32);
        return per_element(q, gpu, "column_sum", || shaders::COLUMN_SUM.to_string(), &storage, &params, &buffers, channels);
    }
    // Planes of whole vec4s (every plane then starts on one) are summed four values per load.
    let (key, chunk, width) = match (h * w) % 4 {
        0 => ("channel_sum/vec4", "alias Chunk = vec4<f32>;\nfn chunk_sum(v: Chunk) -> f32 { return v.x + v.y + v.z + v.w; }", 4),
        _ => ("channel_sum", "alias Chunk = f32;\nfn chunk_sum(v: Chunk) -> f32 { return v; }", 1),
    };
    let params = [batch, channels, h * w / width, g.offset, g.total].map(|v| v as u32);
    let pipeline = gpu.pipeline(key, &storage, || format!("{}\n{chunk}\n{}", shaders::INDEX_MATH, shaders::CHANNEL_SUM));
    q.dispatch(gpu, pipeline, &params, &buffers, channels as u64)
}
