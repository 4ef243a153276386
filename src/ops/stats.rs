//! A tensor summarised where it lives (on the WGSL engine one workgroup, `tensor_stats.wgsl`): what per-layer
//! statistics read back instead of whole activations (`train::layer_stats`).

use crate::engine::error::{EngineError, Result};
use crate::engine::op::Op;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};

fn check(what: &str, x: &Tensor, rows: usize, out: &Tensor, slot: usize) -> Result<()> {
    let fits = u32::try_from(x.len()).is_ok() && rows > 0 && x.len() % rows == 0;
    if !fits || x.dtype() != DType::F32 || out.dtype() != DType::F32 || out.len() < 4 * (slot + 1) {
        return Err(EngineError::shape(what, format!("{:?} as {rows} rows into slot {slot} of {} values", x.shape(), out.len())));
    }
    Ok(())
}

/// out[4·slot..] = (Σx, Σx², the number of columns of `x` as [rows, cols] that are ≤ 0 in every
/// row, 0). With `rows` the batch, the columns are one image's units, and a column ≤ 0 for every
/// image is a ReLU unit that was off for the whole batch ("dead").
pub fn tensor_stats(rec: &mut Recorder, x: &Tensor, rows: usize, out: &Tensor, slot: usize) -> Result<()> {
    check("tensor statistics", x, rows, out, slot)?;
    rec.record(Op::TensorStats { rows, slot, adam: None, x, y: x, out })
}

/// out[4·slot..] = (Σv, Σv², _, 0) for Adam's update direction v = a·m / (√(b·s) + eps), from its
/// first and second moments `m` and `s`, where a = 1 / (1 − β₁ᵗ) and b = 1 / (1 − β₂ᵗ): the last
/// step changed the parameter by lr·v.
pub fn adam_update_stats(rec: &mut Recorder, m: &Tensor, s: &Tensor, (a, b, eps): (f32, f32, f32), out: &Tensor, slot: usize) -> Result<()> {
    check("Adam update statistics", m, 1, out, slot)?;
    if s.len() != m.len() {
        return Err(EngineError::shape("Adam update statistics", format!("moments of {} and {} values", m.len(), s.len())));
    }
    rec.record(Op::TensorStats { rows: 1, slot, adam: Some((a, b, eps)), x: m, y: s, out })
}
