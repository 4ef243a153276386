//! ReLU (where it is not fused into a convolution or linear layer) and inverted dropout, both in
//! place, with their backward passes.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::{DropoutMask, Op};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;
use crate::ops::{check_distinct, check_shape};

/// x = max(x, 0), in place.
pub fn relu_forward(rec: &mut Recorder, x: &Tensor) -> Result<()> {
    rec.record(Op::Relu { x })
}

/// grad = 0 wherever the ReLU's output y is 0, in place: the gradient before the ReLU.
pub fn relu_backward(rec: &mut Recorder, y: &Tensor, grad: &Tensor) -> Result<()> {
    check_shape("relu backward", grad, y.shape())?;
    check_distinct("relu backward", &[y], grad)?;
    rec.record(Op::ReluBackward { y, grad })
}

/// Inverted dropout as `nn.Dropout(rate)` in training mode: keeps each element with probability
/// 1 − rate and scales it by 1 / (1 − rate). In evaluation mode the layer is the identity and
/// records nothing. The mask comes from a hash of (seed, element index), so the backward pass with
/// the same seed reproduces it without storing it; use a new seed every step. `first` is the
/// index of the tensor's first element in the whole batch's: a micro-batch starting at row r of a
/// batch of images of n values each passes r·n, and draws the rows the whole batch would.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub rate: f32,
}

impl Dropout {
    fn mask(&self, seed: u32, first: u32) -> Result<DropoutMask> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(EngineError::shape("dropout", format!("rate must be in [0, 1), got {}", self.rate)));
        }
        let threshold = (self.rate as f64 * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
        let scale = (1.0 / (1.0 - self.rate as f64)) as f32;
        Ok(DropoutMask { seed, threshold, scale, first })
    }

    fn record(&self, rec: &mut Recorder, values: &Tensor, seed: u32, first: u32) -> Result<()> {
        let mask = self.mask(seed, first)?;
        rec.record(Op::Dropout { values, mask })
    }

    /// Drops and scales x in place (training mode).
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor, seed: u32, first: u32) -> Result<()> {
        self.record(rec, x, seed, first)
    }

    /// Applies the same mask and scale to the gradient, in place.
    pub fn backward(&self, rec: &mut Recorder, grad: &Tensor, seed: u32, first: u32) -> Result<()> {
        self.record(rec, grad, seed, first)
    }
}
