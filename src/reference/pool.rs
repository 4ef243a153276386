//! Max and average pooling, window by window.

use super::Dims;
use crate::ops::Pool2d;

fn out_dims(pool: &Pool2d, x: Dims) -> Dims {
    let (oh, ow) = pool.output_size(x.h, x.w).expect("reference called with an impossible shape");
    Dims { h: oh, w: ow, ..x }
}

/// Calls `f(output index, input indices of the window (padding left out))` for every output.
fn for_each_window(pool: &Pool2d, x: Dims, mut f: impl FnMut(usize, &[usize])) {
    let y = out_dims(pool, x);
    let mut window = Vec::new();
    for plane in 0..x.n * x.c {
        for oy in 0..y.h {
            for ox in 0..y.w {
                window.clear();
                for ky in 0..pool.kernel_h {
                    for kx in 0..pool.kernel_w {
                        let iy = (oy * pool.stride + ky) as isize - pool.padding as isize;
                        let ix = (ox * pool.stride + kx) as isize - pool.padding as isize;
                        if iy >= 0 && ix >= 0 && iy < x.h as isize && ix < x.w as isize {
                            window.push((plane * x.h + iy as usize) * x.w + ix as usize);
                        }
                    }
                }
                f((plane * y.h + oy) * y.w + ox, &window);
            }
        }
    }
}

/// y and, per output, the flat input index of the first maximum.
pub fn max_pool_forward(pool: &Pool2d, x: &[f32], xd: Dims) -> (Vec<f32>, Vec<usize>, Dims) {
    let yd = out_dims(pool, xd);
    let mut y = vec![0f32; yd.len()];
    let mut arg = vec![0usize; yd.len()];
    for_each_window(pool, xd, |o, window| {
        let best = window.iter().copied().fold(window[0], |b, i| if x[i] > x[b] { i } else { b });
        y[o] = x[best];
        arg[o] = best;
    });
    (y, arg, yd)
}

pub fn max_pool_backward(argmax: &[usize], gy: &[f32], input_len: usize) -> Vec<f32> {
    let mut gx = vec![0f64; input_len];
    for (o, &i) in argmax.iter().enumerate() {
        gx[i] += gy[o] as f64;
    }
    gx.into_iter().map(|v| v as f32).collect()
}

/// Average with padding counted as zeros (divisor kernel_h·kernel_w).
pub fn avg_pool_forward(pool: &Pool2d, x: &[f32], xd: Dims) -> (Vec<f32>, Dims) {
    let yd = out_dims(pool, xd);
    let mut y = vec![0f32; yd.len()];
    let area = (pool.kernel_h * pool.kernel_w) as f64;
    for_each_window(pool, xd, |o, window| {
        y[o] = (window.iter().map(|&i| x[i] as f64).sum::<f64>() / area) as f32;
    });
    (y, yd)
}

pub fn avg_pool_backward(pool: &Pool2d, gy: &[f32], xd: Dims) -> Vec<f32> {
    let mut gx = vec![0f64; xd.len()];
    let area = (pool.kernel_h * pool.kernel_w) as f64;
    for_each_window(pool, xd, |o, window| {
        for &i in window {
            gx[i] += gy[o] as f64 / area;
        }
    });
    gx.into_iter().map(|v| v as f32).collect()
}
