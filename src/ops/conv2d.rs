//! 2-D convolution (any square kernel, stride and zero padding, bias, optional fused ReLU):
//! forward, input gradient, weight gradient and bias gradient, each an implicit GEMM on the
//! tiled core.

use crate::engine::cpu::{self, conv::ConvShape};
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::engine::wgsl::gemm::{self, GemmKernel};
use crate::ops::{check_distinct, check_shape, slab, sum_channels};
use crate::engine::recorder::Recorder;
use crate::engine::wgsl::shaders;
use crate::engine::tensor::{Tensor, View};

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

const FLAG_RELU: u32 = 1;
const FLAG_ACCUMULATE: u32 = 2;

/// The numbers every convolution kernel needs, checked once.
struct Geometry {
    batch: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
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

    fn geometry(&self, x: &View, y: &View) -> Result<Geometry> {
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
        Ok(Geometry { batch, h, w, oh, ow })
    }

    /// The parameter fields after (m, n, k, splits).
    fn params(&self, g: &Geometry, x: &View, y: &View, flags: u32) -> Vec<u32> {
        [
            g.batch, self.in_channels, g.h, g.w, self.out_channels, g.oh, g.ow, self.kernel, self.kernel, self.stride,
            self.padding, flags as usize, x.offset, x.total_channels(), y.offset, y.total_channels(),
        ]
        .iter()
        .map(|&v| v as u32)
        .collect()
    }

    /// The sizes the CPU engine's kernels take.
    fn cpu_shape(&self, g: &Geometry) -> ConvShape {
        ConvShape {
            batch: g.batch,
            cin: self.in_channels,
            h: g.h,
            w: g.w,
            cout: self.out_channels,
            oh: g.oh,
            ow: g.ow,
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        }
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
        let g = self.geometry(&x, &y)?;
        self.check_parameters(weight, Some(bias))?;
        check_distinct("conv2d forward", &[x.tensor, weight, bias], y.tensor)?;
        if let Some(threads) = rec.cpu_threads() {
            let (shape, relu, xs, ys) = (self.cpu_shape(&g), self.relu, slab(&x), slab(&y));
            let [x, w, b, y] = [x.tensor, weight, bias, y.tensor].map(|t| t.host().cloned());
            let (x, w, b, y) = (x?, w?, b?, y?);
            return rec.task("conv2d_forward", move || {
                cpu::conv::forward(&shape, threads, &x.read(), xs, &w.read(), &b.read(), relu, &mut y.write()?, ys);
                Ok(())
            });
        }
        let kernel = GemmKernel {
            name: "conv2d_forward",
            parts: &[shaders::INDEX_MATH, shaders::CONV2D_PARAMS, shaders::CONV2D_FORWARD],
            storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite],
            m: self.out_channels,
            n: g.batch * g.oh * g.ow,
            k: self.in_channels * self.kernel * self.kernel,
        };
        let flags = if self.relu { FLAG_RELU } else { 0 };
        let params = self.params(&g, &x, &y, flags);
        kernel.record(rec, &params, &[x.tensor.buffer()?, weight.buffer()?, bias.buffer()?, y.tensor.buffer()?])
    }

    /// grad_x = the gradient of the loss with respect to the input (added to grad_x if `accumulate`).
    /// `grad_y` must already include the ReLU mask.
    pub fn backward_input(&self, rec: &mut Recorder, grad_y: View, weight: &Tensor, grad_x: View, accumulate: bool) -> Result<()> {
        let g = self.geometry(&grad_x, &grad_y)?;
        self.check_parameters(weight, None)?;
        check_distinct("conv2d backward_input", &[grad_y.tensor, weight], grad_x.tensor)?;
        if let Some(threads) = rec.cpu_threads() {
            let (shape, ys, xs) = (self.cpu_shape(&g), slab(&grad_y), slab(&grad_x));
            let [gy, w, gx] = [grad_y.tensor, weight, grad_x.tensor].map(|t| t.host().cloned());
            let (gy, w, gx) = (gy?, w?, gx?);
            return rec.task("conv2d_backward_input", move || {
                cpu::conv::backward_input(&shape, threads, &gy.read(), ys, &w.read(), &mut gx.write()?, xs, accumulate);
                Ok(())
            });
        }
        let kernel = GemmKernel {
            name: "conv2d_backward_input",
            parts: &[shaders::INDEX_MATH, shaders::CONV2D_PARAMS, shaders::CONV2D_BACKWARD_INPUT],
            storage: &[Access::Read, Access::Read, Access::ReadWrite],
            m: self.in_channels,
            n: g.batch * g.h * g.w,
            k: self.out_channels * self.kernel * self.kernel,
        };
        let flags = if accumulate { FLAG_ACCUMULATE } else { 0 };
        let params = self.params(&g, &grad_x, &grad_y, flags);
        kernel.record(rec, &params, &[grad_y.tensor.buffer()?, weight.buffer()?, grad_x.tensor.buffer()?])
    }

    /// grad_weight = the gradient of the loss with respect to the weights (overwritten).
    pub fn backward_weight(&self, rec: &mut Recorder, grad_y: View, x: View, grad_weight: &Tensor) -> Result<()> {
        let g = self.geometry(&x, &grad_y)?;
        self.check_parameters(grad_weight, None)?;
        check_distinct("conv2d backward_weight", &[grad_y.tensor, x.tensor], grad_weight)?;
        if let Some(threads) = rec.cpu_threads() {
            let (shape, ys, xs) = (self.cpu_shape(&g), slab(&grad_y), slab(&x));
            let [gy, x, gw] = [grad_y.tensor, x.tensor, grad_weight].map(|t| t.host().cloned());
            let (gy, x, gw) = (gy?, x?, gw?);
            return rec.task("conv2d_backward_weight", move || {
                cpu::conv::backward_weight(&shape, threads, &gy.read(), ys, &x.read(), xs, &mut gw.write()?);
                Ok(())
            });
        }
        let kernel = GemmKernel {
            name: "conv2d_backward_weight",
            parts: &[shaders::INDEX_MATH, shaders::CONV2D_PARAMS, shaders::CONV2D_BACKWARD_WEIGHT],
            storage: &[Access::Read, Access::Read, Access::ReadWrite],
            m: self.out_channels,
            n: self.in_channels * self.kernel * self.kernel,
            k: g.batch * g.oh * g.ow,
        };
        let params = self.params(&g, &x, &grad_y, 0);
        gemm::record_split(rec, &kernel, &params, &[grad_y.tensor.buffer()?, x.tensor.buffer()?], grad_weight.buffer()?)
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
