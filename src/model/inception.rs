//! GoogLeNet's Inception block on the device (either engine): four paths reading one input, each writing its channel
//! slice of the output directly (no concatenation copy), and the backward pass that sums the four
//! paths' input gradients.

use crate::engine::error::Result;
use crate::engine::device::Device;
use crate::net::{Inception, Shape};
use crate::ops::{self, Conv2d};
use crate::engine::tensor::View;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};

/// A path's intermediate activation and its gradient.
struct Inner {
    act: Tensor,
    grad: Option<Tensor>,
}

fn grad(inner: &Inner) -> &Tensor {
    inner.grad.as_ref().expect("backward needs a training graph")
}

pub(crate) struct InceptionStep {
    convs: [Conv2d; 6],
    /// Index of p1_1's weight; the six convolutions' weights and biases follow in order.
    pub(crate) param: usize,
    pub(crate) x: usize,
    pub(crate) y: usize,
    /// Outputs of p2_1 and p3_1 (the 1×1 reductions) and of the path-4 max pool.
    reduce2: Inner,
    reduce3: Inner,
    pooled: Inner,
    argmax: Tensor,
    /// First output channel of each path.
    offsets: [usize; 4],
}

impl InceptionStep {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(device: &Device, name: &str, block: Inception, param: usize, x: usize, y: usize, batch: usize, input: Shape, training: bool) -> Result<Self> {
        let Shape::Image { c, h, w } = input else { unreachable!("shape inference checked the input is an image") };
        let inner = |what: &str, channels: usize| -> Result<Inner> {
            let shape = [batch, channels, h, w];
            let act = Tensor::zeros(device, &shape, DType::F32, &format!("{name} {what}"))?;
            let grad = if training { Some(Tensor::zeros(device, &shape, DType::F32, &format!("{name} {what} gradient"))?) } else { None };
            Ok(Inner { act, grad })
        };
        let convs = block.convs().map(|(_, conv)| conv);
        Ok(InceptionStep {
            convs,
            param,
            x,
            y,
            reduce2: inner("p2_1", block.c2.0)?,
            reduce3: inner("p3_1", block.c3.0)?,
            pooled: inner("p4_1", c)?,
            argmax: Tensor::zeros(device, &[batch, c, h, w], DType::U32, &format!("{name} p4_1 argmax"))?,
            offsets: [0, block.c1, block.c1 + block.c2.1, block.c1 + block.c2.1 + block.c3.1],
        })
    }

    /// (conv, weight index) of convolution `i` (p1_1, p2_1, p2_2, p3_1, p3_2, p4_2).
    fn conv(&self, i: usize) -> (&Conv2d, usize) {
        (&self.convs[i], self.param + 2 * i)
    }

    pub(crate) fn forward(&self, rec: &mut Recorder, p: &[Tensor], x: &Tensor, y: &Tensor) -> Result<()> {
        let slice = |path: usize, conv: &Conv2d| y.channels(self.offsets[path], conv.out_channels);
        let [p1, p2a, p2b, p3a, p3b, p4] = [0, 1, 2, 3, 4, 5].map(|i| self.conv(i));
        p1.0.forward(rec, x.view()?, &p[p1.1], &p[p1.1 + 1], slice(0, p1.0)?)?;
        p2a.0.forward(rec, x.view()?, &p[p2a.1], &p[p2a.1 + 1], self.reduce2.act.view()?)?;
        p2b.0.forward(rec, self.reduce2.act.view()?, &p[p2b.1], &p[p2b.1 + 1], slice(1, p2b.0)?)?;
        p3a.0.forward(rec, x.view()?, &p[p3a.1], &p[p3a.1 + 1], self.reduce3.act.view()?)?;
        p3b.0.forward(rec, self.reduce3.act.view()?, &p[p3b.1], &p[p3b.1 + 1], slice(2, p3b.0)?)?;
        Inception::pool().forward(rec, x, &self.pooled.act, Some(&self.argmax))?;
        p4.0.forward(rec, self.pooled.act.view()?, &p[p4.1], &p[p4.1 + 1], slice(3, p4.0)?)
    }

    /// `gy` is the gradient of the concatenated output (its ReLU is applied here); `gx` receives
    /// the input's gradient, the sum over the four paths.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward(&self, rec: &mut Recorder, p: &[Tensor], g: &[Tensor], x: &Tensor, y: &Tensor, gy: &Tensor, gx: &Tensor) -> Result<()> {
        // Every path ends in a ReLU, so one pass masks the whole concatenated gradient.
        ops::relu_backward(rec, y, gy)?;
        let [p1, p2a, p2b, p3a, p3b, p4] = [0, 1, 2, 3, 4, 5].map(|i| self.conv(i));
        let weights = |rec: &mut Recorder, (conv, w): (&Conv2d, usize), gy: View, input: &Tensor| -> Result<()> {
            conv.backward_weight(rec, gy, input.view()?, &g[w])?;
            conv.backward_bias(rec, gy, &g[w + 1])
        };

        // Path 4 first: the pool's backward overwrites gx; the other paths add to it.
        let gy4 = gy.channels(self.offsets[3], p4.0.out_channels)?;
        weights(rec, p4, gy4, &self.pooled.act)?;
        p4.0.backward_input(rec, gy4, &p[p4.1], grad(&self.pooled).view()?, false)?;
        Inception::pool().backward(rec, grad(&self.pooled), Some(&self.argmax), gx)?;

        let gy1 = gy.channels(self.offsets[0], p1.0.out_channels)?;
        weights(rec, p1, gy1, x)?;
        p1.0.backward_input(rec, gy1, &p[p1.1], gx.view()?, true)?;

        for (path, (reduce, wide), inner) in [(1, (p2a, p2b), &self.reduce2), (2, (p3a, p3b), &self.reduce3)] {
            let gy_path = gy.channels(self.offsets[path], wide.0.out_channels)?;
            weights(rec, wide, gy_path, &inner.act)?;
            wide.0.backward_input(rec, gy_path, &p[wide.1], grad(inner).view()?, false)?;
            ops::relu_backward(rec, &inner.act, grad(inner))?;
            weights(rec, reduce, grad(inner).view()?, x)?;
            reduce.0.backward_input(rec, grad(inner).view()?, &p[reduce.1], gx.view()?, true)?;
        }
        Ok(())
    }
}
