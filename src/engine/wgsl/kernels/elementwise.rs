//! The kernels that run element by element or row by row: zero, ReLU, dropout, accumulation,
//! channel copies, the loss, softmax, the optimisers and tensor statistics.

use crate::engine::error::Result;
use crate::engine::op::{AdamStep, DropoutMask, SgdStep};
use crate::engine::tensor::{Tensor, View};
use crate::engine::wgsl::kernels::per_element;
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu, shaders};

/// Vec4s of a tensor: its buffer's padding (tensor.rs) takes the tail of the last.
fn vec4s(t: &Tensor) -> usize {
    t.len().div_ceil(4)
}

/// t = 0: for kernels that scatter into their output (max pooling's backward pass).
pub(super) fn zero(q: &mut Queue, gpu: &Gpu, t: &Tensor) -> Result<()> {
    let n = vec4s(t);
    per_element(q, gpu, "zero", || shaders::vec4_map(shaders::ZERO), &[Access::ReadWrite], &[n as u32], &[t.buffer()?], n)
}

/// ReLU in place on `target`: forward without `y`, backward (the gradient masked where the
/// forward output `y` is 0) with it.
pub(super) fn relu(q: &mut Queue, gpu: &Gpu, y: Option<&Tensor>, target: &Tensor) -> Result<()> {
    // The kernel's read-only input is unused in the forward direction; any other buffer will do,
    // but WebGPU forbids binding the target twice, so it gets a tiny placeholder.
    let backward = y.is_some();
    let y = match y {
        Some(y) => y.buffer()?.clone(),
        None => gpu.placeholder(),
    };
    let n = vec4s(target);
    let params = [n as u32, backward as u32];
    per_element(q, gpu, "relu", || shaders::vec4_map(shaders::RELU), &[Access::Read, Access::ReadWrite], &params, &[&y, target.buffer()?], n)
}

pub(super) fn dropout(q: &mut Queue, gpu: &Gpu, values: &Tensor, mask: DropoutMask) -> Result<()> {
    let params = [values.len() as u32, mask.seed, mask.threshold, mask.scale.to_bits(), mask.first];
    per_element(q, gpu, "dropout", || shaders::DROPOUT.to_string(), &[Access::ReadWrite], &params, &[values.buffer()?], values.len())
}

pub(super) fn accumulate(q: &mut Queue, gpu: &Gpu, x: &Tensor, sum: &Tensor) -> Result<()> {
    let n = vec4s(sum);
    let storage = [Access::Read, Access::ReadWrite];
    per_element(q, gpu, "accumulate", || shaders::vec4_map(shaders::ACCUMULATE), &storage, &[n as u32], &[x.buffer()?, sum.buffer()?], n)
}

pub(super) fn copy_channels(q: &mut Queue, gpu: &Gpu, src: View, dst: View, accumulate: bool) -> Result<()> {
    let (batch, channels, h, w) = src.dims();
    let (s, d) = (src.slab(), dst.slab());
    let params = [batch, channels, h * w, accumulate as usize, s.offset, s.total, d.offset, d.total].map(|v| v as u32);
    let storage = [Access::Read, Access::ReadWrite];
    let buffers = [src.tensor.buffer()?, dst.tensor.buffer()?];
    per_element(q, gpu, "copy_channels", || shaders::COPY_CHANNELS.to_string(), &storage, &params, &buffers, batch * channels * h * w)
}

/// One workgroup for the whole batch: the loss and accuracy sums are added in one place.
#[allow(clippy::too_many_arguments)]
pub(super) fn softmax_cross_entropy(q: &mut Queue, gpu: &Gpu, classes: usize, mean_over: usize, logits: &Tensor, labels: &Tensor, grad: &Tensor, stats: &Tensor) -> Result<()> {
    let batch = logits.len() / classes;
    let storage = [Access::Read, Access::Read, Access::ReadWrite, Access::ReadWrite];
    let buffers = [logits.buffer()?, labels.buffer()?, grad.buffer()?, stats.buffer()?];
    let pipeline = gpu.pipeline("softmax_cross_entropy", &storage, || shaders::SOFTMAX_CROSS_ENTROPY.to_string());
    q.dispatch(gpu, pipeline, &[batch as u32, classes as u32, mean_over as u32], &buffers, 1)
}

pub(super) fn softmax(q: &mut Queue, gpu: &Gpu, classes: usize, logits: &Tensor, probs: &Tensor) -> Result<()> {
    let batch = logits.len() / classes;
    let storage = [Access::Read, Access::ReadWrite];
    per_element(q, gpu, "softmax", || shaders::SOFTMAX.to_string(), &storage, &[batch as u32, classes as u32], &[logits.buffer()?, probs.buffer()?], batch)
}

pub(super) fn sgd(q: &mut Queue, gpu: &Gpu, step: SgdStep, param: &Tensor, grad: &Tensor, velocity: &Tensor) -> Result<()> {
    let params = [param.len() as u32, step.lr.to_bits(), step.momentum.to_bits(), step.weight_decay.to_bits()];
    let storage = [Access::ReadWrite, Access::Read, Access::ReadWrite];
    let buffers = [param.buffer()?, grad.buffer()?, velocity.buffer()?];
    per_element(q, gpu, "sgd", || shaders::SGD.to_string(), &storage, &params, &buffers, param.len())
}

pub(super) fn adam(q: &mut Queue, gpu: &Gpu, step: AdamStep, param: &Tensor, grad: &Tensor, m: &Tensor, v: &Tensor) -> Result<()> {
    let params = [
        param.len() as u32,
        step.lr.to_bits(),
        step.beta1.to_bits(),
        step.beta2.to_bits(),
        step.eps.to_bits(),
        step.weight_decay.to_bits(),
        step.bias_correction1.to_bits(),
        step.bias_correction2_sqrt.to_bits(),
    ];
    let storage = [Access::ReadWrite, Access::Read, Access::ReadWrite, Access::ReadWrite];
    let buffers = [param.buffer()?, grad.buffer()?, m.buffer()?, v.buffer()?];
    per_element(q, gpu, "adam", || shaders::ADAM.to_string(), &storage, &params, &buffers, param.len())
}

/// One workgroup of 256 invocations summarises the whole tensor.
#[allow(clippy::too_many_arguments)]
pub(super) fn tensor_stats(q: &mut Queue, gpu: &Gpu, rows: usize, slot: usize, adam: Option<(f32, f32, f32)>, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    let (a, b, eps) = adam.unwrap_or((1.0, 1.0, 0.0));
    let params = [rows as u32, (x.len() / rows) as u32, slot as u32, adam.is_some() as u32, a.to_bits(), b.to_bits(), eps.to_bits()];
    let storage = [Access::Read, Access::Read, Access::ReadWrite];
    per_element(q, gpu, "tensor_stats", || shaders::TENSOR_STATS.to_string(), &storage, &params, &[x.buffer()?, y.buffer()?, out.buffer()?], 256)
}
