//! The CPU engine's side of the op vocabulary: each [`Op`] as a task over host memory, holding
//! the buffers it reads and writes, run in recording order when the recorder is submitted
//! ([`super::queue`]). Each arm calls the kernel in `conv.rs`, `pool.rs`, `input.rs`,
//! `matmul.rs` or `elementwise.rs` that follows the WGSL kernel's arithmetic.

use crate::engine::cpu::matmul::{self, Mat, Threads};
use crate::engine::cpu::{Cpu, conv, elementwise, input, pool};
use crate::engine::error::Result;
use crate::engine::op::{GemmShape, Op};

/// What runs a task.
pub(crate) type Run = Box<dyn FnOnce() -> Result<()>>;

fn run(f: impl FnOnce() -> Result<()> + 'static) -> Run {
    Box::new(f)
}

/// The task for `op`: its kernel's name (in profiles) and what runs it. Fails (never panics) on
/// a tensor of the WGSL engine.
pub(crate) fn task(cpu: &Cpu, op: Op) -> Result<(&'static str, Run)> {
    let threads = cpu.threads();
    Ok(match op {
        Op::SumChannels { grad, out } => {
            let (batch, channels, h, w) = grad.dims();
            let (g, gs, o) = (grad.tensor.host()?.clone(), grad.slab(), out.host()?.clone());
            ("sum_channels", run(move || Ok(conv::sum_channels(&g.read(), gs, (batch, channels, h * w), &mut o.write()?))))
        }
        Op::Relu { x } => {
            let x = x.host()?.clone();
            ("relu", run(move || Ok(elementwise::relu_forward(&mut x.write()?))))
        }
        Op::ReluBackward { y, grad } => {
            let (y, grad) = (y.host()?.clone(), grad.host()?.clone());
            ("relu_backward", run(move || Ok(elementwise::relu_backward(&y.read(), &mut grad.write()?))))
        }
        Op::Dropout { values, mask } => {
            let values = values.host()?.clone();
            ("dropout", run(move || Ok(elementwise::dropout(&mut values.write()?, mask.seed, mask.first, mask.threshold, mask.scale))))
        }
        Op::Accumulate { x, sum } => {
            let (x, sum) = (x.host()?.clone(), sum.host()?.clone());
            ("accumulate", run(move || Ok(elementwise::accumulate(&x.read(), &mut sum.write()?))))
        }
        Op::CopyChannels { src, dst, accumulate } => {
            let (batch, channels, h, w) = src.dims();
            let (s, ss, d, ds) = (src.tensor.host()?.clone(), src.slab(), dst.tensor.host()?.clone(), dst.slab());
            ("copy_channels", run(move || Ok(elementwise::copy_channels(&s.read(), ss, &mut d.write()?, ds, (batch, channels, h * w), accumulate))))
        }
        Op::Conv { shape, relu, x, weight, bias, y } => {
            let (xs, ys) = (x.slab(), y.slab());
            let (x, w, b, y) = (x.tensor.host()?.clone(), weight.host()?.clone(), bias.host()?.clone(), y.tensor.host()?.clone());
            ("conv2d_forward", run(move || Ok(conv::forward(&shape, threads, &x.read(), xs, &w.read(), &b.read(), relu, &mut y.write()?, ys))))
        }
        Op::ConvBackwardInput { shape, grad_y, weight, grad_x, accumulate } => {
            let (ys, xs) = (grad_y.slab(), grad_x.slab());
            let (gy, w, gx) = (grad_y.tensor.host()?.clone(), weight.host()?.clone(), grad_x.tensor.host()?.clone());
            ("conv2d_backward_input", run(move || Ok(conv::backward_input(&shape, threads, &gy.read(), ys, &w.read(), &mut gx.write()?, xs, accumulate))))
        }
        Op::ConvBackwardWeight { shape, grad_y, x, grad_weight } => {
            let (ys, xs) = (grad_y.slab(), x.slab());
            let (gy, x, gw) = (grad_y.tensor.host()?.clone(), x.tensor.host()?.clone(), grad_weight.host()?.clone());
            ("conv2d_backward_weight", run(move || Ok(conv::backward_weight(&shape, threads, &gy.read(), ys, &x.read(), xs, &mut gw.write()?))))
        }
        Op::Matmul { shape, a, b, bias, relu, c } => {
            let GemmShape { m, n, k, trans_a, trans_b } = shape;
            let (a, b, c) = (a.host()?.clone(), b.host()?.clone(), c.host()?.clone());
            let bias = bias.map(|t| t.host().cloned()).transpose()?;
            // One GEMM over every core, then the bias and ReLU.
            let product = move || {
                let (a, b, mut c) = (a.read(), b.read(), c.write()?);
                let a = if trans_a { Mat::rows(&a, k, m).t() } else { Mat::rows(&a, m, k) };
                let b = if trans_b { Mat::rows(&b, n, k).t() } else { Mat::rows(&b, k, n) };
                matmul::gemm(&mut c, n, false, a, b, Threads::All);
                if let Some(bias) = bias {
                    let bias = bias.read();
                    for row in c.chunks_exact_mut(n) {
                        for (v, b) in row.iter_mut().zip(bias.iter()) {
                            *v += b;
                        }
                    }
                }
                if relu {
                    elementwise::relu_forward(&mut c);
                }
                Ok(())
            };
            ("matmul", run(product))
        }
        Op::MaxPool { shape, x, y, argmax } => {
            let (x, y, argmax) = (x.host()?.clone(), y.host()?.clone(), argmax.host()?.clone());
            ("max_pool_forward", run(move || Ok(pool::max_forward(&shape, &x.read(), &mut y.write()?, &mut argmax.write()?))))
        }
        Op::MaxPoolBackward { shape, grad_y, argmax, grad_x } => {
            let (gy, argmax, gx) = (grad_y.host()?.clone(), argmax.host()?.clone(), grad_x.host()?.clone());
            ("max_pool_backward", run(move || Ok(pool::max_backward(&shape, &gy.read(), &argmax.read(), &mut gx.write()?))))
        }
        Op::AvgPool { shape, x, y } => {
            let (x, y) = (x.host()?.clone(), y.host()?.clone());
            ("avg_pool_forward", run(move || Ok(pool::avg_forward(&shape, &x.read(), &mut y.write()?))))
        }
        Op::AvgPoolBackward { shape, grad_y, grad_x } => {
            let (gy, gx) = (grad_y.host()?.clone(), grad_x.host()?.clone());
            ("avg_pool_backward", run(move || Ok(pool::avg_backward(&shape, &gy.read(), &mut gx.write()?))))
        }
        Op::SoftmaxCrossEntropy { classes, mean_over, logits, labels, grad, stats } => {
            let (logits, labels, grad, stats) = (logits.host()?.clone(), labels.host()?.clone(), grad.host()?.clone(), stats.host()?.clone());
            let loss = move || Ok(elementwise::softmax_cross_entropy(&logits.read(), &labels.read(), classes, mean_over, &mut grad.write()?, &mut stats.write()?));
            ("softmax_cross_entropy", run(loss))
        }
        Op::Softmax { classes, logits, probs } => {
            let (logits, probs) = (logits.host()?.clone(), probs.host()?.clone());
            ("softmax", run(move || Ok(elementwise::softmax(&logits.read(), classes, &mut probs.write()?))))
        }
        Op::Sgd { step, param, grad, velocity } => {
            let (p, g, v) = (param.host()?.clone(), grad.host()?.clone(), velocity.host()?.clone());
            ("sgd", run(move || Ok(elementwise::sgd(step, &mut p.write()?, &g.read(), &mut v.write()?))))
        }
        Op::Adam { step, param, grad, m, v } => {
            let (p, g, m, v) = (param.host()?.clone(), grad.host()?.clone(), m.host()?.clone(), v.host()?.clone());
            ("adam", run(move || Ok(elementwise::adam(step, &mut p.write()?, &g.read(), &mut m.write()?, &mut v.write()?))))
        }
        Op::TensorStats { rows, slot, adam, x, y, out } => {
            let (x, y, out) = (x.host()?.clone(), y.host()?.clone(), out.host()?.clone());
            let stats = move || {
                // x and y may be one tensor (a layer's own statistics): read it once.
                let (xs, ys) = (x.read(), if x.same(&y) { None } else { Some(y.read()) });
                let ys: &[f32] = ys.as_deref().map_or(&xs, |v| v);
                elementwise::tensor_stats(&xs, ys, rows, adam, &mut out.write()?[4 * slot..]);
                Ok(())
            };
            ("tensor_stats", run(stats))
        }
        Op::GatherResize { src: (h, w), side, first, augment, pixels, all_labels, order, images, labels } => {
            let (pixels, all_labels, order) = (pixels.host()?.clone(), all_labels.host()?.clone(), order.host()?.clone());
            let (images, labels) = (images.host()?.clone(), labels.host()?.clone());
            let gather = move || {
                let (pixels, all_labels) = (pixels.read(), all_labels.read());
                let data = input::Dataset { pixels: &pixels, labels: &all_labels, h, w };
                input::gather_resize(&data, &order.read(), first, side, augment, &mut images.write()?, &mut labels.write()?)
            };
            ("gather_resize", run(gather))
        }
    })
}
