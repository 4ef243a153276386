//! The optimiser of a training run and the per-parameter state it keeps on the GPU.

use crate::error::Result;
use crate::gpu::Gpu;
use crate::model::Parameters;
use crate::ops::{Adam, Sgd};
use crate::recorder::Recorder;
use crate::tensor::Tensor;

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
    pub(crate) fn new(gpu: &Gpu, optimizer: Optimizer, params: &Parameters) -> Result<Self> {
        let first = params.zeros_like(gpu, "optimiser state")?;
        let second = match optimizer {
            Optimizer::Adam(_) => params.zeros_like(gpu, "second moment")?,
            Optimizer::Sgd(_) => Vec::new(),
        };
        Ok(OptimizerState { optimizer, first, second, steps: 0 })
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
