//! Channel concatenation for Inception blocks. The engine's convolutions can write straight into a
//! channel slice (see [`crate::engine::tensor::Tensor::channels`]), so this copy is needed only where a
//! path's output is not produced by a convolution, and for the backward pass out of a slice.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::Op;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::View;
use crate::ops::check_distinct;

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
    rec.record(Op::CopyChannels { src, dst, accumulate })
}
