//! A training run saved whole, so it can continue exactly as if it had never stopped: the
//! network, the training configuration, the parameters, the optimiser's state, the step and epoch
//! counters, where the epoch's shuffle was drawn from, and the running loss sums. One format for
//! the CLI and the app: a safetensors file whose parameters keep PyTorch's `state_dict` keys (so
//! it also loads as a weights file), with the optimiser's buffers under `optimizer.first.<key>` and
//! `optimizer.second.<key>`, and the rest as JSON in the metadata entry `cnnscope.checkpoint`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::model::weights::{self, SavedNet};
use crate::net::{Net, NetConfig, ParamSpec};
use crate::ops::{Adam, Sgd};
use crate::train::{Optimizer, TrainConfig};

/// The metadata entry that makes a weights file a checkpoint.
pub const METADATA_KEY: &str = "cnnscope.checkpoint";
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
}

/// Whether `bytes` are a checkpoint (a weights file with training state), without reading the
/// tensors.
pub fn is_checkpoint(bytes: &[u8]) -> bool {
    safetensors::SafeTensors::read_metadata(bytes).is_ok_and(|(_, m)| m.metadata().as_ref().is_some_and(|m| m.contains_key(METADATA_KEY)))
}

fn error(detail: impl Into<String>) -> EngineError {
    EngineError::Weights(detail.into())
}

/// The optimiser buffers' specs: `optimizer.<which>.<key>` for each parameter.
fn buffer_specs(params: &[ParamSpec], which: &str) -> Vec<ParamSpec> {
    params.iter().map(|p| ParamSpec { name: format!("optimizer.{which}.{}", p.name), shape: p.shape.clone() }).collect()
}

impl Checkpoint {
    /// The checkpoint as a file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let net = Net::new(self.net)?;
        let params = net.root.params("");
        let mut specs = params.clone();
        specs.extend(buffer_specs(&params, "first"));
        let mut values: Vec<Vec<f32>> = self.params.clone();
        values.extend(self.first.iter().cloned());
        if matches!(self.config.optimizer, Optimizer::Adam(_)) {
            specs.extend(buffer_specs(&params, "second"));
            values.extend(self.second.iter().cloned());
        }
        if values.len() != specs.len() {
            return Err(error(format!("a checkpoint of {} tensors for {} expected", values.len(), specs.len())));
        }
        let optimizer = match self.config.optimizer {
            Optimizer::Sgd(Sgd { lr, momentum, weight_decay }) => OptimizerMeta::Sgd { lr, momentum, weight_decay },
            Optimizer::Adam(Adam { lr, beta1, beta2, eps, weight_decay }) => OptimizerMeta::Adam { lr, beta1, beta2, eps, weight_decay },
        };
        let s = self.state;
        let meta = Meta {
            format: FORMAT,
            batch: self.config.batch,
            optimizer,
            seed: self.config.seed,
            epochs: self.epochs,
            steps: s.steps,
            epoch: s.epoch,
            batch_in_epoch: s.batch_in_epoch,
            optimizer_steps: s.optimizer_steps,
            order_position: s.order_position.to_string(),
            sums: s.sums,
            train_images: s.train_images,
            notes: self.notes.clone(),
        };
        let json = serde_json::to_string(&meta).map_err(|e| error(e.to_string()))?;
        let mut metadata: HashMap<String, String> = weights::net_metadata(self.net);
        metadata.insert(METADATA_KEY.to_string(), json);
        weights::to_safetensors(&specs, &values, Some(metadata))
    }

    /// Reads a checkpoint file; a plain weights file, or one that does not hold every tensor of
    /// its network, is refused with the reason.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint> {
        let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| error(format!("not a valid safetensors file ({e})")))?;
        let Some(json) = metadata.metadata().as_ref().and_then(|m| m.get(METADATA_KEY)) else {
            return Err(error("it holds weights but no training state, so it is not a checkpoint: start a new run from it instead"));
        };
        let meta: Meta = serde_json::from_str(json).map_err(|e| error(format!("its training state cannot be read ({e})")))?;
        if meta.format != FORMAT {
            return Err(error(format!("it is a checkpoint of format {}, this cnnscope reads format {FORMAT}", meta.format)));
        }
        let saved = SavedNet::read(bytes)?;
        let arch = saved.arch.ok_or_else(|| error("its metadata names no network"))?;
        let net_config = saved.config(NetConfig::new(arch, 1));
        let net = Net::new(net_config)?;
        let optimizer = match meta.optimizer {
            OptimizerMeta::Sgd { lr, momentum, weight_decay } => Optimizer::Sgd(Sgd { lr, momentum, weight_decay }),
            OptimizerMeta::Adam { lr, beta1, beta2, eps, weight_decay } => Optimizer::Adam(Adam { lr, beta1, beta2, eps, weight_decay }),
        };
        let config = TrainConfig { batch: meta.batch, optimizer, seed: meta.seed };
        config.check()?;
        let order_position = meta.order_position.parse().map_err(|_| error(format!("its batch-order position {:?} is not a number", meta.order_position)))?;
        let params = net.root.params("");
        let mut specs = params.clone();
        specs.extend(buffer_specs(&params, "first"));
        let adam = matches!(optimizer, Optimizer::Adam(_));
        if adam {
            specs.extend(buffer_specs(&params, "second"));
        }
        let mut values = weights::from_safetensors_exact(&specs, bytes)?.into_iter();
        let n = params.len();
        let params: Vec<Vec<f32>> = values.by_ref().take(n).collect();
        let first: Vec<Vec<f32>> = values.by_ref().take(n).collect();
        let second: Vec<Vec<f32>> = values.collect();
        Ok(Checkpoint {
            net: net_config,
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
            params,
            first,
            second,
            notes: meta.notes,
        })
    }
}
