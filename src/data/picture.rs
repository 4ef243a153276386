//! A picture of the user's own as a Fashion-MNIST image: fitted into 28×28 keeping its aspect
//! ratio (each pixel the mean of the source pixels it covers), made grey, and inverted when its
//! edge is light — the dataset's clothes are light on a dark background. The browser decodes the
//! file; this takes the decoded RGBA, whatever its size or contents.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::engine::error::{EngineError, Result};

/// Fashion-MNIST's side.
pub const SIDE: usize = 28;

/// Larger pictures are scaled down by the browser before they get here (the app draws them into
/// a canvas of at most 256 pixels a side); this bounds the work for any other caller.
pub const MAX_PIXELS: usize = 4096 * 4096;

fn error(detail: String) -> EngineError {
    EngineError::Dataset { file: "the picture".into(), detail }
}

/// `rgba` holds `width` × `height` pixels, four bytes each (as `ImageData` does). Transparent
/// parts count as black, the dataset's background.
pub fn fashion_pixels(rgba: &[u8], width: usize, height: usize) -> Result<Vec<u8>> {
    if width == 0 || height == 0 {
        return Err(error(format!("has no pixels ({width}×{height}): pick a picture the browser can show")));
    }
    let pixels = width.checked_mul(height).filter(|&n| n <= MAX_PIXELS);
    let Some(pixels) = pixels else {
        return Err(error(format!("is {width}×{height}, above {MAX_PIXELS} pixels: scale it down first")));
    };
    if Some(rgba.len()) != pixels.checked_mul(4) {
        return Err(error(format!("gives {} bytes for {width}×{height} RGBA pixels, which need {}", rgba.len(), pixels.saturating_mul(4))));
    }
    // Grey over black: luma (ITU-R 601) weighted by alpha; all products stay below 2^32.
    let grey: Vec<u32> = rgba
        .chunks_exact(4)
        .map(|p| match *p {
            [r, g, b, a] => (u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114) * u32::from(a) / (1000 * 255),
            _ => 0,
        })
        .collect();
    let at = |x: usize, y: usize| grey.get(y.saturating_mul(width).saturating_add(x)).copied().unwrap_or(0);

    // The fitted box: the longer side becomes SIDE, the other keeps the ratio (at least 1).
    let long = width.max(height);
    let fit = |n: usize| (n.saturating_mul(SIDE).saturating_add(long / 2) / long).clamp(1, SIDE);
    let (bw, bh) = (fit(width), fit(height));
    let (ox, oy) = ((SIDE.saturating_sub(bw)) / 2, (SIDE.saturating_sub(bh)) / 2);
    // Source span [start, end) of box cell i of n cells over `len` pixels (never empty).
    let span = |i: usize, n: usize, len: usize| {
        let start = i.saturating_mul(len) / n;
        let end = (i.saturating_add(1).saturating_mul(len) / n).max(start.saturating_add(1)).min(len);
        start..end
    };
    let mut fitted = vec![0u8; bw.saturating_mul(bh)];
    for (i, cell) in fitted.iter_mut().enumerate() {
        let (bx, by) = (i % bw, i / bw);
        let (xs, ys) = (span(bx, bw, width), span(by, bh, height));
        let count = (xs.len().saturating_mul(ys.len())).max(1) as u64;
        let sum: u64 = ys.flat_map(|y| xs.clone().map(move |x| (x, y))).map(|(x, y)| u64::from(at(x, y))).sum();
        *cell = u8::try_from(sum / count).unwrap_or(u8::MAX);
    }
    // Light edge (mean above mid-grey): a dark object on a light ground, so invert.
    let edge: Vec<u8> = fitted
        .iter()
        .enumerate()
        .filter(|(i, _)| i % bw == 0 || i % bw == bw.saturating_sub(1) || i / bw == 0 || i / bw == bh.saturating_sub(1))
        .map(|(_, &v)| v)
        .collect();
    let light = edge.iter().map(|&v| u64::from(v)).sum::<u64>() > 127 * edge.len() as u64;
    let mut out = vec![0u8; SIDE * SIDE];
    for (i, &v) in fitted.iter().enumerate() {
        let (x, y) = (ox.saturating_add(i % bw), oy.saturating_add(i / bw));
        if let Some(o) = out.get_mut(y.saturating_mul(SIDE).saturating_add(x)) {
            *o = if light { u8::MAX - v } else { v };
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn solid(w: usize, h: usize, rgba: [u8; 4]) -> Vec<u8> {
        rgba.repeat(w * h)
    }

    #[test]
    fn a_dark_shape_on_white_becomes_light_on_black() {
        // 56×28: a white picture with a black square in the middle of its left half.
        let mut rgba = solid(56, 28, [255; 4]);
        for y in 10..18 {
            for x in 10..18 {
                rgba[(y * 56 + x) * 4..][..3].copy_from_slice(&[0, 0, 0]);
            }
        }
        let out = fashion_pixels(&rgba, 56, 28).unwrap();
        // Fitted as 28×14, centred: rows 7..21; the square lands near (5..9, 12..16) and is light.
        assert_eq!(out[0], 0, "the padding is background");
        assert_eq!(out[14 * 28 + 7], 255);
        assert_eq!(out[14 * 28 + 20], 0, "the white ground became black");
    }

    #[test]
    fn odd_sizes_and_transparency() {
        // A 1×1 picture fills the box; transparent pixels are background.
        assert_eq!(fashion_pixels(&[200, 200, 200, 255], 1, 1).unwrap(), vec![255 - 200; SIDE * SIDE]);
        assert_eq!(fashion_pixels(&solid(3, 5, [255, 255, 255, 0]), 3, 5).unwrap(), vec![0; SIDE * SIDE]);
        // A one-pixel-tall strip keeps one row.
        let out = fashion_pixels(&solid(1000, 1, [90, 90, 90, 255]), 1000, 1).unwrap();
        assert_eq!(out.iter().filter(|&&v| v > 0).count(), SIDE);
    }

    #[test]
    fn impossible_pictures_are_refused() {
        let msg = |r: Result<Vec<u8>>| r.unwrap_err().to_string();
        assert_eq!(msg(fashion_pixels(&[], 0, 0)), "the picture: has no pixels (0×0): pick a picture the browser can show");
        assert_eq!(msg(fashion_pixels(&[0; 7], 1, 2)), "the picture: gives 7 bytes for 1×2 RGBA pixels, which need 8");
        assert!(msg(fashion_pixels(&[], 20000, 20000)).contains("is 20000×20000, above 16777216 pixels"));
        assert!(msg(fashion_pixels(&[], usize::MAX, 3)).contains("above"));
    }
}
