//! ReLU (where it is not fused into a convolution or linear layer) and inverted dropout, both in
//! place, with their backward passes.

use crate::engine::cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::ops::{check_distinct, check_shape, elementwise};
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::Tensor;

fn relu(rec: &mut Recorder, y: &wgpu::Buffer, target: &Tensor, backward: bool) -> Result<()> {
    // Whole vec4s: the buffers' padding (Tensor) takes the tail.
    let vec4s = target.len().div_ceil(4);
    let params = [vec4s as u32, backward as u32];
    elementwise(rec, "relu", || shaders::RELU.to_string(), &[Access::Read, Access::ReadWrite], &params, &[y, target.buffer()?], vec4s)
}

/// x = max(x, 0), in place.
pub fn relu_forward(rec: &mut Recorder, x: &Tensor) -> Result<()> {
    if rec.cpu_threads().is_some() {
        let x = x.host()?.clone();
        return rec.task("relu", move || {
            cpu::elementwise::relu_forward(&mut x.write()?);
            Ok(())
        });
    }
    // The kernel's read-only input is unused in the forward direction; any other buffer will do,
    // but WebGPU forbids binding x twice, so it gets a tiny placeholder.
    let placeholder = rec.gpu()?.placeholder();
    relu(rec, &placeholder, x, false)
}

/// grad = 0 wherever the ReLU's output y is 0, in place: the gradient before the ReLU.
pub fn relu_backward(rec: &mut Recorder, y: &Tensor, grad: &Tensor) -> Result<()> {
    check_shape("relu backward", grad, y.shape())?;
    check_distinct("relu backward", &[y], grad)?;
    if rec.cpu_threads().is_some() {
        let (y, grad) = (y.host()?.clone(), grad.host()?.clone());
        return rec.task("relu_backward", move || {
            cpu::elementwise::relu_backward(&y.read(), &mut grad.write()?);
            Ok(())
        });
    }
    relu(rec, y.buffer()?, grad, true)
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
    fn params(&self, values: &Tensor, seed: u32, first: u32) -> Result<[u32; 5]> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(EngineError::shape("dropout", format!("rate must be in [0, 1), got {}", self.rate)));
        }
        let threshold = (self.rate as f64 * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
        let scale = (1.0 / (1.0 - self.rate as f64)) as f32;
        Ok([values.len() as u32, seed, threshold, scale.to_bits(), first])
    }

    fn record(&self, rec: &mut Recorder, values: &Tensor, seed: u32, first: u32) -> Result<()> {
        let params = self.params(values, seed, first)?;
        if rec.cpu_threads().is_some() {
            let (values, [_, seed, threshold, scale, first]) = (values.host()?.clone(), params);
            return rec.task("dropout", move || {
                cpu::elementwise::dropout(&mut values.write()?, seed, first, threshold, f32::from_bits(scale));
                Ok(())
            });
        }
        elementwise(rec, "dropout", || shaders::DROPOUT.to_string(), &[Access::ReadWrite], &params, &[values.buffer()?], values.len())
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
