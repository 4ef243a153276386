//! Fully connected layers (PyTorch's `nn.Linear`, weight [out, in]) on a general matrix product.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::{GemmShape, Op};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;
use crate::ops::{check_distinct, check_shape, sum_channels};

/// C (m×n) = op(A) · op(B), row-major, where op transposes when asked: A is stored k×m when
/// `trans_a`, B is stored n×k when `trans_b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matmul {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
}

impl Matmul {
    /// c = op(a)·op(b) (+ bias per column, then ReLU).
    pub fn record(&self, rec: &mut Recorder, a: &Tensor, b: &Tensor, bias: Option<&Tensor>, relu: bool, c: &Tensor) -> Result<()> {
        let Matmul { m, n, k, .. } = *self;
        if m == 0 || n == 0 || k == 0 {
            return Err(EngineError::shape("matmul", format!("dimensions must be positive: {m}×{n}×{k}")));
        }
        for (name, t, len) in [("A", a, m * k), ("B", b, k * n), ("C", c, m * n)] {
            if t.len() != len {
                return Err(EngineError::shape(
                    "matmul",
                    format!("{name} of a {m}×{n}×{k} product needs {len} elements, got shape {:?}", t.shape()),
                ));
            }
        }
        if let Some(bias) = bias {
            check_shape("matmul bias", bias, &[n])?;
        }
        check_distinct("matmul", &[a, b], c)?;
        let Matmul { m, n, k, trans_a, trans_b } = *self;
        rec.record(Op::Matmul { shape: GemmShape { m, n, k, trans_a, trans_b }, a, b, bias, relu, c })
    }
}

/// One fully connected layer (+ a following ReLU), as `nn.Linear(in_features, out_features)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub relu: bool,
}

impl Linear {
    pub fn weight_shape(&self) -> [usize; 2] {
        [self.out_features, self.in_features]
    }

    fn batch(&self, what: &str, t: &Tensor, features: usize) -> Result<usize> {
        let s = t.shape();
        if s.len() < 2 || s[1..].iter().product::<usize>() != features {
            return Err(EngineError::shape(
                format!("linear {what}"),
                format!("expected [batch, {features}] (or a tensor flattening to it), got {s:?}"),
            ));
        }
        Ok(s[0])
    }

    fn check_batches(&self, a: usize, b: usize) -> Result<usize> {
        if a != b {
            return Err(EngineError::shape("linear", format!("batch sizes differ: {a} and {b}")));
        }
        Ok(a)
    }

    /// y = x · weightᵀ + bias (then ReLU). x may be NCHW: it is flattened as `nn.Flatten` does.
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor, weight: &Tensor, bias: &Tensor, y: &Tensor) -> Result<()> {
        let batch = self.check_batches(self.batch("input", x, self.in_features)?, self.batch("output", y, self.out_features)?)?;
        check_shape("linear weight", weight, &self.weight_shape())?;
        let mm = Matmul { m: batch, n: self.out_features, k: self.in_features, trans_a: false, trans_b: true };
        mm.record(rec, x, weight, Some(bias), self.relu, y)
    }

    /// grad_x = grad_y · weight (grad_y must already include the ReLU mask).
    pub fn backward_input(&self, rec: &mut Recorder, grad_y: &Tensor, weight: &Tensor, grad_x: &Tensor) -> Result<()> {
        let batch = self.check_batches(self.batch("output gradient", grad_y, self.out_features)?, self.batch("input gradient", grad_x, self.in_features)?)?;
        check_shape("linear weight", weight, &self.weight_shape())?;
        let mm = Matmul { m: batch, n: self.in_features, k: self.out_features, trans_a: false, trans_b: false };
        mm.record(rec, grad_y, weight, None, false, grad_x)
    }

    /// grad_weight = grad_yᵀ · x.
    pub fn backward_weight(&self, rec: &mut Recorder, grad_y: &Tensor, x: &Tensor, grad_weight: &Tensor) -> Result<()> {
        let batch = self.check_batches(self.batch("output gradient", grad_y, self.out_features)?, self.batch("input", x, self.in_features)?)?;
        check_shape("linear weight gradient", grad_weight, &self.weight_shape())?;
        let mm = Matmul { m: self.out_features, n: self.in_features, k: batch, trans_a: true, trans_b: false };
        mm.record(rec, grad_y, x, None, false, grad_weight)
    }

    /// grad_bias = grad_y summed over the batch.
    pub fn backward_bias(&self, rec: &mut Recorder, grad_y: &Tensor, grad_bias: &Tensor) -> Result<()> {
        let batch = self.batch("output gradient", grad_y, self.out_features)?;
        check_shape("linear bias gradient", grad_bias, &[self.out_features])?;
        let as_nchw = grad_y.reshape(&[batch, self.out_features, 1, 1])?;
        sum_channels(rec, as_nchw.view()?, grad_bias)
    }
}
