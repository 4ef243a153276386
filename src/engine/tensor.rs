//! An array on a device (a GPU buffer, or host memory for the CPU engine) with an NCHW (or any)
//! shape, and channel views into it.

use crate::engine::cpu;
use crate::engine::device::Device;
use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::Gpu;

/// Element type of a tensor: activations and weights are f32; labels and indices are u32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

/// Where a tensor's values live: a GPU buffer for the WGSL engine, host memory for the CPU engine.
#[derive(Clone, Debug)]
enum Storage {
    Wgsl(wgpu::Buffer),
    Cpu(cpu::Buffer),
}

/// 4-byte elements on a device plus their shape. Cloning shares the same memory.
#[derive(Clone, Debug)]
pub struct Tensor {
    storage: Storage,
    shape: Vec<usize>,
    dtype: DType,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(device: &Device, shape: &[usize], dtype: DType, label: &str) -> Result<Tensor> {
        let bytes = checked_bytes(device, shape, label)?;
        let storage = match device {
            Device::Wgsl(gpu) => Storage::Wgsl(gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage: usage(),
                mapped_at_creation: false,
            })),
            Device::Cpu(_) => Storage::Cpu(cpu::Buffer::zeros(shape.iter().product(), label)?),
        };
        Ok(Tensor { storage, shape: shape.to_vec(), dtype })
    }

    /// Uploads f32 data of the given shape.
    pub fn from_f32(device: &Device, shape: &[usize], data: &[f32], label: &str) -> Result<Tensor> {
        Self::upload(device, shape, bytemuck::cast_slice(data), data.len(), DType::F32, label)
    }

    /// Uploads u32 data (labels, indices, packed bytes) of the given shape.
    pub fn from_u32(device: &Device, shape: &[usize], data: &[u32], label: &str) -> Result<Tensor> {
        Self::upload(device, shape, bytemuck::cast_slice(data), data.len(), DType::U32, label)
    }

    fn upload(device: &Device, shape: &[usize], bytes: &[u8], len: usize, dtype: DType, label: &str) -> Result<Tensor> {
        let expected: usize = shape.iter().product();
        if len != expected {
            return Err(EngineError::shape(
                label,
                format!("shape {shape:?} holds {expected} elements but {len} were given"),
            ));
        }
        let tensor = Tensor::zeros(device, shape, dtype, label)?;
        // Through the queue, not mapped at creation: mapping fails on a lost device.
        tensor.write_bytes(device, bytes);
        Ok(tensor)
    }

    fn write_bytes(&self, device: &Device, bytes: &[u8]) {
        match (&self.storage, device) {
            (Storage::Wgsl(buffer), Device::Wgsl(gpu)) => gpu.queue.write_buffer(buffer, 0, bytes),
            (Storage::Cpu(buffer), _) => match buffer.write() {
                Ok(mut values) => values.copy_from_slice(bytemuck::cast_slice(bytes)),
                Err(e) => report(device, e),
            },
            (Storage::Wgsl(_), Device::Cpu(_)) => report(device, mismatch("write")),
        }
    }

    /// Overwrites the whole tensor with `data` (queued before the next submission).
    pub fn write_f32(&self, device: &Device, data: &[f32]) -> Result<()> {
        if data.len() != self.len() || self.dtype != DType::F32 {
            return Err(EngineError::shape(
                "write",
                format!("tensor {:?} ({:?}) cannot take {} f32 values", self.shape, self.dtype, data.len()),
            ));
        }
        self.write_bytes(device, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Overwrites the whole u32 tensor with `data` (queued before the next submission).
    pub fn write_u32(&self, device: &Device, data: &[u32]) -> Result<()> {
        if data.len() != self.len() || self.dtype != DType::U32 {
            return Err(EngineError::shape(
                "write",
                format!("tensor {:?} ({:?}) cannot take {} u32 values", self.shape, self.dtype, data.len()),
            ));
        }
        self.write_bytes(device, bytemuck::cast_slice(data));
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

    /// The GPU buffer, for the WGSL engine's kernels; a CPU engine tensor has none.
    pub fn buffer(&self) -> Result<&wgpu::Buffer> {
        match &self.storage {
            Storage::Wgsl(buffer) => Ok(buffer),
            Storage::Cpu(_) => Err(mismatch("a WGSL kernel")),
        }
    }

    /// The host memory, for the CPU engine's kernels; a GPU tensor has none.
    pub(crate) fn host(&self) -> Result<&cpu::Buffer> {
        match &self.storage {
            Storage::Cpu(buffer) => Ok(buffer),
            Storage::Wgsl(_) => Err(mismatch("a CPU kernel")),
        }
    }

    /// Whether two tensors share memory (a reshape, or a view of the same activation).
    pub fn same_memory(&self, other: &Tensor) -> bool {
        match (&self.storage, &other.storage) {
            (Storage::Wgsl(a), Storage::Wgsl(b)) => a == b,
            (Storage::Cpu(a), Storage::Cpu(b)) => a.same(b),
            _ => false,
        }
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
        Ok(Tensor { storage: self.storage.clone(), shape: shape.to_vec(), dtype: self.dtype })
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

    /// Copies the tensor to host memory. Asynchronous: the browser's event loop keeps running
    /// meanwhile. Errors met by the work submitted before are reported here, as one typed error.
    pub async fn read_f32(&self, device: &Device) -> Result<Vec<f32>> {
        match &self.storage {
            Storage::Wgsl(_) => Ok(bytemuck::cast_slice(&self.read_bytes(gpu_of(device)?).await?).to_vec()),
            Storage::Cpu(buffer) => {
                device.take_error()?;
                Ok(buffer.read().clone())
            }
        }
    }

    /// Copies each of `tensors` to host memory, in order.
    pub async fn read_all_f32(device: &Device, tensors: &[Tensor]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(tensors.len());
        for tensor in tensors {
            out.push(tensor.read_f32(device).await?);
        }
        Ok(out)
    }

    pub async fn read_u32(&self, device: &Device) -> Result<Vec<u32>> {
        Ok(self.read_f32(device).await?.into_iter().map(f32::to_bits).collect())
    }

    async fn read_bytes(&self, gpu: &Gpu) -> Result<Vec<u8>> {
        let buffer = self.buffer()?;
        let size = (self.len() * 4) as u64; // the buffer may be longer (checked_bytes)
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        gpu.queue.submit([encoder.finish()]);
        gpu.read_mapped(&staging).await
    }
}

/// A channel range as kernels index it: its first channel, and the tensor's channels (the stride
/// between images, in planes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slab {
    pub offset: usize,
    pub total: usize,
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

    /// The channel range as kernels index it.
    pub fn slab(&self) -> Slab {
        Slab { offset: self.offset, total: self.total_channels() }
    }
}

fn usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

fn mismatch(what: &str) -> EngineError {
    EngineError::WrongEngine { what: what.into(), detail: "the tensor lives on the other engine's device (GPU and CPU engine tensors do not mix)".into() }
}

fn report(device: &Device, error: EngineError) {
    if let Device::Cpu(cpu) = device {
        cpu.report(error);
    }
}

fn gpu_of(device: &Device) -> Result<&Gpu> {
    device.gpu_ref().ok_or_else(|| mismatch("reading back"))
}

/// Bytes a tensor of `shape` needs, or an error naming it when a dimension is zero or it is larger
/// than the device lets one kernel bind.
fn checked_bytes(device: &Device, shape: &[usize], label: &str) -> Result<u64> {
    if shape.is_empty() || shape.contains(&0) {
        return Err(EngineError::shape(label, format!("shape {shape:?} has a zero-sized dimension")));
    }
    // Rounded up to whole vec4s, so kernels that work four elements at a time (relu.wgsl) cover
    // the tail without a scalar path.
    let bytes = shape.iter().try_fold(4u64, |acc, &d| acc.checked_mul(d as u64)).map_or(u64::MAX, |b| b.next_multiple_of(16));
    let limit = device.max_binding_bytes();
    if bytes > limit {
        return Err(EngineError::BufferTooLarge { what: format!("{label} {shape:?}"), bytes, limit });
    }
    Ok(bytes)
}
