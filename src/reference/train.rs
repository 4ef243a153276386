//! Loss, optimisers and the input resize.

pub struct CrossEntropy {
    /// Mean loss over the batch.
    pub loss: f64,
    pub correct: usize,
    /// d(mean loss)/d(logits).
    pub grad: Vec<f32>,
}

pub fn cross_entropy(logits: &[f32], labels: &[u32], classes: usize) -> CrossEntropy {
    let batch = labels.len();
    let mut loss = 0.0;
    let mut correct = 0;
    let mut grad = vec![0f32; logits.len()];
    for (b, &label) in labels.iter().enumerate() {
        let row = &logits[b * classes..(b + 1) * classes];
        let top = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let first_top = row.iter().position(|&v| v as f64 == top).unwrap();
        let total: f64 = row.iter().map(|&v| (v as f64 - top).exp()).sum();
        loss += total.ln() + top - row[label as usize] as f64;
        correct += (first_top == label as usize) as usize;
        for c in 0..classes {
            let prob = (row[c] as f64 - top).exp() / total;
            grad[b * classes + c] = ((prob - (c == label as usize) as u8 as f64) / batch as f64) as f32;
        }
    }
    CrossEntropy { loss: loss / batch as f64, correct, grad }
}

/// torch.optim.SGD, one step, in place.
pub fn sgd_step(p: &mut [f32], g: &[f32], velocity: &mut [f32], lr: f32, momentum: f32, weight_decay: f32) {
    for i in 0..p.len() {
        let d = g[i] as f64 + weight_decay as f64 * p[i] as f64;
        let step = if momentum != 0.0 { momentum as f64 * velocity[i] as f64 + d } else { d };
        velocity[i] = step as f32;
        p[i] = (p[i] as f64 - lr as f64 * step) as f32;
    }
}

/// torch.optim.Adam, step number t (from 1), in place.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u32, lr: f32, betas: (f32, f32), eps: f32, weight_decay: f32) {
    let (b1, b2) = (betas.0 as f64, betas.1 as f64);
    let bc1 = 1.0 - b1.powi(t as i32);
    let bc2 = 1.0 - b2.powi(t as i32);
    for i in 0..p.len() {
        let g = g[i] as f64 + weight_decay as f64 * p[i] as f64;
        let mi = b1 * m[i] as f64 + (1.0 - b1) * g;
        let vi = b2 * v[i] as f64 + (1.0 - b2) * g * g;
        m[i] = mi as f32;
        v[i] = vi as f32;
        p[i] = (p[i] as f64 - lr as f64 / bc1 * mi / (vi.sqrt() / bc2.sqrt() + eps as f64)) as f32;
    }
}

/// Bilinear resize of one u8 image to side×side with half-pixel centres, scaled to [0, 1].
pub fn resize_bilinear(image: &[u8], h: usize, w: usize, side: usize) -> Vec<f32> {
    let axis = |dst: usize, src: usize| {
        let s = ((dst as f64 + 0.5) * src as f64 / side as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(src - 1);
        (i0, (i0 + 1).min(src - 1), s - i0 as f64)
    };
    let px = |y: usize, x: usize| image[y * w + x] as f64;
    let mut out = Vec::with_capacity(side * side);
    for oy in 0..side {
        let (y0, y1, ly) = axis(oy, h);
        for ox in 0..side {
            let (x0, x1, lx) = axis(ox, w);
            let top = px(y0, x0) * (1.0 - lx) + px(y0, x1) * lx;
            let bottom = px(y1, x0) * (1.0 - lx) + px(y1, x1) * lx;
            out.push(((top * (1.0 - ly) + bottom * ly) / 255.0) as f32);
        }
    }
    out
}

/// One image (side × side, values in [0, 1]) augmented as AlexNet's recipe here does it: mirrored
/// when `flip`, then shifted by (`dy`, `dx`) with black where the shift uncovers nothing (a crop of
/// the image padded with black), then brightness `b` and contrast `c` about mid-grey, clamped to
/// [0, 1]: out(y, x) = clamp((in(y + dy, x' + dx)·b − ½)·c + ½) with x' = side − 1 − x when
/// flipped. In f64, written apart from both engines' gathers, which it checks.
pub fn augment(image: &[f32], side: usize, flip: bool, (dy, dx): (i32, i32), (b, c): (f32, f32)) -> Vec<f32> {
    let n = side as i64;
    let mut out = Vec::with_capacity(side * side);
    for y in 0..n {
        for x in 0..n {
            let mirrored = if flip { n - 1 - x } else { x };
            let (sy, sx) = (y + dy as i64, mirrored + dx as i64);
            let v = if sy < 0 || sx < 0 || sy >= n || sx >= n { 0.0 } else { image[(sy * n + sx) as usize] as f64 };
            out.push(((v * b as f64 - 0.5) * c as f64 + 0.5).clamp(0.0, 1.0) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// The augmentation reference does what it says on images small enough to check by eye.
    #[test]
    fn augment_flips_shifts_and_jitters_as_described() {
        let image: Vec<f32> = (0..9).map(|v| v as f32 / 8.0).collect();
        assert_eq!(super::augment(&image, 3, false, (0, 0), (1.0, 1.0)), image, "the identity draw");
        let flipped = super::augment(&image, 3, true, (0, 0), (1.0, 1.0));
        assert_eq!(&flipped[..3], &[image[2], image[1], image[0]]);
        let shifted = super::augment(&image, 3, false, (1, 0), (1.0, 1.0));
        assert_eq!(&shifted[..6], &image[3..]);
        assert_eq!(&shifted[6..], &[0.0; 3], "padding is black");
        let left = super::augment(&image, 3, false, (0, -1), (1.0, 1.0));
        assert_eq!([left[0], left[1], left[2]], [0.0, image[0], image[1]]);
        // Contrast about mid-grey: black lifts, white drops; brightness first, then the clamp.
        let jittered = super::augment(&[0.0], 1, false, (0, 0), (1.0, 0.5));
        assert_eq!(jittered, [0.25]);
        assert_eq!(super::augment(&[1.0], 1, false, (0, 0), (1.25, 1.25)), [1.0], "clamped to 1");
    }
}
