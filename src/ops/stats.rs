//! A tensor summarised on the GPU in one workgroup (`tensor_stats.wgsl`): what per-layer
//! statistics read back instead of whole activations (`train::layer_stats`).

use crate::engine::cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::ops::elementwise;
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::{DType, Tensor};

fn check(what: &str, x: &Tensor, rows: usize, out: &Tensor, slot: usize) -> Result<()> {
    let fits = u32::try_from(x.len()).is_ok() && rows > 0 && x.len() % rows == 0;
    if !fits || x.dtype() != DType::F32 || out.dtype() != DType::F32 || out.len() < 4 * (slot + 1) {
        return Err(EngineError::shape(what, format!("{:?} as {rows} rows into slot {slot} of {} values", x.shape(), out.len())));
    }
    Ok(())
}

fn record(rec: &mut Recorder, x: &Tensor, y: &Tensor, rows: usize, out: &Tensor, slot: usize, adam: Option<(f32, f32, f32)>) -> Result<()> {
    if rec.cpu_threads().is_some() {
        let [x, y, out] = [x, y, out].map(|t| t.host().cloned());
        let (x, y, out) = (x?, y?, out?);
        return rec.task("tensor_stats", move || {
            let (xs, ys) = (x.read(), if x.same(&y) { None } else { Some(y.read()) });
            let ys: &[f32] = ys.as_deref().map_or(&xs, |v| v);
            cpu::elementwise::tensor_stats(&xs, ys, rows, adam, &mut out.write()?[4 * slot..]);
            Ok(())
        });
    }
    let (a, b, eps) = adam.unwrap_or((1.0, 1.0, 0.0));
    let params = [rows as u32, (x.len() / rows) as u32, slot as u32, adam.is_some() as u32, a.to_bits(), b.to_bits(), eps.to_bits()];
    let storage = [Access::Read, Access::Read, Access::ReadWrite];
    // One workgroup of 256 invocations.
    elementwise(rec, "tensor_stats", || shaders::TENSOR_STATS.to_string(), &storage, &params, &[x.buffer()?, y.buffer()?, out.buffer()?], 256)
}

/// out[4·slot..] = (Σx, Σx², the number of columns of `x` as [rows, cols] that are ≤ 0 in every
/// row, 0). With `rows` the batch, the columns are one image's units, and a column ≤ 0 for every
/// image is a ReLU unit that was off for the whole batch ("dead").
pub fn tensor_stats(rec: &mut Recorder, x: &Tensor, rows: usize, out: &Tensor, slot: usize) -> Result<()> {
    check("tensor statistics", x, rows, out, slot)?;
    record(rec, x, x, rows, out, slot, None)
}

/// out[4·slot..] = (Σv, Σv², _, 0) for Adam's update direction v = a·m / (√(b·s) + eps), from its
/// first and second moments `m` and `s`, where a = 1 / (1 − β₁ᵗ) and b = 1 / (1 − β₂ᵗ): the last
/// step changed the parameter by lr·v.
pub fn adam_update_stats(rec: &mut Recorder, m: &Tensor, s: &Tensor, (a, b, eps): (f32, f32, f32), out: &Tensor, slot: usize) -> Result<()> {
    check("Adam update statistics", m, 1, out, slot)?;
    if s.len() != m.len() {
        return Err(EngineError::shape("Adam update statistics", format!("moments of {} and {} values", m.len(), s.len())));
    }
    record(rec, m, s, 1, out, slot, Some((a, b, eps)))
}
