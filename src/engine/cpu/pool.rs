//! Max and average pooling on the CPU, plane by plane over the cores, with the WGSL kernels'
//! conventions: a max window's winner is its first largest value (padding never wins), kept as its
//! position within the plane; average pooling counts padding as zeros and divides by kh·kw.

use crate::engine::cpu::{for_chunks, for_chunks2};
use crate::engine::op::PoolShape;

impl PoolShape {
    /// The input rows (or columns, with `kw` and `w`) of output row `o`'s window that lie inside
    /// the image.
    fn window(&self, o: usize, k: usize, size: usize) -> std::ops::Range<usize> {
        let start = o * self.stride;
        let lo = start.max(self.padding) - self.padding;
        let hi = (start + k).saturating_sub(self.padding).min(size);
        lo..hi.max(lo)
    }
}

/// y = max over each window; argmax = the winner's position in its plane (as f32 bits of a u32).
pub(crate) fn max_forward(s: &PoolShape, x: &[f32], y: &mut [f32], argmax: &mut [f32]) {
    let (hw, ohw) = (s.h * s.w, s.oh * s.ow);
    let cols: Vec<_> = (0..s.ow).map(|ox| s.window(ox, s.kw, s.w)).collect();
    let n = s.planes * ohw;
    for_chunks2(&mut y[..n], &mut argmax[..n], ohw, |plane, y, argmax| {
        let x = &x[plane * hw..][..hw];
        for oy in 0..s.oh {
            let rows = s.window(oy, s.kh, s.h);
            for (ox, cols) in cols.iter().enumerate() {
                // Every window holds an input (padding is at most half the kernel); the first wins
                // ties. Branch-free selects: on random activations a branch mispredicts often.
                let (mut best, mut at) = (-3.402_823e38f32, 0usize);
                if let (Some(iy), Some(ix)) = (rows.clone().next(), cols.clone().next()) {
                    (best, at) = (x[iy * s.w + ix], iy * s.w + ix);
                }
                for iy in rows.clone() {
                    let row = &x[iy * s.w..][cols.clone()];
                    for (j, &v) in row.iter().enumerate() {
                        let better = v > best;
                        best = if better { v } else { best };
                        at = if better { iy * s.w + cols.start + j } else { at };
                    }
                }
                y[oy * s.ow + ox] = best;
                argmax[oy * s.ow + ox] = f32::from_bits(at as u32);
            }
        }
    });
}

/// grad_x = each output's gradient at its window's winner, zero elsewhere (overwritten).
pub(crate) fn max_backward(s: &PoolShape, grad_y: &[f32], argmax: &[f32], grad_x: &mut [f32]) {
    let (hw, ohw) = (s.h * s.w, s.oh * s.ow);
    for_chunks(&mut grad_x[..s.planes * hw], hw, |plane, gx| {
        gx.fill(0.0);
        for (g, at) in grad_y[plane * ohw..][..ohw].iter().zip(&argmax[plane * ohw..][..ohw]) {
            if let Some(cell) = gx.get_mut(at.to_bits() as usize) {
                *cell += g;
            }
        }
    });
}

/// y = the mean of each window, padding counted as zeros; summed in f64 (a global pool's window is
/// a whole plane).
pub(crate) fn avg_forward(s: &PoolShape, x: &[f32], y: &mut [f32]) {
    let (hw, ohw) = (s.h * s.w, s.oh * s.ow);
    let area = (s.kh * s.kw) as f64;
    for_chunks(&mut y[..s.planes * ohw], ohw, |plane, out| {
        let x = &x[plane * hw..][..hw];
        for oy in 0..s.oh {
            let rows = s.window(oy, s.kh, s.h);
            for ox in 0..s.ow {
                let cols = s.window(ox, s.kw, s.w);
                let mut sum = 0.0f64;
                for iy in rows.clone() {
                    sum += x[iy * s.w..][cols.clone()].iter().map(|&v| v as f64).sum::<f64>();
                }
                out[oy * s.ow + ox] = (sum / area) as f32;
            }
        }
    });
}

/// grad_x = every window's gradient / (kh·kw) spread over its inputs (overwritten).
pub(crate) fn avg_backward(s: &PoolShape, grad_y: &[f32], grad_x: &mut [f32]) {
    let (hw, ohw) = (s.h * s.w, s.oh * s.ow);
    let area = (s.kh * s.kw) as f32;
    for_chunks(&mut grad_x[..s.planes * hw], hw, |plane, gx| {
        gx.fill(0.0);
        let gy = &grad_y[plane * ohw..][..ohw];
        for oy in 0..s.oh {
            let rows = s.window(oy, s.kh, s.h);
            for ox in 0..s.ow {
                let cols = s.window(ox, s.kw, s.w);
                let g = gy[oy * s.ow + ox] / area;
                for iy in rows.clone() {
                    for v in &mut gx[iy * s.w..][cols.clone()] {
                        *v += g;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Pool2d, PoolKind};
    use crate::reference::{self, Dims};

    /// Every kernel, stride and padding on odd sides, values from a few levels so windows hold
    /// ties (the first must win), against the f64 reference's values and winners.
    #[test]
    fn max_pooling_matches_the_reference_with_ties_and_edges() {
        for (k, stride, padding) in [(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 3, 2), (1, 1, 0), (4, 3, 1)] {
            for side in [k.max(2 * padding + 1), 7, 12, 13] {
                let pool = Pool2d { kind: PoolKind::Max, kernel_h: k, kernel_w: k, stride, padding };
                let Ok((oh, ow)) = pool.output_size(side, side + 1) else { continue };
                let xd = Dims { n: 2, c: 3, h: side, w: side + 1 };
                let x: Vec<f32> = (0..xd.len()).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 29) as f32 - 4.0).collect();
                let s = PoolShape { planes: 6, h: side, w: side + 1, oh, ow, kh: k, kw: k, stride, padding };
                let (mut y, mut at) = (vec![f32::NAN; 6 * oh * ow], vec![f32::NAN; 6 * oh * ow]);
                max_forward(&s, &x, &mut y, &mut at);
                let (want_y, want_at, _) = reference::max_pool_forward(&pool, &x, xd);
                assert_eq!(y, want_y, "k{k} s{stride} p{padding} side {side}: values");
                let at: Vec<u32> = at.iter().map(|a| a.to_bits()).collect();
                let want_at: Vec<u32> = want_at.iter().enumerate().map(|(o, &a)| (a - o / (oh * ow) * side * (side + 1)) as u32).collect();
                assert_eq!(at, want_at, "k{k} s{stride} p{padding} side {side}: winners");
            }
        }
    }
}
