//! Optimiser updates with torch.optim's exact semantics, one dispatch per parameter tensor.

use crate::engine::cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::ops::{check_distinct, check_shape, elementwise};
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::Tensor;

/// `torch.optim.SGD(lr, momentum, weight_decay)` (dampening 0, no Nesterov).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

impl Sgd {
    /// One update of `param` from `grad`; `velocity` (param's shape, zeros at first) is the
    /// momentum buffer.
    pub fn step(&self, rec: &mut Recorder, param: &Tensor, grad: &Tensor, velocity: &Tensor) -> Result<()> {
        check_shape("sgd gradient", grad, param.shape())?;
        check_shape("sgd momentum buffer", velocity, param.shape())?;
        check_distinct("sgd", &[grad], param)?;
        check_distinct("sgd", &[grad, param], velocity)?;
        if rec.cpu_threads().is_some() {
            let (p, g, v, sgd) = (param.host()?.clone(), grad.host()?.clone(), velocity.host()?.clone(), *self);
            return rec.task("sgd", move || {
                cpu::elementwise::sgd(&mut p.write()?, &g.read(), &mut v.write()?, sgd.lr, sgd.momentum, sgd.weight_decay);
                Ok(())
            });
        }
        let params = [param.len() as u32, self.lr.to_bits(), self.momentum.to_bits(), self.weight_decay.to_bits()];
        let storage = [Access::ReadWrite, Access::Read, Access::ReadWrite];
        let buffers = [param.buffer()?, grad.buffer()?, velocity.buffer()?];
        elementwise(rec, "sgd", || shaders::SGD.to_string(), &storage, &params, &buffers, param.len())
    }
}

/// `torch.optim.Adam(lr, betas, eps, weight_decay)` (L2 weight decay, not AdamW).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

impl Default for Adam {
    fn default() -> Self {
        Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

impl Adam {
    /// Update number `t` (1 for the first) of `param`; `m` and `v` are the moment buffers
    /// (param's shape, zeros at first).
    pub fn step(&self, rec: &mut Recorder, param: &Tensor, grad: &Tensor, m: &Tensor, v: &Tensor, t: u32) -> Result<()> {
        if t == 0 {
            return Err(EngineError::shape("adam", "steps are numbered from 1"));
        }
        for (what, tensor) in [("gradient", grad), ("first moment", m), ("second moment", v)] {
            check_shape(&format!("adam {what}"), tensor, param.shape())?;
        }
        check_distinct("adam", &[grad], param)?;
        check_distinct("adam", &[grad, param], m)?;
        check_distinct("adam", &[grad, param, m], v)?;
        let bias_correction1 = 1.0 - (self.beta1 as f64).powi(t as i32);
        let bias_correction2 = 1.0 - (self.beta2 as f64).powi(t as i32);
        let params = [
            param.len() as u32,
            self.lr.to_bits(),
            self.beta1.to_bits(),
            self.beta2.to_bits(),
            self.eps.to_bits(),
            self.weight_decay.to_bits(),
            (bias_correction1 as f32).to_bits(),
            (bias_correction2.sqrt() as f32).to_bits(),
        ];
        if rec.cpu_threads().is_some() {
            let step = cpu::elementwise::AdamStep {
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                bias_correction1: bias_correction1 as f32,
                bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            };
            let [p, g, m, v] = [param, grad, m, v].map(|t| t.host().cloned());
            let (p, g, m, v) = (p?, g?, m?, v?);
            return rec.task("adam", move || {
                cpu::elementwise::adam(step, &mut p.write()?, &g.read(), &mut m.write()?, &mut v.write()?);
                Ok(())
            });
        }
        let storage = [Access::ReadWrite, Access::Read, Access::ReadWrite, Access::ReadWrite];
        let buffers = [param.buffer()?, grad.buffer()?, m.buffer()?, v.buffer()?];
        elementwise(rec, "adam", || shaders::ADAM.to_string(), &storage, &params, &buffers, param.len())
    }
}
