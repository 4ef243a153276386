//! The op vocabulary, grouped by layer type, forward and backward. Each function checks its
//! tensors' shapes once, then records an [`crate::engine::op::Op`]: what to compute. The recorder
//! hands it to its engine, which says how (WGSL dispatches or a CPU task); nothing runs until the
//! recorder is submitted. No op knows a kernel.

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

use crate::engine::error::{EngineError, Result};
use crate::engine::op::Op;
use crate::engine::recorder::Recorder;
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
        return Err(EngineError::Aliased { kernel: what.into(), detail: "the output must not share memory with an input".into() });
    }
    Ok(())
}

/// out[c] = the sum over images and positions of channel c of `grad`: bias gradients.
pub(crate) fn sum_channels(rec: &mut Recorder, grad: View, out: &Tensor) -> Result<()> {
    check_distinct("bias gradient", &[grad.tensor], out)?;
    rec.record(Op::SumChannels { grad, out })
}
