//! Optimiser updates with torch.optim's exact semantics, one dispatch per parameter tensor.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::{AdamStep, Op, SgdStep};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;
use crate::ops::{check_distinct, check_shape};

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
        let step = SgdStep { lr: self.lr, momentum: self.momentum, weight_decay: self.weight_decay };
        rec.record(Op::Sgd { step, param, grad, velocity })
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
        let step = AdamStep {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            bias_correction1: bias_correction1 as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
        };
        rec.record(Op::Adam { step, param, grad, m, v })
    }
}
