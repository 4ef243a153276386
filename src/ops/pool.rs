//! Max and average pooling (PyTorch's `MaxPool2d`, `AvgPool2d`, and global average pooling as
//! `AdaptiveAvgPool2d((1, 1))`), forward and backward.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::{Op, PoolShape};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};
use crate::ops::{check_distinct, check_shape};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    /// Padding counts as zeros and the divisor is always kernel² (PyTorch's default).
    Average,
}

/// A pooling window. Global average pooling is `Pool2d::global(h, w)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    pub kind: PoolKind,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Pool2d {
    pub fn max(kernel: usize, stride: usize, padding: usize) -> Self {
        Pool2d { kind: PoolKind::Max, kernel_h: kernel, kernel_w: kernel, stride, padding }
    }

    pub fn average(kernel: usize, stride: usize, padding: usize) -> Self {
        Pool2d { kind: PoolKind::Average, kernel_h: kernel, kernel_w: kernel, stride, padding }
    }

    /// Averages each whole h×w plane to one value.
    pub fn global(h: usize, w: usize) -> Self {
        Pool2d { kind: PoolKind::Average, kernel_h: h, kernel_w: w, stride: 1, padding: 0 }
    }

    /// Output height and width for an h×w input, or why there is none.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let (kh, kw, p) = (self.kernel_h, self.kernel_w, self.padding);
        if kh == 0 || kw == 0 || self.stride == 0 {
            return Err(EngineError::shape("pool", format!("kernel and stride must be positive: {self:?}")));
        }
        // PyTorch: padding at most half the kernel, so no window lies entirely in padding.
        if 2 * p > kh || 2 * p > kw {
            return Err(EngineError::shape("pool", format!("padding {p} must be at most half the kernel {kh}×{kw}")));
        }
        if kh > h + 2 * p || kw > w + 2 * p {
            return Err(EngineError::shape(
                "pool",
                format!("window {kh}×{kw} is larger than the padded input {}×{} ({h}×{w} plus padding {p})", h + 2 * p, w + 2 * p),
            ));
        }
        Ok(((h + 2 * p - kh) / self.stride + 1, (w + 2 * p - kw) / self.stride + 1))
    }

    /// Checks x (N, C, h, w) against y and returns the pooling's sizes.
    fn shape(&self, x: &Tensor, y: &Tensor) -> Result<PoolShape> {
        let s = x.shape();
        if s.len() != 4 {
            return Err(EngineError::shape("pool", format!("input must be NCHW, got {s:?}")));
        }
        let (oh, ow) = self.output_size(s[2], s[3])?;
        check_shape("pool output", y, &[s[0], s[1], oh, ow])?;
        // The kernels split element indices into planes with index_math.wgsl's divmod.
        crate::ops::check_divided("pool", &format!("planes ({} images × {} channels)", s[0], s[1]), s[0].saturating_mul(s[1]))?;
        let (kh, kw, stride, padding) = (self.kernel_h, self.kernel_w, self.stride, self.padding);
        Ok(PoolShape { planes: s[0] * s[1], h: s[2], w: s[3], oh, ow, kh, kw, stride, padding })
    }

    /// y = pool(x). Max pooling also records each window's winner in `argmax` (u32, y's shape) for
    /// the backward pass; average pooling takes `None`.
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor, y: &Tensor, argmax: Option<&Tensor>) -> Result<()> {
        let shape = self.shape(x, y)?;
        check_distinct("pool forward", &[x], y)?;
        if let Some(argmax) = argmax {
            check_distinct("pool forward", &[x, y], argmax)?;
        }
        match self.argmax_for("pool forward", argmax, y)? {
            Some(argmax) => rec.record(Op::MaxPool { shape, x, y, argmax }),
            None => rec.record(Op::AvgPool { shape, x, y }),
        }
    }

    /// grad_x = the gradient through the pooling (overwritten).
    pub fn backward(&self, rec: &mut Recorder, grad_y: &Tensor, argmax: Option<&Tensor>, grad_x: &Tensor) -> Result<()> {
        let shape = self.shape(grad_x, grad_y)?;
        check_distinct("pool backward", &[grad_y], grad_x)?;
        if let Some(argmax) = argmax {
            check_distinct("pool backward", &[argmax], grad_x)?;
        }
        match self.argmax_for("pool backward", argmax, grad_y)? {
            Some(argmax) => rec.record(Op::MaxPoolBackward { shape, grad_y, argmax, grad_x }),
            None => rec.record(Op::AvgPoolBackward { shape, grad_y, grad_x }),
        }
    }
}

impl Pool2d {
    /// The argmax tensor this pooling takes, checked against its outputs `y`: max pooling needs
    /// one, average pooling none.
    fn argmax_for<'t>(&self, what: &str, argmax: Option<&'t Tensor>, y: &Tensor) -> Result<Option<&'t Tensor>> {
        match (self.kind, argmax) {
            (PoolKind::Max, Some(argmax)) => check_argmax(argmax, y).map(|()| Some(argmax)),
            (PoolKind::Average, None) => Ok(None),
            _ => Err(EngineError::shape(what, "max pooling needs an argmax tensor; average pooling takes none")),
        }
    }
}

fn check_argmax(argmax: &Tensor, y: &Tensor) -> Result<()> {
    check_shape("pool argmax", argmax, y.shape())?;
    if argmax.dtype() != DType::U32 {
        return Err(EngineError::shape("pool argmax", "must be a u32 tensor"));
    }
    Ok(())
}
