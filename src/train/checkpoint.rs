//! A training run saved whole, so it can continue exactly as if it had never stopped: the
//! network, the training configuration, the parameters, the optimiser's state, the step and epoch
//! counters, where the epoch's shuffle was drawn from, and the running loss sums. One format for
//! the CLI and the app: a safetensors file whose parameters keep PyTorch's `state_dict` keys (so
//! it also loads as a weights file), with the optimiser's buffers under `optimizer.first.<key>` and
//! `optimizer.second.<key>`, and the rest as JSON in the metadata entry `cnnscope.checkpoint`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::engine::error::{EngineError, Result};
use crate::model::weights::{self, SavedNet};
pub use crate::model::weights::{METADATA_KEY, header_len, is_checkpoint};
use crate::net::{Net, NetConfig, ParamSpec};
use crate::ops::{Adam, Sgd};
use crate::train::optimizer::Optimizer;
use crate::train::recipe::TrainConfig;

const FORMAT: u32 = 1;

/// Where a run stands: everything besides the tensors that its next step depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunState {
    /// Updates done in total.
    pub steps: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Batches done in the current epoch.
    pub batch_in_epoch: usize,
    /// Adam's update count (bias correction); SGD's too, unused.
    pub optimizer_steps: u32,
    /// The batch-order generator's position from which the current epoch's order is (or, at an
    /// epoch boundary, will be) drawn.
    pub order_position: u128,
    /// The GPU's running loss, correct and example sums since the last reset, as f32 bits.
    pub sums: [u32; 3],
    /// Training images the run was drawing from (its batches depend on the count).
    pub train_images: usize,
}

/// A saved run.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub net: NetConfig,
    pub config: TrainConfig,
    /// The epochs the run was asked for.
    pub epochs: usize,
    pub state: RunState,
    /// One vector per parameter, in `state_dict` order; then the optimiser's first buffers
    /// (momentum, or Adam's first moment) and, for Adam, second moments, in the same order.
    pub params: Vec<Vec<f32>>,
    pub first: Vec<Vec<f32>>,
    pub second: Vec<Vec<f32>>,
    /// What the app keeps with a run (curves, epoch lines) as JSON; empty from the CLI.
    pub notes: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum OptimizerMeta {
    Sgd { lr: f32, momentum: f32, weight_decay: f32 },
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32 },
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    batch: usize,
    optimizer: OptimizerMeta,
    seed: u64,
    epochs: usize,
    steps: u64,
    epoch: usize,
    batch_in_epoch: usize,
    optimizer_steps: u32,
    /// u128 as decimal text: JSON numbers stop being exact at 2^53.
    order_position: String,
    sums: [u32; 3],
    train_images: usize,
    #[serde(default)]
    notes: String,
    /// Written since augmentation came; older checkpoints trained without it.
    #[serde(default)]
    augment: bool,
}

fn error(detail: impl Into<String>) -> EngineError {
    EngineError::Weights(detail.into())
}

/// Every tensor a checkpoint of `net` holds, in file order: the parameters, then
/// `optimizer.first.<key>` for each, then (Adam) `optimizer.second.<key>`; and how many
/// parameters there are.
fn tensor_specs(net: &NetConfig, optimizer: Optimizer) -> Result<(Vec<ParamSpec>, usize)> {
    let params = Net::new(net.clone())?.root.params("");
    let buffers = |which: &'static str| params.iter().map(move |p| ParamSpec { name: format!("optimizer.{which}.{}", p.name), shape: p.shape.clone() });
    let mut specs: Vec<ParamSpec> = params.iter().cloned().chain(buffers("first")).collect();
    if matches!(optimizer, Optimizer::Adam(_)) {
        specs.extend(buffers("second"));
    }
    Ok((specs, params.len()))
}

/// The metadata that makes a file a checkpoint of this run: the network's entries and the run's
/// state under [`METADATA_KEY`].
fn metadata(net: &NetConfig, config: &TrainConfig, epochs: usize, s: RunState, notes: &str) -> Result<HashMap<String, String>> {
    let optimizer = match config.optimizer {
            Optimizer::Sgd(Sgd { lr, momentum, weight_decay }) => OptimizerMeta::Sgd { lr, momentum, weight_decay },
            Optimizer::Adam(Adam { lr, beta1, beta2, eps, weight_decay }) => OptimizerMeta::Adam { lr, beta1, beta2, eps, weight_decay },
        };
    let meta = Meta {
        format: FORMAT,
        batch: config.batch,
        optimizer,
        seed: config.seed,
        augment: config.augment,
        epochs,
        steps: s.steps,
        epoch: s.epoch,
        batch_in_epoch: s.batch_in_epoch,
        optimizer_steps: s.optimizer_steps,
        order_position: s.order_position.to_string(),
        sums: s.sums,
        train_images: s.train_images,
        notes: notes.to_string(),
    };
    let json = serde_json::to_string(&meta).map_err(|e| error(e.to_string()))?;
    let mut metadata: HashMap<String, String> = weights::net_metadata(net);
    metadata.insert(METADATA_KEY.to_string(), json);
    Ok(metadata)
}

/// A checkpoint written as a stream ([`crate::train::Trainer::checkpoint_stream`]): the file's
/// header, which places every tensor from its shape alone, then each tensor's bytes in `specs`
/// order, read back one at a time as the writer takes them. A save then holds one tensor besides
/// what it writes, not every tensor and the whole file (VGG-11 at full width with Adam: 1.5 GB
/// twice); the file is the same safetensors checkpoint [`Checkpoint::from_bytes`] reads.
pub struct CheckpointStream<'t> {
    pub header: Vec<u8>,
    pub tensors: Vec<&'t crate::Tensor>,
    /// The parameters' names (they come first in `tensors`): each is checked finite as it is read.
    pub(crate) params: Vec<String>,
    /// The run's step and rate, for the refusal of a diverged state.
    pub(crate) step: u64,
    pub(crate) lr: f32,
}

impl CheckpointStream<'_> {
    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.tensors.iter().fold(self.header.len() as u64, |sum, t| sum.saturating_add(4 * t.len() as u64))
    }

    /// Writes the whole file through `write` (header, then each tensor as read back); a tensor
    /// that cannot be read back fails it as `engine(error)`.
    pub async fn write_to<E>(
        self,
        device: &crate::Device,
        mut write: impl AsyncFnMut(&[u8]) -> std::result::Result<(), E>,
        engine: impl Fn(EngineError) -> E,
    ) -> std::result::Result<(), E> {
        write(&self.header).await?;
        for (i, tensor) in self.tensors.into_iter().enumerate() {
            let values = tensor.read_f32(device).await.map_err(&engine)?;
            if let Some(name) = self.params.get(i) {
                finite(name, &values, self.step, self.lr).map_err(&engine)?;
            }
            write(bytemuck::cast_slice(&values)).await?;
        }
        Ok(())
    }
}

/// The buffer a whole checkpoint file of `size` bytes is written into, set aside at once: grown by
/// doubling, a file past 1 GiB asks wasm32 for 2^31 bytes and the worker aborts ("capacity
/// overflow") where the file itself would have fit. One that cannot be set aside is refused with
/// its size.
fn file_buffer(size: u64) -> Result<Vec<u8>> {
    let mut file = Vec::new();
    let reserved = usize::try_from(size).map_err(|_| ()).and_then(|n| file.try_reserve_exact(n).map_err(|_| ()));
    match reserved {
        Ok(()) => Ok(file),
        Err(()) => Err(error(format!(
            "the checkpoint file is {}, more than this process can set aside in one piece: download the run's weights instead, or keep it natively",
            crate::engine::error::human(size)
        ))),
    }
}

/// A parameter about to be kept must be finite: an update can explode after a finite loss (the loss
/// is computed before the update), and a keep must never hold a diverged state.
pub(crate) fn finite(name: &str, values: &[f32], step: u64, lr: f32) -> Result<()> {
    match values.iter().all(|v| v.is_finite()) {
        true => Ok(()),
        false => Err(EngineError::NotFinite { step, tensor: name.to_string(), lr }),
    }
}

/// The header of a checkpoint whose tensors (`specs`, in file order, each f32) follow it in that
/// order: every tensor's place, and the metadata, as safetensors lays it out (JSON with sorted
/// keys, padded with spaces to 8 bytes, after its 8-byte length).
fn stream_header(specs: &[ParamSpec], metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    use std::collections::BTreeMap;
    let mut entries: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut offset = 0u64;
    for spec in specs {
        let bytes = spec.shape.iter().try_fold(4u64, |b, &d| b.checked_mul(d as u64)).ok_or_else(|| error(format!("{} is too large to save", spec.name)))?;
        let end = offset.checked_add(bytes).ok_or_else(|| error("the checkpoint is too large to save"))?;
        entries.insert(spec.name.clone(), serde_json::json!({ "data_offsets": [offset, end], "dtype": "F32", "shape": spec.shape }));
        offset = end;
    }
    let metadata: BTreeMap<String, String> = metadata.into_iter().collect();
    entries.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut json = serde_json::to_vec(&entries).map_err(|e| error(e.to_string()))?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut header = (json.len() as u64).to_le_bytes().to_vec();
    header.extend(json);
    Ok(header)
}

/// [`CheckpointStream`]'s header for a run of `net` with `config`: its tensors follow in
/// [`tensor_specs`] order (the parameters, then the optimiser's buffers).
pub(crate) fn streamed(net: &NetConfig, config: &TrainConfig, epochs: usize, state: RunState, notes: &str) -> Result<Vec<u8>> {
    let (specs, _) = tensor_specs(net, config.optimizer)?;
    stream_header(&specs, metadata(net, config, epochs, state, notes)?)
}

impl Checkpoint {
    /// The checkpoint as a file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (specs, _) = tensor_specs(&self.net, self.config.optimizer)?;
        // Borrowed, not cloned: a checkpoint being saved is its tensors once and the file once
        // (VGG-11 at full width with Adam: a clone made it 4.6 GB, past wasm32's 4 GiB).
        let values: Vec<&Vec<f32>> = self.params.iter().chain(&self.first).chain(&self.second).collect();
        if values.len() != specs.len() {
            return Err(error(format!("a checkpoint of {} tensors for {} expected", values.len(), specs.len())));
        }
        // The streamed layout, whole: one way a checkpoint file is laid out.
        let header = stream_header(&specs, metadata(&self.net, &self.config, self.epochs, self.state, &self.notes)?)?;
        let size = values.iter().fold(header.len() as u64, |sum, v| sum.saturating_add(4 * v.len() as u64));
        let mut file = file_buffer(size)?;
        file.extend_from_slice(&header);
        for (spec, v) in specs.iter().zip(values) {
            if v.len() as u64 != spec.shape.iter().map(|&d| d as u64).product::<u64>() {
                return Err(error(format!("{} holds {} values for shape {:?}", spec.name, v.len(), spec.shape)));
            }
            file.extend_from_slice(bytemuck::cast_slice(v));
        }
        Ok(file)
    }

    /// Reads a checkpoint file; a plain weights file, or one that does not hold every tensor of
    /// its network, is refused with the reason.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint> {
        let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| error(format!("not a valid safetensors file ({e})")))?;
        let Header { net, config, epochs, state, notes } = Header::from_metadata(metadata.metadata().as_ref())?;
        let (specs, n) = tensor_specs(&net, config.optimizer)?;
        let mut values = weights::from_safetensors_exact(&specs, bytes)?.into_iter();
        let params: Vec<Vec<f32>> = values.by_ref().take(n).collect();
        let first: Vec<Vec<f32>> = values.by_ref().take(n).collect();
        let second: Vec<Vec<f32>> = values.collect();
        Ok(Checkpoint { net, config, epochs, state, params, first, second, notes })
    }
}

impl Checkpoint {
    /// Reads a checkpoint a tensor at a time: from its header (the file's first [`header_len`]
    /// bytes) and `read(from, to)`, which gives the file's bytes in that range. A kept run opens
    /// without its whole file in memory beside its tensors. The same checks as
    /// [`Checkpoint::from_bytes`]: every tensor of the network, each an f32 tensor of its shape,
    /// placed back to back to the file's end (`file_len`).
    pub async fn from_pieces<E>(
        start: &[u8],
        file_len: u64,
        mut read: impl AsyncFnMut(u64, u64) -> std::result::Result<Vec<u8>, E>,
        engine: impl Fn(EngineError) -> E,
    ) -> std::result::Result<Checkpoint, E> {
        #[derive(Deserialize)]
        struct Entry {
            dtype: safetensors::Dtype,
            shape: Vec<usize>,
            data_offsets: (u64, u64),
        }
        let header = Header::read(start).map_err(&engine)?;
        let end = header_len(start).ok_or_else(|| engine(error("the file is shorter than its header")))?;
        if let Some(key) = weights::duplicate_key(start) {
            return Err(engine(error(format!("its header names {key} twice: which one is meant is unclear"))));
        }
        let json: HashMap<String, serde_json::Value> =
            serde_json::from_slice(start.get(8..end).unwrap_or_default()).map_err(|e| engine(error(format!("not a valid safetensors header ({e})"))))?;
        let mut entries: HashMap<&str, Entry> = HashMap::new();
        for (name, value) in json.iter().filter(|(name, _)| *name != "__metadata__") {
            let entry: Entry = serde_json::from_value(value.clone()).map_err(|e| engine(error(format!("{name}: {e}"))))?;
            entries.insert(name, entry);
        }
        let (specs, n) = tensor_specs(&header.net, header.config.optimizer).map_err(&engine)?;
        weights::check_names(&specs, &entries.keys().copied().collect()).map_err(&engine)?;
        // Back to back from the header's end to the file's, as safetensors lays them out.
        let mut spans: Vec<(u64, u64)> = entries.values().map(|e| e.data_offsets).collect();
        spans.sort_unstable();
        let data_len = spans.iter().try_fold(0u64, |at, &(from, to)| (from == at && to >= from).then_some(to));
        if data_len.and_then(|len| len.checked_add(end as u64)) != Some(file_len) {
            return Err(engine(error("not a valid safetensors file (its tensors do not fill the file back to back)")));
        }
        let mut values = Vec::with_capacity(specs.len());
        for spec in &specs {
            let entry = entries.get(spec.name.as_str()).ok_or_else(|| engine(error(format!("{} is missing", spec.name))))?;
            let (from, to) = entry.data_offsets;
            let elements = entry.shape.iter().try_fold(4u64, |b, &d| b.checked_mul(d as u64));
            if elements != Some(to - from) {
                return Err(engine(error(format!("{}: its bytes do not match its shape", spec.name))));
            }
            let bytes = read(end as u64 + from, end as u64 + to).await?;
            values.push(weights::values(spec, entry.dtype, &entry.shape, &bytes).map_err(&engine)?);
        }
        let mut values = values.into_iter();
        let params: Vec<Vec<f32>> = values.by_ref().take(n).collect();
        let first: Vec<Vec<f32>> = values.by_ref().take(n).collect();
        let second: Vec<Vec<f32>> = values.collect();
        let Header { net, config, epochs, state, notes } = header;
        Ok(Checkpoint { net, config, epochs, state, params, first, second, notes })
    }
}

/// Everything in a checkpoint but its tensors: what a list of kept runs shows, read from the
/// file's first [`header_len`] bytes alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub net: NetConfig,
    pub config: TrainConfig,
    pub epochs: usize,
    pub state: RunState,
    pub notes: String,
}

impl Header {
    /// Reads the header at the start of a checkpoint file (its first [`header_len`] bytes).
    pub fn read(start: &[u8]) -> Result<Header> {
        Header::from_metadata(weights::header_metadata(start).map_err(error)?.as_ref())
    }

    /// The network and training state a checkpoint's metadata holds.
    fn from_metadata(metadata: Option<&HashMap<String, String>>) -> Result<Header> {
        let Some(json) = metadata.and_then(|m| m.get(METADATA_KEY)) else {
            return Err(error("it holds weights but no training state, so it is not a checkpoint: start a new run from it instead"));
        };
        let meta: Meta = serde_json::from_str(json).map_err(|e| error(format!("its training state cannot be read ({e})")))?;
        if meta.format != FORMAT {
            return Err(error(format!("it is a checkpoint of format {}, this cnnscope reads format {FORMAT}", meta.format)));
        }
        let saved = metadata.map(SavedNet::from_metadata).transpose()?.unwrap_or_default();
        let arch = saved.arch.clone().ok_or_else(|| error("its metadata names no network"))?;
        let optimizer = match meta.optimizer {
            OptimizerMeta::Sgd { lr, momentum, weight_decay } => Optimizer::Sgd(Sgd { lr, momentum, weight_decay }),
            OptimizerMeta::Adam { lr, beta1, beta2, eps, weight_decay } => Optimizer::Adam(Adam { lr, beta1, beta2, eps, weight_decay }),
        };
        let config = TrainConfig { batch: meta.batch, optimizer, seed: meta.seed, augment: meta.augment };
        config.check()?;
        let order_position = meta.order_position.parse().map_err(|_| error(format!("its batch-order position {:?} is not a number", meta.order_position)))?;
        Ok(Header {
            net: saved.config(NetConfig::new(arch, 1)),
            config,
            epochs: meta.epochs,
            state: RunState {
                steps: meta.steps,
                epoch: meta.epoch,
                batch_in_epoch: meta.batch_in_epoch,
                optimizer_steps: meta.optimizer_steps,
                order_position,
                sums: meta.sums,
                train_images: meta.train_images,
            },
            notes: meta.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    /// A file too big to set aside is refused with its size, never a "capacity overflow" abort.
    #[test]
    fn a_file_that_cannot_be_set_aside_is_refused_with_its_size() {
        assert!(super::file_buffer(1 << 20).is_ok_and(|v| v.capacity() == 1 << 20 && v.is_empty()));
        let refused = super::file_buffer(u64::MAX).unwrap_err().to_string();
        assert!(refused.contains("the checkpoint file is 17179869184.0 GiB, more than this process can set aside in one piece"), "{refused}");
    }
}
