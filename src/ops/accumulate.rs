//! Gradient accumulation: a training step run in micro-batches ([`crate::net::fit::MicroBatches`])
//! adds each micro-batch's parameter gradients into the step's before the optimiser runs once.

use crate::engine::cpu;
use crate::engine::error::Result;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;
use crate::engine::wgsl::{Access, shaders};
use crate::ops::{check_distinct, check_shape, elementwise};

/// sum += x, element by element (both f32 tensors of one shape).
pub fn accumulate(rec: &mut Recorder, x: &Tensor, sum: &Tensor) -> Result<()> {
    check_shape("gradient accumulation", x, sum.shape())?;
    check_distinct("gradient accumulation", &[x], sum)?;
    if rec.cpu_threads().is_some() {
        let (x, sum) = (x.host()?.clone(), sum.host()?.clone());
        return rec.task("accumulate", move || {
            cpu::elementwise::accumulate(&x.read(), &mut sum.write()?);
            Ok(())
        });
    }
    // Whole vec4s: the buffers' padding (Tensor) takes the tail.
    let vec4s = sum.len().div_ceil(4);
    let storage = [Access::Read, Access::ReadWrite];
    elementwise(rec, "accumulate", || shaders::ACCUMULATE.to_string(), &storage, &[vec4s as u32], &[x.buffer()?, sum.buffer()?], vec4s)
}
