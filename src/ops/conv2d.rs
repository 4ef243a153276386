//! 2-D convolution (any square kernel, stride and zero padding, bias, optional fused ReLU):
//! forward, input gradient, weight gradient and bias gradient.

use crate::engine::error::{EngineError, Result};
use crate::engine::op::{ConvShape, Op};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{Tensor, View};
use crate::ops::{check_distinct, check_shape, sum_channels};

/// One convolution layer's hyper-parameters, as PyTorch's `nn.Conv2d` (+ a following ReLU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// Apply ReLU in the forward epilogue.
    pub relu: bool,
}


impl Conv2d {
    /// Output height and width for an h×w input, or why there is none.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        if self.kernel == 0 || self.stride == 0 || self.in_channels == 0 || self.out_channels == 0 {
            return Err(EngineError::shape("conv2d", format!("kernel, stride and channels must be positive: {self:?}")));
        }
        let (ph, pw) = (h + 2 * self.padding, w + 2 * self.padding);
        if self.kernel > ph || self.kernel > pw {
            return Err(EngineError::shape(
                "conv2d",
                format!(
                    "kernel {k}×{k} is larger than the padded input {ph}×{pw} ({h}×{w} plus padding {p})",
                    k = self.kernel,
                    p = self.padding
                ),
            ));
        }
        Ok(((ph - self.kernel) / self.stride + 1, (pw - self.kernel) / self.stride + 1))
    }

    /// PyTorch's weight layout: [out_channels, in_channels, kernel, kernel].
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels, self.kernel, self.kernel]
    }

    /// The convolution's sizes for input `x` and output `y`, checked once.
    fn shape(&self, x: &View, y: &View) -> Result<ConvShape> {
        let (batch, cin, h, w) = x.dims();
        let (yb, cout, yh, yw) = y.dims();
        let (oh, ow) = self.output_size(h, w)?;
        if cin != self.in_channels || cout != self.out_channels || yb != batch || (yh, yw) != (oh, ow) {
            return Err(EngineError::shape(
                "conv2d",
                format!(
                    "{}→{} channels, kernel {} stride {} padding {}: input {batch}×{cin}×{h}×{w} needs output \
                     {batch}×{}×{oh}×{ow}, got {yb}×{cout}×{yh}×{yw}",
                    self.in_channels, self.out_channels, self.kernel, self.stride, self.padding, self.out_channels
                ),
            ));
        }
        // The kernels divide indices in f32 (index_math.wgsl), exact below 2^24.
        let largest = (batch * h.max(oh) * w.max(ow)).max(self.out_channels.max(cin) * self.kernel * self.kernel);
        if largest >= 1 << 24 {
            return Err(EngineError::shape(
                "conv2d",
                format!("batch {batch} × {h}×{w} pixels is too large for one convolution (limit 16,777,215 pixels per batch): lower the batch size"),
            ));
        }
        // The kernels split indices into images, channels and rows with index_math.wgsl's divmod.
        crate::ops::check_divided("conv2d", "images", batch)?;
        crate::ops::check_divided("conv2d", "channels", cin.max(cout))?;
        Ok(ConvShape { batch, cin, h, w, cout, oh, ow, kernel: self.kernel, stride: self.stride, padding: self.padding })
    }

    fn check_parameters(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
        check_shape("conv2d weight", weight, &self.weight_shape())?;
        if let Some(bias) = bias {
            check_shape("conv2d bias", bias, &[self.out_channels])?;
        }
        Ok(())
    }

    /// y = conv(x, weight) + bias, then ReLU if the layer has one.
    pub fn forward(&self, rec: &mut Recorder, x: View, weight: &Tensor, bias: &Tensor, y: View) -> Result<()> {
        let shape = self.shape(&x, &y)?;
        self.check_parameters(weight, Some(bias))?;
        check_distinct("conv2d forward", &[x.tensor, weight, bias], y.tensor)?;
        rec.record(Op::Conv { shape, relu: self.relu, x, weight, bias, y })
    }

    /// grad_x = the gradient of the loss with respect to the input (added to grad_x if `accumulate`).
    /// `grad_y` must already include the ReLU mask.
    pub fn backward_input(&self, rec: &mut Recorder, grad_y: View, weight: &Tensor, grad_x: View, accumulate: bool) -> Result<()> {
        let shape = self.shape(&grad_x, &grad_y)?;
        self.check_parameters(weight, None)?;
        check_distinct("conv2d backward_input", &[grad_y.tensor, weight], grad_x.tensor)?;
        rec.record(Op::ConvBackwardInput { shape, grad_y, weight, grad_x, accumulate })
    }

    /// grad_weight = the gradient of the loss with respect to the weights (overwritten).
    pub fn backward_weight(&self, rec: &mut Recorder, grad_y: View, x: View, grad_weight: &Tensor) -> Result<()> {
        let shape = self.shape(&x, &grad_y)?;
        self.check_parameters(grad_weight, None)?;
        check_distinct("conv2d backward_weight", &[grad_y.tensor, x.tensor], grad_weight)?;
        rec.record(Op::ConvBackwardWeight { shape, grad_y, x, grad_weight })
    }

    /// grad_bias[c] = the sum of grad_y over images and positions of channel c (overwritten).
    pub fn backward_bias(&self, rec: &mut Recorder, grad_y: View, grad_bias: &Tensor) -> Result<()> {
        if grad_y.channels != self.out_channels {
            return Err(EngineError::shape(
                "conv2d backward_bias",
                format!("gradient has {} channels, the layer {}", grad_y.channels, self.out_channels),
            ));
        }
        check_shape("conv2d bias gradient", grad_bias, &[self.out_channels])?;
        sum_channels(rec, grad_y, grad_bias)
    }
}
