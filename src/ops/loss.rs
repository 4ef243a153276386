//! Softmax cross-entropy (mean over the batch, as `nn.CrossEntropyLoss`) with its fused backward
//! and on-GPU accuracy counting, and plain softmax for showing class probabilities.

use crate::engine::cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::ops::{check_distinct, check_shape, elementwise};
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::{DType, Tensor};

fn batch_and_classes(what: &str, logits: &Tensor) -> Result<(usize, usize)> {
    match logits.shape() {
        &[batch, classes] if classes >= 1 => Ok((batch, classes)),
        s => Err(EngineError::shape(what, format!("logits must be [batch, classes], got {s:?}"))),
    }
}

/// grad_logits = d(mean loss)/d(logits), the mean taken over `mean_over` images: the batch's own
/// size, or the whole step's for one of its micro-batches (whose gradients then add up to the whole
/// batch's); stats (3 f32) += [loss summed over the batch, correct predictions, examples]. Zero
/// `stats` to start a new reporting interval.
pub fn softmax_cross_entropy(rec: &mut Recorder, logits: &Tensor, labels: &Tensor, grad_logits: &Tensor, stats: &Tensor, mean_over: usize) -> Result<()> {
    let (batch, classes) = batch_and_classes("cross-entropy", logits)?;
    if mean_over < batch {
        return Err(EngineError::shape("cross-entropy", format!("a mean over {mean_over} images cannot take a batch of {batch}")));
    }
    check_shape("cross-entropy labels", labels, &[batch])?;
    if labels.dtype() != DType::U32 {
        return Err(EngineError::shape("cross-entropy labels", "labels must be a u32 tensor"));
    }
    check_shape("cross-entropy gradient", grad_logits, logits.shape())?;
    check_shape("cross-entropy statistics", stats, &[3])?;
    check_distinct("cross-entropy", &[logits, labels], grad_logits)?;
    check_distinct("cross-entropy", &[logits, labels], stats)?;
    if rec.cpu_threads().is_some() {
        let [logits, labels, grad, stats] = [logits, labels, grad_logits, stats].map(|t| t.host().cloned());
        let (logits, labels, grad, stats) = (logits?, labels?, grad?, stats?);
        return rec.task("softmax_cross_entropy", move || {
            cpu::elementwise::softmax_cross_entropy(&logits.read(), &labels.read(), classes, mean_over, &mut grad.write()?, &mut stats.write()?);
            Ok(())
        });
    }
    let storage = [Access::Read, Access::Read, Access::ReadWrite, Access::ReadWrite];
    let buffers = [logits.buffer()?, labels.buffer()?, grad_logits.buffer()?, stats.buffer()?];
    let pipeline = rec.gpu()?.pipeline("softmax_cross_entropy", &storage, || shaders::SOFTMAX_CROSS_ENTROPY.to_string());
    rec.dispatch(pipeline, &[batch as u32, classes as u32, mean_over as u32], &buffers, 1)
}

/// probs = softmax(logits) per row.
pub fn softmax(rec: &mut Recorder, logits: &Tensor, probs: &Tensor) -> Result<()> {
    let (batch, classes) = batch_and_classes("softmax", logits)?;
    check_shape("softmax output", probs, logits.shape())?;
    check_distinct("softmax", &[logits], probs)?;
    if rec.cpu_threads().is_some() {
        let (logits, probs) = (logits.host()?.clone(), probs.host()?.clone());
        return rec.task("softmax", move || {
            cpu::elementwise::softmax(&logits.read(), classes, &mut probs.write()?);
            Ok(())
        });
    }
    let storage = [Access::Read, Access::ReadWrite];
    elementwise(rec, "softmax", || shaders::SOFTMAX.to_string(), &storage, &[batch as u32, classes as u32], &[logits.buffer()?, probs.buffer()?], batch)
}
