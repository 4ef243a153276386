//! Max and average pooling (PyTorch's `MaxPool2d`, `AvgPool2d`, and global average pooling as
//! `AdaptiveAvgPool2d((1, 1))`), forward and backward.

use crate::engine::cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::ops::{check_distinct, check_shape, elementwise, zero};
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::{DType, Tensor};

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

    /// Checks x (N, C, h, w) against y and returns the kernel parameters (pool_params.wgsl; the
    /// scatter class of max_pool_backward.wgsl left zero).
    fn params(&self, x: &Tensor, y: &Tensor) -> Result<[u32; 13]> {
        let s = x.shape();
        if s.len() != 4 {
            return Err(EngineError::shape("pool", format!("input must be NCHW, got {s:?}")));
        }
        let (oh, ow) = self.output_size(s[2], s[3])?;
        check_shape("pool output", y, &[s[0], s[1], oh, ow])?;
        // The kernels split element indices into planes with index_math.wgsl's divmod.
        crate::ops::check_divided("pool", &format!("planes ({} images × {} channels)", s[0], s[1]), s[0].saturating_mul(s[1]))?;
        Ok([s[0] * s[1], s[2], s[3], oh, ow, self.kernel_h, self.kernel_w, self.stride, self.padding, 0, 0, 0, 0].map(|v| v as u32))
    }

    /// y = pool(x). Max pooling also records each window's winner in `argmax` (u32, y's shape) for
    /// the backward pass; average pooling takes `None`.
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor, y: &Tensor, argmax: Option<&Tensor>) -> Result<()> {
        let params = self.params(x, y)?;
        check_distinct("pool forward", &[x], y)?;
        if let Some(argmax) = argmax {
            check_distinct("pool forward", &[x, y], argmax)?;
        }
        let argmax = self.argmax_for("pool forward", argmax, y)?;
        if rec.cpu_threads().is_some() {
            return self.cpu_forward(rec, &params, x, y, argmax);
        }
        match argmax {
            Some(argmax) => {
                let storage = [Access::Read, Access::ReadWrite, Access::ReadWrite];
                let buffers = [x.buffer()?, y.buffer()?, argmax.buffer()?];
                let (kh, kw, stride) = (self.kernel_h, self.kernel_w, self.stride);
                let key = format!("max_pool_forward/{kh}×{kw}/{stride}");
                let [planes, _, _, oh, ow, ..] = params.map(|v| v as usize);
                let invocations = shaders::max_pool_forward_invocations(planes, oh, ow);
                elementwise(rec, &key, || with_params(&shaders::max_pool_forward_source(kh, kw, stride)), &storage, &params, &buffers, invocations)
            }
            None => {
                let storage = [Access::Read, Access::ReadWrite];
                let buffers = [x.buffer()?, y.buffer()?];
                elementwise(rec, "avg_pool_forward", || with_params(shaders::AVG_POOL_FORWARD), &storage, &params, &buffers, y.len())
            }
        }
    }

    /// grad_x = the gradient through the pooling (overwritten).
    pub fn backward(&self, rec: &mut Recorder, grad_y: &Tensor, argmax: Option<&Tensor>, grad_x: &Tensor) -> Result<()> {
        let params = self.params(grad_x, grad_y)?;
        check_distinct("pool backward", &[grad_y], grad_x)?;
        if let Some(argmax) = argmax {
            check_distinct("pool backward", &[argmax], grad_x)?;
        }
        let argmax = self.argmax_for("pool backward", argmax, grad_y)?;
        if rec.cpu_threads().is_some() {
            return self.cpu_backward(rec, &params, grad_y, argmax, grad_x);
        }
        match argmax {
            Some(argmax) => {
                let storage = [Access::Read, Access::Read, Access::ReadWrite];
                let buffers = [grad_y.buffer()?, argmax.buffer()?, grad_x.buffer()?];
                let disjoint = self.padding == 0 && self.kernel_h <= self.stride && self.kernel_w <= self.stride;
                if disjoint {
                    // Each input lies in at most one window: scatter per output, cell by cell.
                    return elementwise(rec, "max_pool_backward_cells", || with_params(shaders::MAX_POOL_BACKWARD_CELLS), &storage, &params, &buffers, grad_y.len());
                }
                // Overlapping windows: zero grad_x, then scatter one class of outputs at a time,
                // classes of outputs `step` apart, whose windows are disjoint.
                zero(rec, grad_x)?;
                let [planes, _, _, oh, ow, ..] = params.map(|v| v as usize);
                let (step_y, step_x) = (self.kernel_h.div_ceil(self.stride), self.kernel_w.div_ceil(self.stride));
                for class_y in 0..step_y.min(oh) {
                    for class_x in 0..step_x.min(ow) {
                        let mut params = params;
                        params[9..13].copy_from_slice(&[class_y, class_x, step_y, step_x].map(|v| v as u32));
                        let outputs = planes * (oh - class_y).div_ceil(step_y) * (ow - class_x).div_ceil(step_x);
                        elementwise(rec, "max_pool_backward", || with_params(shaders::MAX_POOL_BACKWARD), &storage, &params, &buffers, outputs)?;
                    }
                }
                Ok(())
            }
            None => {
                let storage = [Access::Read, Access::ReadWrite];
                let buffers = [grad_y.buffer()?, grad_x.buffer()?];
                elementwise(rec, "avg_pool_backward", || with_params(shaders::AVG_POOL_BACKWARD), &storage, &params, &buffers, grad_x.len())
            }
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

    /// The sizes the CPU engine's kernels take, from the checked parameters.
    fn cpu_shape(&self, params: &[u32; 13]) -> cpu::pool::PoolShape {
        let [planes, h, w, oh, ow, ..] = params.map(|v| v as usize);
        cpu::pool::PoolShape { planes, h, w, oh, ow, kh: self.kernel_h, kw: self.kernel_w, stride: self.stride, padding: self.padding }
    }

    fn cpu_forward(&self, rec: &mut Recorder, params: &[u32; 13], x: &Tensor, y: &Tensor, argmax: Option<&Tensor>) -> Result<()> {
        let shape = self.cpu_shape(params);
        let (x, y) = (x.host()?.clone(), y.host()?.clone());
        match argmax {
            Some(argmax) => {
                let argmax = argmax.host()?.clone();
                rec.task("max_pool_forward", move || {
                    cpu::pool::max_forward(&shape, &x.read(), &mut y.write()?, &mut argmax.write()?);
                    Ok(())
                })
            }
            None => rec.task("avg_pool_forward", move || {
                cpu::pool::avg_forward(&shape, &x.read(), &mut y.write()?);
                Ok(())
            }),
        }
    }

    fn cpu_backward(&self, rec: &mut Recorder, params: &[u32; 13], grad_y: &Tensor, argmax: Option<&Tensor>, grad_x: &Tensor) -> Result<()> {
        let shape = self.cpu_shape(params);
        let (gy, gx) = (grad_y.host()?.clone(), grad_x.host()?.clone());
        match argmax {
            Some(argmax) => {
                let argmax = argmax.host()?.clone();
                rec.task("max_pool_backward", move || {
                    cpu::pool::max_backward(&shape, &gy.read(), &argmax.read(), &mut gx.write()?);
                    Ok(())
                })
            }
            None => rec.task("avg_pool_backward", move || {
                cpu::pool::avg_backward(&shape, &gy.read(), &mut gx.write()?);
                Ok(())
            }),
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

fn with_params(kernel: &str) -> String {
    // index_math.wgsl: divmod, for kernels that split element indices.
    format!("{}\n{}\n{kernel}", shaders::INDEX_MATH, shaders::POOL_PARAMS)
}
