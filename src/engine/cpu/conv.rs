//! Convolutions on the CPU: each image's input unrolled into columns (im2col) and multiplied by the
//! weights in one GEMM, images spread over the cores. A 1×1 convolution with stride 1 and no
//! padding (NiN's and Inception's) needs no unrolling: the image already is the column matrix.

use crate::engine::cpu::matmul::{Mat, Threads, gemm};
use crate::engine::cpu::{for_chunks, for_chunks_with};
use crate::engine::op::ConvShape;
use crate::engine::tensor::Slab;

impl ConvShape {
    /// Rows of the column matrix: one per (input channel, kernel row, kernel column).
    fn taps(&self) -> usize {
        self.cin * self.kernel * self.kernel
    }

    fn pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// The output columns `ox` whose input column `ox·stride + kx − padding` lies inside the image.
    fn valid_columns(&self, kx: usize) -> std::ops::Range<usize> {
        let (s, p) = (self.stride, self.padding);
        let lo = p.saturating_sub(kx).div_ceil(s);
        let hi = (self.w + p).saturating_sub(kx).div_ceil(s).min(self.ow);
        lo..hi.max(lo)
    }

    /// Threads for each image's GEMM: images already spread over the cores unless there are
    /// fewer images than cores (one picture being explained).
    fn per_image(&self, threads: usize) -> Threads {
        if self.batch >= threads { Threads::One } else { Threads::All }
    }
}

impl ConvShape {
    /// Output rows per block: the block's columns (taps × its outputs) stay within L2-sized
    /// working memory. Unrolling a whole image first wrote more than the cache holds (AlexNet's
    /// first layer: 1.4 MB of columns per image), so the unrolling cost more than the product
    /// (8.1 of 12.6 ms at batch 64); in blocks it stays in cache for the GEMM that reads it.
    fn block_rows(&self) -> usize {
        (BLOCK_VALUES / (self.taps() * self.ow).max(1)).clamp(1, self.oh)
    }

    /// The output rows of each block.
    fn blocks(&self) -> impl Iterator<Item = std::ops::Range<usize>> {
        let rows = self.block_rows();
        (0..self.oh).step_by(rows).map(move |start| start..(start + rows).min(self.oh))
    }

    /// Scratch values one block's columns need.
    fn scratch(&self) -> usize {
        if self.pointwise() { 0 } else { self.taps() * self.block_rows() * self.ow }
    }
}

/// Values in one block of unrolled columns: 64 Ki (256 KiB), within a core's L2.
const BLOCK_VALUES: usize = 1 << 16;

/// The unrolled columns of output rows `rows`: col[(ci·k + ky)·k + kx][(oy − rows.start)·ow + ox]
/// = x[ci][oy·s + ky − p][ox·s + kx − p], zero in the padding. Returns the block's width.
///
/// With a stride s > 1 the row of tap kx ≥ s is the row of tap kx − s moved one output column
/// left (both read x[·][ox·s + kx − p]): one contiguous move and the last column of each output
/// row instead of a strided gather (AlexNet's and NiN's 11×11/4 first layer: 4 of 11 taps gathered).
fn im2col(s: &ConvShape, x: &[f32], rows: std::ops::Range<usize>, col: &mut [f32]) -> usize {
    let (k, width) = (s.kernel, rows.len() * s.ow);
    for ci in 0..s.cin {
        let plane = &x[ci * s.h * s.w..][..s.h * s.w];
        for ky in 0..k {
            for kx in 0..k {
                let at = ((ci * k + ky) * k + kx) * width;
                if s.stride > 1 && kx >= s.stride {
                    let from = at - s.stride * width;
                    col.copy_within(from + 1..from + width, at);
                    let last = s.ow - 1;
                    let ix = (last * s.stride + kx).wrapping_sub(s.padding);
                    for (r, oy) in rows.clone().enumerate() {
                        let iy = (oy * s.stride + ky).wrapping_sub(s.padding);
                        col[at + r * s.ow + last] = if iy < s.h && ix < s.w { plane[iy * s.w + ix] } else { 0.0 };
                    }
                    continue;
                }
                let valid = s.valid_columns(kx);
                for (r, oy) in rows.clone().enumerate() {
                    let out = &mut col[at + r * s.ow..][..s.ow];
                    let iy = (oy * s.stride + ky).wrapping_sub(s.padding);
                    if iy >= s.h || valid.is_empty() {
                        out.fill(0.0);
                        continue;
                    }
                    out[..valid.start].fill(0.0);
                    out[valid.end..].fill(0.0);
                    let src = &plane[iy * s.w..][..s.w];
                    let first = valid.start * s.stride + kx - s.padding;
                    if s.stride == 1 {
                        out[valid.clone()].copy_from_slice(&src[first..first + valid.len()]);
                    } else {
                        for (o, ox) in out[valid.clone()].iter_mut().zip(0..) {
                            *o = src[first + ox * s.stride];
                        }
                    }
                }
            }
        }
    }
    width
}

/// The adjoint of [`im2col`]: x[ci][iy][ix] += every entry of the block's columns read from it.
fn col2im_add(s: &ConvShape, col: &[f32], rows: std::ops::Range<usize>, x: &mut [f32]) {
    let (k, width) = (s.kernel, rows.len() * s.ow);
    for ci in 0..s.cin {
        let plane = &mut x[ci * s.h * s.w..][..s.h * s.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &col[((ci * k + ky) * k + kx) * width..][..width];
                let valid = s.valid_columns(kx);
                if valid.is_empty() {
                    continue;
                }
                for (r, oy) in rows.clone().enumerate() {
                    let iy = (oy * s.stride + ky).wrapping_sub(s.padding);
                    if iy >= s.h {
                        continue;
                    }
                    let src = &row[r * s.ow..][valid.clone()];
                    let dst = &mut plane[iy * s.w..][..s.w];
                    let first = valid.start * s.stride + kx - s.padding;
                    if s.stride == 1 {
                        for (d, v) in dst[first..first + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (ox, v) in src.iter().enumerate() {
                            dst[first + ox * s.stride] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Output columns `rows` of a plane-major matrix whose rows are `stride` apart: a block's slice.
fn block_of<'a>(m: &'a [f32], rows: usize, stride: usize, block: &std::ops::Range<usize>, ow: usize) -> Mat<'a> {
    Mat { data: &m[block.start * ow..], rows, cols: block.len() * ow, row_stride: stride, col_stride: 1 }
}

/// y = conv(x, weight) + bias (then ReLU), image by image, in blocks of output rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(s: &ConvShape, threads: usize, x: &[f32], xs: Slab, weight: &[f32], bias: &[f32], relu: bool, y: &mut [f32], ys: Slab) {
    let (hw, ohw, taps) = (s.h * s.w, s.oh * s.ow, s.taps());
    let per_image = s.per_image(threads);
    let w = Mat::rows(weight, s.cout, taps);
    let images = &mut y[..s.batch * ys.total * ohw];
    for_chunks_with(images, ys.total * ohw, s.scratch(), |col, b, image| {
        let out = &mut image[ys.offset * ohw..][..s.cout * ohw];
        let xb = &x[(b * xs.total + xs.offset) * hw..][..s.cin * hw];
        if s.pointwise() {
            gemm(out, ohw, false, w, Mat::rows(xb, taps, ohw), per_image);
        } else {
            for rows in s.blocks() {
                let width = im2col(s, xb, rows.clone(), col);
                gemm(&mut out[rows.start * s.ow..], ohw, false, w, Mat::rows(&col[..taps * width], taps, width), per_image);
            }
        }
        for (plane, &b) in out.chunks_exact_mut(ohw).zip(bias) {
            for v in plane {
                *v += b;
                if relu {
                    *v = v.max(0.0);
                }
            }
        }
    });
}

/// grad_x = the input's gradient (added to grad_x with `accumulate`), image by image, in blocks
/// of output rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_input(s: &ConvShape, threads: usize, grad_y: &[f32], ys: Slab, weight: &[f32], grad_x: &mut [f32], xs: Slab, accumulate: bool) {
    let (hw, ohw, taps) = (s.h * s.w, s.oh * s.ow, s.taps());
    let per_image = s.per_image(threads);
    let weight_t = Mat::rows(weight, s.cout, taps).t();
    let images = &mut grad_x[..s.batch * xs.total * hw];
    for_chunks_with(images, xs.total * hw, s.scratch(), |col, b, image| {
        let gx = &mut image[xs.offset * hw..][..s.cin * hw];
        let gy = &grad_y[(b * ys.total + ys.offset) * ohw..][..s.cout * ohw];
        if s.pointwise() {
            gemm(gx, hw, accumulate, weight_t, Mat::rows(gy, s.cout, ohw), per_image);
            return;
        }
        if !accumulate {
            gx.fill(0.0);
        }
        for rows in s.blocks() {
            let width = rows.len() * s.ow;
            gemm(&mut col[..taps * width], width, false, weight_t, block_of(gy, s.cout, ohw, &rows, s.ow), per_image);
            col2im_add(s, col, rows, gx);
        }
    });
}

/// grad_weight = Σ over images of grad_y · columnsᵀ (overwritten). Images are split into one run
/// per thread, each summing into its own partial; the partials are added in order, so the result
/// is the same on every run with the same thread count.
///
/// Each partial is the gradient's transpose (taps × out channels), columns · grad_yᵀ: the GEMM
/// then streams the columns as they lie instead of repacking them for every block (AlexNet's 5×5
/// layer at ÷8: 25% less time than summing grad_y · columnsᵀ directly).
pub(crate) fn backward_weight(s: &ConvShape, threads: usize, grad_y: &[f32], ys: Slab, x: &[f32], xs: Slab, grad_weight: &mut [f32]) {
    let (hw, ohw, taps) = (s.h * s.w, s.oh * s.ow, s.taps());
    let size = s.cout * taps;
    let runs = threads.clamp(1, s.batch.max(1));
    let per_run = s.batch.div_ceil(runs);
    let per_image = s.per_image(threads);
    // Adds image b's product to `out` (overwrites it with `first`).
    let image_product = |col: &mut [f32], b: usize, out: &mut [f32], first: bool| {
        let gy = &grad_y[(b * ys.total + ys.offset) * ohw..][..s.cout * ohw];
        let xb = &x[(b * xs.total + xs.offset) * hw..][..s.cin * hw];
        if s.pointwise() {
            gemm(out, s.cout, !first, Mat::rows(xb, taps, ohw), Mat::rows(gy, s.cout, ohw).t(), per_image);
            return;
        }
        for (i, rows) in s.blocks().enumerate() {
            let width = im2col(s, xb, rows.clone(), col);
            let columns = Mat::rows(&col[..taps * width], taps, width);
            gemm(out, s.cout, !(first && i == 0), columns, block_of(gy, s.cout, ohw, &rows, s.ow).t(), per_image);
        }
    };
    let mut partials = vec![0.0f32; runs * size];
    for_chunks_with(&mut partials, size, s.scratch(), |col, run, out| {
        for (i, b) in (run * per_run..((run + 1) * per_run).min(s.batch)).enumerate() {
            image_product(col, b, out, i == 0);
        }
    });
    // Runs without images (more threads than images) left their partial zero.
    for (c, row) in grad_weight[..size].chunks_exact_mut(taps).enumerate() {
        for (t, g) in row.iter_mut().enumerate() {
            *g = partials.chunks_exact(size).map(|p| p[t * s.cout + c]).sum();
        }
    }
}

/// out[c] = the sum of channel c of `grad` (a channel range) over images and positions: a bias's
/// gradient. Each plane summed in 16 f32 lanes (which vectorise), the planes in f64, in order.
pub(crate) fn sum_channels(grad: &[f32], gs: Slab, (batch, channels, plane): (usize, usize, usize), out: &mut [f32]) {
    for_chunks(&mut out[..channels], 1, |c, out| {
        let mut total = 0.0f64;
        for b in 0..batch {
            total += lane_sum(&grad[(b * gs.total + gs.offset + c) * plane..][..plane]);
        }
        out[0] = total as f32;
    });
}

/// The sum of `values`, in 16 lanes.
fn lane_sum(values: &[f32]) -> f64 {
    let mut lanes = [0.0f32; 16];
    let chunks = values.chunks_exact(16);
    let tail: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().map(|&l| l as f64).sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Conv2d;
    use crate::reference::{self, Dims};

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    fn close(what: &str, got: &[f32], want: &[f32]) {
        let scale = want.iter().map(|v| v.abs()).sum::<f32>() / want.len() as f32;
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-4 * (w.abs() + scale), "{what}[{i}]: {g} vs {w}");
        }
    }

    /// Shapes whose columns span many blocks of output rows (a last block shorter than the rest),
    /// with strides whose taps are shifted copies, against the f64 reference; on one thread and
    /// on several.
    #[test]
    fn blocked_convolutions_match_the_reference() {
        for (cin, cout, side, k, stride, padding) in [(1, 5, 224, 11, 4, 1), (6, 7, 40, 5, 1, 2), (16, 4, 100, 3, 2, 1), (64, 3, 60, 3, 3, 0)] {
            let conv = Conv2d { in_channels: cin, out_channels: cout, kernel: k, stride, padding, relu: false };
            let (oh, ow) = conv.output_size(side, side).unwrap();
            let s = ConvShape { batch: 3, cin, h: side, w: side, cout, oh, ow, kernel: k, stride, padding };
            assert!(s.blocks().count() > 2, "{s:?}: several blocks");
            let xd = Dims { n: 3, c: cin, h: side, w: side };
            let (x, w, b) = (values(xd.len(), 1), values(cout * s.taps(), 2), values(cout, 3));
            let gy = values(3 * cout * oh * ow, 4);
            let (want_y, _) = reference::conv2d_forward(&conv, &x, xd, &w, &b);
            let want = reference::conv2d_backward(&conv, &x, xd, &w, &gy);
            for threads in [1, 4] {
                let whole = Slab { offset: 0, total: cin };
                let outs = Slab { offset: 0, total: cout };
                let mut y = vec![0.0; want_y.len()];
                forward(&s, threads, &x, whole, &w, &b, false, &mut y, outs);
                close("y", &y, &want_y);
                let mut gx = vec![7.0; x.len()];
                backward_input(&s, threads, &gy, outs, &w, &mut gx, whole, false);
                close("grad x", &gx, &want.x);
                let mut gw = vec![7.0; w.len()];
                backward_weight(&s, threads, &gy, outs, &x, whole, &mut gw);
                close("grad w", &gw, &want.w);
            }
        }
    }
}

