//! Convolutions on the CPU: each image's input unrolled into columns (im2col) and multiplied by the
//! weights in one GEMM, images spread over the cores. A 1×1 convolution with stride 1 and no
//! padding (NiN's and Inception's) needs no unrolling: the image already is the column matrix.

use crate::cpu::matmul::{Mat, Threads, gemm};
use crate::cpu::{for_chunks, for_chunks_with};

/// A channel range of an NCHW tensor: where a convolution reads or writes (an Inception path's
/// slice of the concatenated output).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slab {
    pub offset: usize,
    /// The tensor's channels: the stride between images, in planes.
    pub total: usize,
}

/// One convolution's sizes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvShape {
    pub batch: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub oh: usize,
    pub ow: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

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

/// col[(ci·k + ky)·k + kx][oy·ow + ox] = x[ci][oy·s + ky − p][ox·s + kx − p], zero in the padding.
fn im2col(s: &ConvShape, x: &[f32], col: &mut [f32]) {
    let (k, ohw) = (s.kernel, s.oh * s.ow);
    for ci in 0..s.cin {
        let plane = &x[ci * s.h * s.w..][..s.h * s.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut col[((ci * k + ky) * k + kx) * ohw..][..ohw];
                let valid = s.valid_columns(kx);
                for oy in 0..s.oh {
                    let out = &mut row[oy * s.ow..][..s.ow];
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
}

/// The adjoint of [`im2col`]: x[ci][iy][ix] += every column entry that was read from it.
fn col2im_add(s: &ConvShape, col: &[f32], x: &mut [f32]) {
    let (k, ohw) = (s.kernel, s.oh * s.ow);
    for ci in 0..s.cin {
        let plane = &mut x[ci * s.h * s.w..][..s.h * s.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &col[((ci * k + ky) * k + kx) * ohw..][..ohw];
                let valid = s.valid_columns(kx);
                if valid.is_empty() {
                    continue;
                }
                for oy in 0..s.oh {
                    let iy = (oy * s.stride + ky).wrapping_sub(s.padding);
                    if iy >= s.h {
                        continue;
                    }
                    let src = &row[oy * s.ow..][valid.clone()];
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

/// y = conv(x, weight) + bias (then ReLU), image by image.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(s: &ConvShape, threads: usize, x: &[f32], xs: Slab, weight: &[f32], bias: &[f32], relu: bool, y: &mut [f32], ys: Slab) {
    let (hw, ohw, taps) = (s.h * s.w, s.oh * s.ow, s.taps());
    let per_image = s.per_image(threads);
    let scratch = if s.pointwise() { 0 } else { taps * ohw };
    let images = &mut y[..s.batch * ys.total * ohw];
    for_chunks_with(images, ys.total * ohw, || vec![0.0f32; scratch], |col, b, image| {
        let out = &mut image[ys.offset * ohw..][..s.cout * ohw];
        let xb = &x[(b * xs.total + xs.offset) * hw..][..s.cin * hw];
        let columns: &[f32] = if s.pointwise() {
            xb
        } else {
            im2col(s, xb, col);
            col
        };
        gemm(out, ohw, false, Mat::rows(weight, s.cout, taps), Mat::rows(columns, taps, ohw), per_image);
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

/// grad_x = the input's gradient (added to grad_x with `accumulate`), image by image.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_input(s: &ConvShape, threads: usize, grad_y: &[f32], ys: Slab, weight: &[f32], grad_x: &mut [f32], xs: Slab, accumulate: bool) {
    let (hw, ohw, taps) = (s.h * s.w, s.oh * s.ow, s.taps());
    let per_image = s.per_image(threads);
    let weight_t = Mat::rows(weight, s.cout, taps).t();
    let scratch = if s.pointwise() { 0 } else { taps * ohw };
    let images = &mut grad_x[..s.batch * xs.total * hw];
    for_chunks_with(images, xs.total * hw, || vec![0.0f32; scratch], |col, b, image| {
        let gx = &mut image[xs.offset * hw..][..s.cin * hw];
        let gy = Mat::rows(&grad_y[(b * ys.total + ys.offset) * ohw..][..s.cout * ohw], s.cout, ohw);
        if s.pointwise() {
            gemm(gx, hw, accumulate, weight_t, gy, per_image);
            return;
        }
        gemm(col, ohw, false, weight_t, gy, per_image);
        if !accumulate {
            gx.fill(0.0);
        }
        col2im_add(s, col, gx);
    });
}

/// grad_weight = Σ over images of grad_y · columnsᵀ (overwritten). Images are split into one run
/// per thread, each summing into its own partial; the partials are added in order, so the result
/// is the same on every run with the same thread count.
pub(crate) fn backward_weight(s: &ConvShape, threads: usize, grad_y: &[f32], ys: Slab, x: &[f32], xs: Slab, grad_weight: &mut [f32]) {
    let (hw, ohw, taps) = (s.h * s.w, s.oh * s.ow, s.taps());
    let size = s.cout * taps;
    let runs = threads.clamp(1, s.batch.max(1));
    let per_run = s.batch.div_ceil(runs);
    let per_image = s.per_image(threads);
    let scratch = if s.pointwise() { 0 } else { taps * ohw };
    let image_product = |col: &mut Vec<f32>, b: usize, out: &mut [f32], accumulate: bool| {
        let gy = Mat::rows(&grad_y[(b * ys.total + ys.offset) * ohw..][..s.cout * ohw], s.cout, ohw);
        let xb = &x[(b * xs.total + xs.offset) * hw..][..s.cin * hw];
        let columns: &[f32] = if s.pointwise() {
            xb
        } else {
            im2col(s, xb, col);
            col
        };
        gemm(out, taps, accumulate, gy, Mat::rows(columns, taps, ohw).t(), per_image);
    };
    let mut partials = vec![0.0f32; if runs > 1 { runs * size } else { 0 }];
    let target: &mut [f32] = if runs > 1 { &mut partials } else { &mut grad_weight[..size] };
    for_chunks_with(target, size, || vec![0.0f32; scratch], |col, run, out| {
        for (i, b) in (run * per_run..((run + 1) * per_run).min(s.batch)).enumerate() {
            image_product(col, b, out, i > 0);
        }
    });
    if runs > 1 {
        let (first, rest) = partials.split_at(size);
        grad_weight[..size].copy_from_slice(first);
        for partial in rest.chunks_exact(size) {
            for (g, p) in grad_weight.iter_mut().zip(partial) {
                *g += p;
            }
        }
    }
}

/// out[c] = the sum of channel c of `grad` (a channel range) over images and positions: a bias's
/// gradient. Summed in f64, image by image in order.
pub(crate) fn sum_channels(grad: &[f32], gs: Slab, (batch, channels, plane): (usize, usize, usize), out: &mut [f32]) {
    for_chunks(&mut out[..channels], 1, |c, out| {
        let mut total = 0.0f64;
        for b in 0..batch {
            total += grad[(b * gs.total + gs.offset + c) * plane..][..plane].iter().map(|&v| v as f64).sum::<f64>();
        }
        out[0] = total as f32;
    });
}
