//! The optimiser of a training run and the per-parameter state it keeps on the device.

use crate::engine::error::{EngineError, Result};
use crate::engine::device::Device;
use crate::model::Parameters;
use crate::ops::{self, Adam, Sgd};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd(Sgd),
    Adam(Adam),
}

impl Optimizer {
    pub fn lr(&self) -> f32 {
        match self {
            Optimizer::Sgd(o) => o.lr,
            Optimizer::Adam(o) => o.lr,
        }
    }
}

impl Optimizer {
    /// Refuses hyperparameters no update can use (a rate that is not a finite positive number, a
    /// negative decay, momentum or betas outside [0, 1)), naming the knob and what it must be.
    pub fn check(&self) -> Result<()> {
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(EngineError::setting(
                "learning rate",
                format!("{lr} is not a finite positive number; d2l trains these nets with 0.001 (Adam) or 0.01–0.1 (SGD)"),
            ));
        }
        let (weight_decay, fractions) = match self {
            Optimizer::Sgd(o) => (o.weight_decay, vec![("momentum", o.momentum)]),
            Optimizer::Adam(o) => (o.weight_decay, vec![("Adam's beta1", o.beta1), ("Adam's beta2", o.beta2)]),
        };
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(EngineError::setting("weight decay", format!("{weight_decay} must be a finite number ≥ 0 (0 turns it off; 5e-4 is usual)")));
        }
        for (name, value) in fractions {
            if !(0.0..1.0).contains(&value) {
                return Err(EngineError::setting(name, format!("{value} must be at least 0 and below 1 (0.9 is usual)")));
            }
        }
        if let Optimizer::Adam(o) = self
            && !(o.eps.is_finite() && o.eps > 0.0)
        {
            return Err(EngineError::setting("Adam's epsilon", format!("{} must be a finite positive number (1e-8 is usual)", o.eps)));
        }
        Ok(())
    }

    /// The same optimiser with another learning rate.
    pub fn with_lr(self, lr: f32) -> Optimizer {
        match self {
            Optimizer::Sgd(o) => Optimizer::Sgd(Sgd { lr, ..o }),
            Optimizer::Adam(o) => Optimizer::Adam(Adam { lr, ..o }),
        }
    }

    /// Buffers the optimiser keeps per parameter (SGD's momentum; Adam's two moments).
    pub fn moments(&self) -> usize {
        match self {
            Optimizer::Sgd(_) => 1,
            Optimizer::Adam(_) => 2,
        }
    }
}

impl std::fmt::Display for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Optimizer::Sgd(o) => write!(f, "SGD(lr={}, momentum={}, weight_decay={})", o.lr, o.momentum, o.weight_decay),
            Optimizer::Adam(o) => write!(f, "Adam(lr={}, weight_decay={})", o.lr, o.weight_decay),
        }
    }
}

/// The optimiser with its buffers: SGD's momentum, or Adam's two moments and step count.
pub(crate) struct OptimizerState {
    optimizer: Optimizer,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: u32,
}

impl OptimizerState {
    pub(crate) fn new(device: &Device, optimizer: Optimizer, params: &Parameters) -> Result<Self> {
        let first = params.zeros_like(device, "optimiser state")?;
        let second = match optimizer {
            Optimizer::Adam(_) => params.zeros_like(device, "second moment")?,
            Optimizer::Sgd(_) => Vec::new(),
        };
        Ok(OptimizerState { optimizer, first, second, steps: 0 })
    }

    /// The same kind of optimiser with other hyperparameters (its buffers stay).
    pub(crate) fn set(&mut self, optimizer: Optimizer) {
        self.optimizer = optimizer;
    }

    /// The buffers and the update count, for a checkpoint.
    pub(crate) fn state(&self) -> (&[Tensor], &[Tensor], u32) {
        (&self.first, &self.second, self.steps)
    }

    /// Restores saved buffers (one per parameter, Adam's second moments only for Adam) and the
    /// update count.
    pub(crate) fn restore(&mut self, device: &Device, first: &[Vec<f32>], second: &[Vec<f32>], steps: u32) -> Result<()> {
        let saved = |what: &str, tensors: &[Tensor], values: &[Vec<f32>]| -> Result<()> {
            if tensors.len() != values.len() {
                return Err(EngineError::Weights(format!("{} {what} buffers saved for {} parameters", values.len(), tensors.len())));
            }
            tensors.iter().zip(values).try_for_each(|(t, v)| t.write_f32(device, v))
        };
        saved("optimiser", &self.first, first)?;
        saved("second-moment", &self.second, second)?;
        self.steps = steps;
        Ok(())
    }

    /// Records into `out[slot]` the sums of the last update of parameter `i` divided by the
    /// learning rate (`ops::tensor_stats`'s Σv²), and returns the learning rate: Adam's update
    /// direction from its moments; SGD's velocity, or without momentum the gradient (weight decay
    /// then left out).
    pub(crate) fn record_update(&self, rec: &mut Recorder, i: usize, grad: &Tensor, out: &Tensor, slot: usize) -> Result<f32> {
        match &self.optimizer {
            Optimizer::Adam(adam) => {
                let t = self.steps.max(1) as i32;
                let corrections = (1.0 / (1.0 - adam.beta1.powi(t)), 1.0 / (1.0 - adam.beta2.powi(t)), adam.eps);
                ops::adam_update_stats(rec, &self.first[i], &self.second[i], corrections, out, slot)?;
                Ok(adam.lr)
            }
            Optimizer::Sgd(sgd) => {
                ops::tensor_stats(rec, if sgd.momentum != 0.0 { &self.first[i] } else { grad }, 1, out, slot)?;
                Ok(sgd.lr)
            }
        }
    }

    /// Records one update of every parameter from its gradient.
    pub(crate) fn step(&mut self, rec: &mut Recorder, params: &Parameters, grads: &[Tensor]) -> Result<()> {
        self.steps += 1;
        for (i, (param, grad)) in params.tensors.iter().zip(grads).enumerate() {
            match &self.optimizer {
                Optimizer::Sgd(sgd) => sgd.step(rec, param, grad, &self.first[i])?,
                Optimizer::Adam(adam) => adam.step(rec, param, grad, &self.first[i], &self.second[i], self.steps)?,
            }
        }
        Ok(())
    }
}
