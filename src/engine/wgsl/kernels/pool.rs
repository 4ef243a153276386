//! Max and average pooling, forward and backward.

use crate::engine::error::Result;
use crate::engine::op::PoolShape;
use crate::engine::tensor::Tensor;
use crate::engine::wgsl::kernels::per_element;
use crate::engine::wgsl::kernels::elementwise::zero;
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu, shaders};

/// The kernels' parameters (pool_params.wgsl), the scatter class of max_pool_backward.wgsl left
/// zero.
fn params(s: &PoolShape) -> [u32; 13] {
    [s.planes, s.h, s.w, s.oh, s.ow, s.kh, s.kw, s.stride, s.padding, 0, 0, 0, 0].map(|v| v as u32)
}

fn with_params(kernel: &str) -> String {
    // index_math.wgsl: divmod, for kernels that split element indices.
    format!("{}\n{}\n{kernel}", shaders::INDEX_MATH, shaders::POOL_PARAMS)
}

pub(super) fn max_forward(q: &mut Queue, gpu: &Gpu, s: &PoolShape, x: &Tensor, y: &Tensor, argmax: &Tensor) -> Result<()> {
    let storage = [Access::Read, Access::ReadWrite, Access::ReadWrite];
    let buffers = [x.buffer()?, y.buffer()?, argmax.buffer()?];
    let (kh, kw, stride) = (s.kh, s.kw, s.stride);
    let key = format!("max_pool_forward/{kh}×{kw}/{stride}");
    let invocations = shaders::max_pool_forward_invocations(s.planes, s.oh, s.ow);
    per_element(q, gpu, &key, || with_params(&shaders::max_pool_forward_source(kh, kw, stride)), &storage, &params(s), &buffers, invocations)
}

pub(super) fn max_backward(q: &mut Queue, gpu: &Gpu, s: &PoolShape, grad_y: &Tensor, argmax: &Tensor, grad_x: &Tensor) -> Result<()> {
    let storage = [Access::Read, Access::Read, Access::ReadWrite];
    let buffers = [grad_y.buffer()?, argmax.buffer()?, grad_x.buffer()?];
    let disjoint = s.padding == 0 && s.kh <= s.stride && s.kw <= s.stride;
    if disjoint {
        // Each input lies in at most one window: scatter per output, cell by cell.
        return per_element(q, gpu, "max_pool_backward_cells", || with_params(shaders::MAX_POOL_BACKWARD_CELLS), &storage, &params(s), &buffers, grad_y.len());
    }
    // Overlapping windows: zero grad_x, then scatter one class of outputs at a time, classes of
    // outputs `step` apart, whose windows are disjoint.
    zero(q, gpu, grad_x)?;
    let (step_y, step_x) = (s.kh.div_ceil(s.stride), s.kw.div_ceil(s.stride));
    for class_y in 0..step_y.min(s.oh) {
        for class_x in 0..step_x.min(s.ow) {
            let mut params = params(s);
            params[9..13].copy_from_slice(&[class_y, class_x, step_y, step_x].map(|v| v as u32));
            let outputs = s.planes * (s.oh - class_y).div_ceil(step_y) * (s.ow - class_x).div_ceil(step_x);
            per_element(q, gpu, "max_pool_backward", || with_params(shaders::MAX_POOL_BACKWARD), &storage, &params, &buffers, outputs)?;
        }
    }
    Ok(())
}

pub(super) fn avg_forward(q: &mut Queue, gpu: &Gpu, s: &PoolShape, x: &Tensor, y: &Tensor) -> Result<()> {
    let storage = [Access::Read, Access::ReadWrite];
    per_element(q, gpu, "avg_pool_forward", || with_params(shaders::AVG_POOL_FORWARD), &storage, &params(s), &[x.buffer()?, y.buffer()?], y.len())
}

pub(super) fn avg_backward(q: &mut Queue, gpu: &Gpu, s: &PoolShape, grad_y: &Tensor, grad_x: &Tensor) -> Result<()> {
    let storage = [Access::Read, Access::ReadWrite];
    per_element(q, gpu, "avg_pool_backward", || with_params(shaders::AVG_POOL_BACKWARD), &storage, &params(s), &[grad_y.buffer()?, grad_x.buffer()?], grad_x.len())
}
