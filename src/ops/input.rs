//! The input pipeline: a batch gathered by index from the GPU-resident dataset and resized.

pub use crate::engine::augment::Augment;
use crate::engine::error::{EngineError, Result};
use crate::engine::op::Op;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};
use crate::ops::check_shape;

/// images[b] = resize(dataset[order[first + b]]) / 255 (bilinear, half-pixel centres) and
/// labels[b] = dataset_labels[order[first + b]]; with `augment`, each image is then flipped,
/// cropped and jittered as [`crate::engine::augment`] describes.
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
    rec.record(Op::GatherResize { src: (src_h, src_w), side, first, augment, pixels, all_labels, order, images, labels })
}
