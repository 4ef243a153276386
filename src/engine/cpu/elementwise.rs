//! The CPU engine's small kernels: ReLU, dropout, channel copies, the loss, the optimisers and
//! tensor statistics. Each follows its WGSL kernel's arithmetic (same f32 formulas, same hash for
//! dropout masks), so both engines draw the same masks and take the same steps within rounding.

use crate::engine::op::{AdamStep, SgdStep};
use crate::engine::tensor::Slab;
use crate::engine::cpu::{ELEMENTWISE_CHUNK, for_chunks, for_chunks2, for_chunks3};
use crate::engine::augment::pcg;

/// x = max(x, 0).
pub(crate) fn relu_forward(x: &mut [f32]) {
    for_chunks(x, ELEMENTWISE_CHUNK, |_, x| {
        for v in x {
            *v = v.max(0.0);
        }
    });
}

/// grad = 0 wherever the ReLU's output y is not positive.
pub(crate) fn relu_backward(y: &[f32], grad: &mut [f32]) {
    for_chunks(grad, ELEMENTWISE_CHUNK, |i, grad| {
        // A select, not a conditional store: LLVM vectorises only the select (4× the speed).
        for (g, &y) in grad.iter_mut().zip(&y[i * ELEMENTWISE_CHUNK..]) {
            *g = if y <= 0.0 { 0.0 } else { *g };
        }
    });
}

/// Inverted dropout in place: element i is kept when pcg((first + i) ^ pcg(seed)) ≥ threshold
/// (dropout.wgsl's mask, so both engines drop the same units) and then scaled.
pub(crate) fn dropout(values: &mut [f32], seed: u32, first: u32, threshold: u32, scale: f32) {
    let mixed = pcg(seed);
    for_chunks(values, ELEMENTWISE_CHUNK, |chunk, values| {
        let start = first.wrapping_add((chunk * ELEMENTWISE_CHUNK) as u32);
        for (i, v) in values.iter_mut().enumerate() {
            let keep = pcg(start.wrapping_add(i as u32) ^ mixed) >= threshold;
            *v = if keep { *v * scale } else { 0.0 };
        }
    });
}

/// sum += x (accumulate.wgsl).
pub(crate) fn accumulate(x: &[f32], sum: &mut [f32]) {
    for_chunks(sum, ELEMENTWISE_CHUNK, |i, sum| {
        for (s, v) in sum.iter_mut().zip(&x[i * ELEMENTWISE_CHUNK..]) {
            *s += v;
        }
    });
}

/// dst's channel range = src's (or += with `accumulate`), image by image.
pub(crate) fn copy_channels(src: &[f32], ss: Slab, dst: &mut [f32], ds: Slab, (batch, channels, plane): (usize, usize, usize), accumulate: bool) {
    let n = channels * plane;
    for b in 0..batch {
        let from = &src[(b * ss.total + ss.offset) * plane..][..n];
        let to = &mut dst[(b * ds.total + ds.offset) * plane..][..n];
        if accumulate {
            for (d, s) in to.iter_mut().zip(from) {
                *d += s;
            }
        } else {
            to.copy_from_slice(from);
        }
    }
}

/// torch.optim.SGD's update (sgd.wgsl).
pub(crate) fn sgd(SgdStep { lr, momentum, weight_decay }: SgdStep, param: &mut [f32], grad: &[f32], velocity: &mut [f32]) {
    let n = grad.len();
    for_chunks2(&mut param[..n], &mut velocity[..n], ELEMENTWISE_CHUNK, |chunk, p, v| {
        for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(&grad[chunk * ELEMENTWISE_CHUNK..]) {
            let d = g + weight_decay * *p;
            let step = if momentum != 0.0 {
                *v = momentum * *v + d;
                *v
            } else {
                d
            };
            *p -= lr * step;
        }
    });
}

/// torch.optim.Adam's update (adam.wgsl): L2 weight decay, bias corrections from the step.
pub(crate) fn adam(a: AdamStep, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    let n = grad.len();
    for_chunks3(&mut param[..n], &mut m[..n], &mut v[..n], ELEMENTWISE_CHUNK, |chunk, p, m, v| {
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(&grad[chunk * ELEMENTWISE_CHUNK..]) {
            let g = g + a.weight_decay * *p;
            let m_new = *m + (g - *m) * (1.0 - a.beta1);
            let v_new = a.beta2 * *v + (1.0 - a.beta2) * g * g;
            *m = m_new;
            *v = v_new;
            let denom = v_new.sqrt() / a.bias_correction2_sqrt + a.eps;
            *p -= (a.lr / a.bias_correction1) * m_new / denom;
        }
    });
}

/// Softmax cross-entropy with its gradient (softmax_cross_entropy.wgsl): grad = (softmax − onehot)
/// / batch; stats += [the loss summed over the batch, correct predictions, examples].
pub(crate) fn softmax_cross_entropy(logits: &[f32], labels: &[f32], classes: usize, mean_over: usize, grad: &mut [f32], stats: &mut [f32]) {
    let batch = labels.len();
    let scale = 1.0 / mean_over as f32;
    let (mut loss, mut correct) = (0.0f32, 0.0f32);
    for ((row, g), label) in logits.chunks_exact(classes).zip(grad.chunks_exact_mut(classes)).zip(labels) {
        let label = label.to_bits() as usize;
        let (mut top, mut top_at) = (row[0], 0);
        for (c, &v) in row.iter().enumerate().skip(1) {
            if v > top {
                (top, top_at) = (v, c);
            }
        }
        let total: f32 = row.iter().map(|&v| (v - top).exp()).sum();
        loss += total.ln() + top - row.get(label).copied().unwrap_or(f32::NAN);
        correct += if top_at == label { 1.0 } else { 0.0 };
        for (c, (g, &v)) in g.iter_mut().zip(row).enumerate() {
            let prob = (v - top).exp() / total;
            *g = (prob - if c == label { 1.0 } else { 0.0 }) * scale;
        }
    }
    stats[0] += loss;
    stats[1] += correct;
    stats[2] += batch as f32;
}

/// probs = softmax(logits) per row (softmax.wgsl).
pub(crate) fn softmax(logits: &[f32], classes: usize, probs: &mut [f32]) {
    for (row, out) in logits.chunks_exact(classes).zip(probs.chunks_exact_mut(classes)) {
        let top = row.iter().copied().fold(row[0], f32::max);
        let total: f32 = row.iter().map(|&v| (v - top).exp()).sum();
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v - top).exp() / total;
        }
    }
}

/// out[4·slot..] = (Σv, Σv², the columns of v as [rows, cols] ≤ 0 in every row, 0) with v = x, or
/// with `adam` = (a, b, eps) Adam's update direction a·x / (√(b·y) + eps) (tensor_stats.wgsl).
pub(crate) fn tensor_stats(x: &[f32], y: &[f32], rows: usize, adam: Option<(f32, f32, f32)>, out: &mut [f32]) {
    let cols = x.len() / rows.max(1);
    let value = |i: usize| match adam {
        Some((a, b, eps)) => a * x[i] / ((b * y[i]).sqrt() + eps),
        None => x[i],
    };
    let (mut sum, mut squares, mut dead) = (0.0f64, 0.0f64, 0.0f64);
    let mut alive = vec![false; cols];
    for r in 0..rows {
        for (c, alive) in alive.iter_mut().enumerate() {
            let v = value(r * cols + c);
            sum += v as f64;
            squares += v as f64 * v as f64;
            *alive |= v > 0.0;
        }
    }
    dead += alive.iter().filter(|a| !**a).count() as f64;
    out[..4].copy_from_slice(&[sum as f32, squares as f32, dead as f32, 0.0]);
}
