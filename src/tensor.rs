//! A GPU-resident array with an NCHW (or any) shape, and channel views into it.


use crate::error::{EngineError, Result};
use crate::gpu::Gpu;

/// Element type of a tensor: activations and weights are f32; labels and indices are u32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

/// A GPU buffer of 4-byte elements plus its shape. Cloning shares the same GPU memory.
#[derive(Clone, Debug)]
pub struct Tensor {
    buffer: wgpu::Buffer,
    shape: Vec<usize>,
    dtype: DType,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(gpu: &Gpu, shape: &[usize], dtype: DType, label: &str) -> Result<Tensor> {
        let bytes = checked_bytes(gpu, shape, label)?;
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: usage(),
            mapped_at_creation: false,
        });
        Ok(Tensor { buffer, shape: shape.to_vec(), dtype })
    }

    /// Uploads f32 data of the given shape.
    pub fn from_f32(gpu: &Gpu, shape: &[usize], data: &[f32], label: &str) -> Result<Tensor> {
        Self::upload(gpu, shape, bytemuck::cast_slice(data), data.len(), DType::F32, label)
    }

    /// Uploads u32 data (labels, indices, packed bytes) of the given shape.
    pub fn from_u32(gpu: &Gpu, shape: &[usize], data: &[u32], label: &str) -> Result<Tensor> {
        Self::upload(gpu, shape, bytemuck::cast_slice(data), data.len(), DType::U32, label)
    }

    fn upload(gpu: &Gpu, shape: &[usize], bytes: &[u8], len: usize, dtype: DType, label: &str) -> Result<Tensor> {
        let expected: usize = shape.iter().product();
        if len != expected {
            return Err(EngineError::shape(
                label,
                format!("shape {shape:?} holds {expected} elements but {len} were given"),
            ));
        }
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: checked_bytes(gpu, shape, label)?,
            usage: usage(),
            // Through the queue, not mapped at creation: mapping fails on a lost device.
            mapped_at_creation: false,
        });
        gpu.queue.write_buffer(&buffer, 0, bytes);
        Ok(Tensor { buffer, shape: shape.to_vec(), dtype })
    }

    /// Overwrites the whole tensor with `data` (queued before the next submission).
    pub fn write_f32(&self, gpu: &Gpu, data: &[f32]) -> Result<()> {
        if data.len() != self.len() || self.dtype != DType::F32 {
            return Err(EngineError::shape(
                "write",
                format!("tensor {:?} ({:?}) cannot take {} f32 values", self.shape, self.dtype, data.len()),
            ));
        }
        gpu.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Overwrites the whole u32 tensor with `data` (queued before the next submission).
    pub fn write_u32(&self, gpu: &Gpu, data: &[u32]) -> Result<()> {
        if data.len() != self.len() || self.dtype != DType::U32 {
            return Err(EngineError::shape(
                "write",
                format!("tensor {:?} ({:?}) cannot take {} u32 values", self.shape, self.dtype, data.len()),
            ));
        }
        gpu.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// The same memory seen with another shape of the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(EngineError::shape(
                "reshape",
                format!("cannot view {:?} ({} elements) as {shape:?} ({n} elements)", self.shape, self.len()),
            ));
        }
        Ok(Tensor { buffer: self.buffer.clone(), shape: shape.to_vec(), dtype: self.dtype })
    }

    /// All channels of an NCHW tensor; any other rank is refused (a convolution given a flat
    /// tensor says so instead of indexing past its shape).
    pub fn view(&self) -> Result<View<'_>> {
        match self.shape.as_slice() {
            &[_, channels, _, _] => Ok(View { tensor: self, offset: 0, channels }),
            shape => Err(EngineError::shape("channel view", format!("needs an NCHW tensor (4 dimensions), got shape {shape:?}"))),
        }
    }

    /// Channels `offset..offset + channels` of an NCHW tensor: how Inception's paths write straight
    /// into their slice of the concatenated output.
    pub fn channels(&self, offset: usize, channels: usize) -> Result<View<'_>> {
        let total = self.shape.get(1).copied().unwrap_or(0);
        if self.shape.len() != 4 || offset + channels > total || channels == 0 {
            return Err(EngineError::shape(
                "channel view",
                format!("channels {offset}..{} do not fit a tensor of shape {:?}", offset + channels, self.shape),
            ));
        }
        Ok(View { tensor: self, offset, channels })
    }

    /// Copies the tensor to the CPU. Asynchronous: the browser's event loop keeps running meanwhile.
    pub async fn read_f32(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&self.read_bytes(gpu).await?).to_vec())
    }

    /// Copies each of `tensors` to the CPU, in order.
    pub async fn read_all_f32(gpu: &Gpu, tensors: &[Tensor]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(tensors.len());
        for tensor in tensors {
            out.push(tensor.read_f32(gpu).await?);
        }
        Ok(out)
    }

    pub async fn read_u32(&self, gpu: &Gpu) -> Result<Vec<u32>> {
        Ok(bytemuck::cast_slice(&self.read_bytes(gpu).await?).to_vec())
    }

    async fn read_bytes(&self, gpu: &Gpu) -> Result<Vec<u8>> {
        let size = (self.len() * 4) as u64; // the buffer may be longer (checked_bytes)
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, size);
        gpu.queue.submit([encoder.finish()]);
        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        gpu.poll();
        let mapped = receiver.await;
        gpu.take_error()?;
        mapped.map_err(|_| EngineError::Readback("the device dropped the request".into()))?.map_err(|e| EngineError::Readback(e.to_string()))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| EngineError::Readback(e.to_string()))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

/// A channel range of an NCHW tensor, as kernels read or write it.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub tensor: &'a Tensor,
    /// First channel of the range.
    pub offset: usize,
    /// Number of channels in the range.
    pub channels: usize,
}

/// A view is only made of an NCHW tensor ([`Tensor::view`], [`Tensor::channels`]).
impl View<'_> {
    fn nchw(&self) -> [usize; 4] {
        match *self.tensor.shape() {
            [n, c, h, w] => [n, c, h, w],
            _ => unreachable!("views are made of 4-dimensional tensors only"),
        }
    }

    /// (batch, channels in the range, height, width).
    pub fn dims(&self) -> (usize, usize, usize, usize) {
        let [n, _, h, w] = self.nchw();
        (n, self.channels, h, w)
    }

    /// Channels of the whole underlying tensor: the stride between images.
    pub fn total_channels(&self) -> usize {
        self.nchw()[1]
    }
}

fn usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

/// Bytes a tensor of `shape` needs, or an error naming it when a dimension is zero or it is larger
/// than the device lets one kernel bind.
fn checked_bytes(gpu: &Gpu, shape: &[usize], label: &str) -> Result<u64> {
    if shape.is_empty() || shape.contains(&0) {
        return Err(EngineError::shape(label, format!("shape {shape:?} has a zero-sized dimension")));
    }
    // Rounded up to whole vec4s, so kernels that work four elements at a time (relu.wgsl) cover
    // the tail without a scalar path.
    let bytes = shape.iter().try_fold(4u64, |acc, &d| acc.checked_mul(d as u64)).map_or(u64::MAX, |b| b.next_multiple_of(16));
    let limit = gpu.max_binding_bytes();
    if bytes > limit {
        return Err(EngineError::BufferTooLarge { what: format!("{label} {shape:?}"), bytes, limit });
    }
    Ok(bytes)
}
