//! Gradient accumulation: a training step run in micro-batches ([`crate::net::fit::MicroBatches`])
//! adds each micro-batch's parameter gradients into the step's before the optimiser runs once.

use crate::engine::error::Result;
use crate::engine::op::Op;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;
use crate::ops::{check_distinct, check_shape};

/// sum += x, element by element (both f32 tensors of one shape).
pub fn accumulate(rec: &mut Recorder, x: &Tensor, sum: &Tensor) -> Result<()> {
    check_shape("gradient accumulation", x, sum.shape())?;
    check_distinct("gradient accumulation", &[x], sum)?;
    rec.record(Op::Accumulate { x, sum })
}
