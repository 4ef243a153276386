//! Channel concatenation for Inception blocks. The engine's convolutions can write straight into a
//! channel slice (see [`crate::engine::tensor::Tensor::channels`]), so this copy is needed only where a
//! path's output is not produced by a convolution, and for the backward pass out of a slice.

use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::engine::cpu;
use crate::ops::{check_distinct, elementwise, slab};
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::View;

/// dst = src (or dst += src with `accumulate`), channel range to channel range of NCHW tensors.
pub fn copy_channels(rec: &mut Recorder, src: View, dst: View, accumulate: bool) -> Result<()> {
    let (sb, sc, sh, sw) = src.dims();
    let (db, dc, dh, dw) = dst.dims();
    if (sb, sc, sh, sw) != (db, dc, dh, dw) {
        return Err(EngineError::shape(
            "concat",
            format!("source {sb}×{sc}×{sh}×{sw} and destination {db}×{dc}×{dh}×{dw} channel ranges differ"),
        ));
    }
    check_distinct("concat", &[src.tensor], dst.tensor)?;
    if rec.cpu_threads().is_some() {
        let (s, ss, d, ds) = (src.tensor.host()?.clone(), slab(&src), dst.tensor.host()?.clone(), slab(&dst));
        return rec.task("copy_channels", move || {
            cpu::elementwise::copy_channels(&s.read(), ss, &mut d.write()?, ds, (sb, sc, sh * sw), accumulate);
            Ok(())
        });
    }
    let params = [sb, sc, sh * sw, accumulate as usize, src.offset, src.total_channels(), dst.offset, dst.total_channels()]
        .map(|v| v as u32);
    let storage = [Access::Read, Access::ReadWrite];
    let buffers = [src.tensor.buffer()?, dst.tensor.buffer()?];
    elementwise(rec, "copy_channels", || shaders::COPY_CHANNELS.to_string(), &storage, &params, &buffers, sb * sc * sh * sw)
}
