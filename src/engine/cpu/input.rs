//! The batch gather on the CPU (gather_resize.wgsl's arithmetic): images picked by the epoch's
//! order, resized bilinearly with half-pixel centres in f32, scaled to [0, 1], and with `augment`
//! flipped, cropped and jittered by the same hashed draws ([`crate::engine::augment`]).

use crate::engine::cpu::for_chunks;
use crate::engine::error::{EngineError, Result};
use crate::engine::augment::{Augment, Augmentation};

/// Where the dataset lies: `count` images of `h × w` u8 pixels, packed four to a word.
pub(crate) struct Dataset<'a> {
    pub pixels: &'a [f32],
    pub labels: &'a [f32],
    pub h: usize,
    pub w: usize,
}

impl Dataset<'_> {
    fn pixel(&self, image: usize, y: usize, x: usize) -> f32 {
        let byte = (image * self.h + y) * self.w + x;
        ((self.pixels[byte / 4].to_bits() >> ((byte % 4) * 8)) & 255) as f32
    }
}

/// Source indices and weight along one axis, as PyTorch's area_pixel_compute_source_index.
fn source(dst: usize, src_size: usize, side: usize) -> (usize, usize, f32) {
    let scale = src_size as f32 / side as f32;
    let s = ((dst as f32 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (s.floor() as usize).min(src_size - 1);
    (i0, (i0 + 1).min(src_size - 1), s - i0 as f32)
}

/// images[b] = resize(dataset[order[first + b]]) (then augmented with the step's `salt`), labels[b]
/// its label (a u32 as f32 bits). An order naming an image past the dataset is refused.
pub(crate) fn gather_resize(data: &Dataset, order: &[f32], first: usize, side: usize, augment: Option<Augment>, images: &mut [f32], labels: &mut [f32]) -> Result<()> {
    let area = side * side;
    let batch = labels.len();
    let count = data.labels.len();
    if let Some(bad) = order[first..first + batch].iter().map(|o| o.to_bits() as usize).find(|&i| i >= count) {
        return Err(EngineError::shape("input batch", format!("the order names image {bad}, past the dataset's {count}")));
    }
    let xs: Vec<_> = (0..side).map(|x| source(x, data.w, side)).collect();
    let ys: Vec<_> = (0..side).map(|y| source(y, data.h, side)).collect();
    for_chunks(&mut images[..batch * area], area, |b, out| {
        let image = order[first + b].to_bits() as usize;
        // Separable: each source row resized across once (`across[y]`: the source row's side
        // values), then each output row blends two of them: the shader's formula, its products
        // shared instead of recomputed per output pixel.
        let across: Vec<f32> = (0..data.h)
            .flat_map(|y| xs.iter().map(move |&(x0, x1, lx)| data.pixel(image, y, x0) * (1.0 - lx) + data.pixel(image, y, x1) * lx))
            .collect();
        let resized = |row: &mut [f32], y: usize| {
            let (y0, y1, ly) = ys[y];
            let (top, bottom) = (&across[y0 * side..][..side], &across[y1 * side..][..side]);
            for ((o, t), b) in row.iter_mut().zip(top).zip(bottom) {
                *o = (t * (1.0 - ly) + b * ly) / 255.0;
            }
        };
        match augment {
            None => {
                for (y, row) in out.chunks_exact_mut(side).enumerate() {
                    resized(row, y);
                }
            }
            Some(Augment { salt, first_row }) => {
                let a = Augmentation::draw(salt, first_row.wrapping_add(b as u32), side as u32);
                let mut plain = vec![0.0f32; area];
                for (y, row) in plain.chunks_exact_mut(side).enumerate() {
                    resized(row, y);
                }
                apply(&a, &plain, side, out);
            }
        }
    });
    for (b, label) in labels.iter_mut().enumerate() {
        *label = data.labels[order[first + b].to_bits() as usize];
    }
    Ok(())
}

/// `out` = `image` (side × side) flipped, cropped and jittered as `a` draws it (gather_resize.wgsl's
/// arithmetic in f32; `crate::reference::augment` is the tests' f64 version).
fn apply(a: &Augmentation, image: &[f32], side: usize, out: &mut [f32]) {
    for y in 0..side {
        for x in 0..side {
            let x_flipped = if a.flip { side - 1 - x } else { x };
            let (sy, sx) = (y as i64 + a.dy as i64, x_flipped as i64 + a.dx as i64);
            let inside = (0..side as i64).contains(&sy) && (0..side as i64).contains(&sx);
            let v = if inside { image[sy as usize * side + sx as usize] } else { 0.0 };
            out[y * side + x] = ((v * a.brightness - 0.5) * a.contrast + 0.5).clamp(0.0, 1.0);
        }
    }
}
