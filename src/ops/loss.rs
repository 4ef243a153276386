//! Softmax cross-entropy (mean over the batch, as `nn.CrossEntropyLoss`) with its fused backward
//! and on-GPU accuracy counting, and plain softmax for showing class probabilities.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::Op;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};
use crate::ops::{check_distinct, check_shape};

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
    rec.record(Op::SoftmaxCrossEntropy { classes, mean_over, logits, labels, grad: grad_logits, stats })
}

/// probs = softmax(logits) per row.
pub fn softmax(rec: &mut Recorder, logits: &Tensor, probs: &Tensor) -> Result<()> {
    let (_, classes) = batch_and_classes("softmax", logits)?;
    check_shape("softmax output", probs, logits.shape())?;
    check_distinct("softmax", &[logits], probs)?;
    rec.record(Op::Softmax { classes, logits, probs })
}
