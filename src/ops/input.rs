//! The input pipeline: a batch gathered by index from the GPU-resident dataset and resized.

use crate::engine::cpu;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Access;
use crate::ops::{check_shape, elementwise};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};
use crate::engine::wgsl::shaders;

/// A training step's augmentation: its salt ([`crate::train::augment::salt`]) and the row, in the
/// step's batch, of the first image gathered: draws are per row of the whole batch, so a
/// micro-batch draws exactly what the whole batch would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    pub salt: u32,
    pub first_row: u32,
}

/// images[b] = resize(dataset[order[first + b]]) / 255 (bilinear, half-pixel centres) and
/// labels[b] = dataset_labels[order[first + b]]; with `augment`, each image is then flipped,
/// cropped and jittered as [`crate::train::augment`] describes.
///
/// `pixels` holds `count` images of src_h×src_w u8 pixels packed four to a u32 (little-endian);
/// `all_labels` one u32 per image; `images` is [batch, 1, side, side]; `labels` is [batch] u32.
pub fn gather_resize(
    rec: &mut Recorder,
    pixels: &Tensor,
    (src_h, src_w): (usize, usize),
    all_labels: &Tensor,
    order: &Tensor,
    first: usize,
    images: &Tensor,
    labels: &Tensor,
    augment: Option<Augment>,
) -> Result<()> {
    let s = images.shape();
    let (batch, side) = match *s {
        [b, 1, h, w] if h == w => (b, h),
        _ => return Err(EngineError::shape("input batch", format!("images must be [batch, 1, side, side], got {s:?}"))),
    };
    check_shape("input labels", labels, &[batch])?;
    // The kernel splits element indices into images with index_math.wgsl's divmod.
    crate::ops::check_divided("input batch", "images", batch)?;
    let count = all_labels.len();
    if pixels.len() * 4 < count * src_h * src_w {
        return Err(EngineError::shape(
            "input dataset",
            format!("{count} images of {src_h}×{src_w} need {} packed words, got {}", (count * src_h * src_w).div_ceil(4), pixels.len()),
        ));
    }
    if first + batch > order.len() {
        return Err(EngineError::shape("input batch", format!("positions {first}..{} exceed the order's {} entries", first + batch, order.len())));
    }
    for (what, t) in [("dataset pixels", pixels), ("dataset labels", all_labels), ("order", order), ("batch labels", labels)] {
        if t.dtype() != DType::U32 {
            return Err(EngineError::shape("input", format!("{what} must be a u32 tensor")));
        }
    }
    if rec.cpu_threads().is_some() {
        let [pixels, all_labels, order, images, labels] = [pixels, all_labels, order, images, labels].map(|t| t.host().cloned());
        let (pixels, all_labels, order, images, labels) = (pixels?, all_labels?, order?, images?, labels?);
        return rec.task("gather_resize", move || {
            let (pixels, all_labels) = (pixels.read(), all_labels.read());
            let data = cpu::input::Dataset { pixels: &pixels, labels: &all_labels, h: src_h, w: src_w };
            cpu::input::gather_resize(&data, &order.read(), first, side, augment, &mut images.write()?, &mut labels.write()?)
        });
    }
    let (salt, first_row) = augment.map_or((0, 0), |a| (a.salt, a.first_row));
    let params = [batch as u32, side as u32, src_h as u32, src_w as u32, first as u32, augment.is_some() as u32, salt, first_row];
    let storage = [Access::Read, Access::Read, Access::Read, Access::ReadWrite, Access::ReadWrite];
    let buffers = [pixels.buffer()?, all_labels.buffer()?, order.buffer()?, images.buffer()?, labels.buffer()?];
    elementwise(rec, "gather_resize", || format!("{}\n{}", shaders::INDEX_MATH, shaders::GATHER_RESIZE), &storage, &params, &buffers, images.len())
}
