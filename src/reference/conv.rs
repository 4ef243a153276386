//! Direct convolution, seven nested loops.

use super::Dims;
use crate::ops::Conv2d;

/// Output dims of `conv` on `x` (the conv must fit the input).
fn out_dims(conv: &Conv2d, x: Dims) -> Dims {
    let (oh, ow) = conv.output_size(x.h, x.w).expect("reference called with an impossible shape");
    Dims { n: x.n, c: conv.out_channels, h: oh, w: ow }
}

/// Calls `f(output index, input index, weight index)` for every multiply of the convolution.
fn for_each_tap(conv: &Conv2d, x: Dims, mut f: impl FnMut(usize, usize, usize)) {
    let y = out_dims(conv, x);
    let k = conv.kernel;
    for n in 0..x.n {
        for co in 0..y.c {
            for oy in 0..y.h {
                for ox in 0..y.w {
                    for ci in 0..x.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                                let ix = (ox * conv.stride + kx) as isize - conv.padding as isize;
                                if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                    continue;
                                }
                                f(y.at(n, co, oy, ox), x.at(n, ci, iy as usize, ix as usize), ((co * x.c + ci) * k + ky) * k + kx);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// y = conv(x, w) + b, then ReLU if the layer has one. Returns y and its dims.
pub fn conv2d_forward(conv: &Conv2d, x: &[f32], xd: Dims, w: &[f32], b: &[f32]) -> (Vec<f32>, Dims) {
    let yd = out_dims(conv, xd);
    let mut acc = vec![0f64; yd.len()];
    for_each_tap(conv, xd, |o, i, wi| acc[o] += x[i] as f64 * w[wi] as f64);
    let hw = yd.h * yd.w;
    let y = acc
        .iter()
        .enumerate()
        .map(|(o, &v)| {
            let v = (v + b[(o / hw) % yd.c] as f64) as f32;
            if conv.relu { v.max(0.0) } else { v }
        })
        .collect();
    (y, yd)
}

pub struct ConvGrads {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// Gradients of sum(y ⊙ gy) for the layer *without* its ReLU (mask gy first for a ReLU layer).
pub fn conv2d_backward(conv: &Conv2d, x: &[f32], xd: Dims, w: &[f32], gy: &[f32]) -> ConvGrads {
    let yd = out_dims(conv, xd);
    let mut gx = vec![0f64; x.len()];
    let mut gw = vec![0f64; w.len()];
    for_each_tap(conv, xd, |o, i, wi| {
        gx[i] += gy[o] as f64 * w[wi] as f64;
        gw[wi] += gy[o] as f64 * x[i] as f64;
    });
    let mut gb = vec![0f64; yd.c];
    let hw = yd.h * yd.w;
    for (o, &g) in gy.iter().enumerate() {
        gb[(o / hw) % yd.c] += g as f64;
    }
    let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    ConvGrads { x: f(gx), w: f(gw), b: f(gb) }
}
