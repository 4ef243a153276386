//! The WGSL engine's side of the op vocabulary: each [`Op`] as dispatches of the kernels in
//! `shaders/`, with their bindings (in the order each kernel declares them, after binding 0's
//! parameters), their parameters packed as the kernel's `struct Params` reads them, and their
//! workgroup counts. One file per kernel family, as `crate::ops` has one per layer family.

mod conv;
mod elementwise;
mod input;
mod matmul;
mod pool;

use crate::engine::error::Result;
use crate::engine::op::Op;
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu};

/// Queues the dispatches that compute `op`.
pub(crate) fn record(q: &mut Queue, gpu: &Gpu, op: Op) -> Result<()> {
    match op {
        Op::SumChannels { grad, out } => conv::sum_channels(q, gpu, grad, out),
        Op::Relu { x } => elementwise::relu(q, gpu, None, x),
        Op::ReluBackward { y, grad } => elementwise::relu(q, gpu, Some(y), grad),
        Op::Dropout { values, mask } => elementwise::dropout(q, gpu, values, mask),
        Op::Accumulate { x, sum } => elementwise::accumulate(q, gpu, x, sum),
        Op::CopyChannels { src, dst, accumulate } => elementwise::copy_channels(q, gpu, src, dst, accumulate),
        Op::Conv { shape, relu, x, weight, bias, y } => conv::forward(q, gpu, &shape, relu, x, weight, bias, y),
        Op::ConvBackwardInput { shape, grad_y, weight, grad_x, accumulate } => conv::backward_input(q, gpu, &shape, grad_y, weight, grad_x, accumulate),
        Op::ConvBackwardWeight { shape, grad_y, x, grad_weight } => conv::backward_weight(q, gpu, &shape, grad_y, x, grad_weight),
        Op::Matmul { shape, a, b, bias, relu, c } => matmul::record(q, gpu, shape, a, b, bias, relu, c),
        Op::MaxPool { shape, x, y, argmax } => pool::max_forward(q, gpu, &shape, x, y, argmax),
        Op::MaxPoolBackward { shape, grad_y, argmax, grad_x } => pool::max_backward(q, gpu, &shape, grad_y, argmax, grad_x),
        Op::AvgPool { shape, x, y } => pool::avg_forward(q, gpu, &shape, x, y),
        Op::AvgPoolBackward { shape, grad_y, grad_x } => pool::avg_backward(q, gpu, &shape, grad_y, grad_x),
        Op::SoftmaxCrossEntropy { classes, mean_over, logits, labels, grad, stats } => {
            elementwise::softmax_cross_entropy(q, gpu, classes, mean_over, logits, labels, grad, stats)
        }
        Op::Softmax { classes, logits, probs } => elementwise::softmax(q, gpu, classes, logits, probs),
        Op::Sgd { step, param, grad, velocity } => elementwise::sgd(q, gpu, step, param, grad, velocity),
        Op::Adam { step, param, grad, m, v } => elementwise::adam(q, gpu, step, param, grad, m, v),
        Op::TensorStats { rows, slot, adam, x, y, out } => elementwise::tensor_stats(q, gpu, rows, slot, adam, x, y, out),
        Op::GatherResize { src, side, first, augment, pixels, all_labels, order, images, labels } => {
            input::gather_resize(q, gpu, src, side, first, augment, [pixels, all_labels, order, images, labels])
        }
    }
}

/// Queues a kernel with one invocation per element of `count` (256 per workgroup).
#[allow(clippy::too_many_arguments)]
fn per_element(
    q: &mut Queue,
    gpu: &Gpu,
    key: &str,
    source: impl FnOnce() -> String,
    storage: &[Access],
    params: &[u32],
    buffers: &[&wgpu::Buffer],
    count: usize,
) -> Result<()> {
    q.dispatch(gpu, gpu.pipeline(key, storage, source), params, buffers, count.div_ceil(256) as u64)
}
