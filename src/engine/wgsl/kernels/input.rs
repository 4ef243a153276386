//! The batch gather: images picked by the epoch's order from the dataset on the GPU, resized and
//! (while training, with AlexNet's augmentation) flipped, cropped and jittered.

use crate::engine::augment::Augment;
use crate::engine::error::Result;
use crate::engine::tensor::Tensor;
use crate::engine::wgsl::kernels::per_element;
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu, shaders};

/// `tensors`: the dataset's packed pixels and labels, the order, the batch's images and labels.
pub(super) fn gather_resize(q: &mut Queue, gpu: &Gpu, (src_h, src_w): (usize, usize), side: usize, first: usize, augment: Option<Augment>, tensors: [&Tensor; 5]) -> Result<()> {
    let images = tensors[3];
    let batch = images.len() / (side * side);
    let (salt, first_row) = augment.map_or((0, 0), |a| (a.salt, a.first_row));
    let params = [batch as u32, side as u32, src_h as u32, src_w as u32, first as u32, augment.is_some() as u32, salt, first_row];
    let storage = [Access::Read, Access::Read, Access::Read, Access::ReadWrite, Access::ReadWrite];
    let [pixels, all_labels, order, image_buffer, labels] = tensors.map(Tensor::buffer);
    let buffers = [pixels?, all_labels?, order?, image_buffer?, labels?];
    per_element(q, gpu, "gather_resize", || format!("{}\n{}", shaders::INDEX_MATH, shaders::GATHER_RESIZE), &storage, &params, &buffers, images.len())
}
