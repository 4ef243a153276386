//! The training loop's engine: epochs of seeded-shuffled batches, each step one command buffer.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::data::GpuSplit;
use crate::error::{EngineError, Result};
use crate::fit::Run;
use crate::gpu::Gpu;
use crate::model::{Graph, Model};
use crate::ops;
use crate::recorder::Recorder;
use crate::tensor::{DType, Tensor};
use crate::train::Stats;
use crate::train::optimizer::{Optimizer, OptimizerState};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    pub batch: usize,
    pub optimizer: Optimizer,
    /// Seeds the shuffles and dropout masks (initialisation has its own, in [`Model::new`]).
    pub seed: u64,
}

impl TrainConfig {
    /// Refuses a configuration no run can use, naming the knob.
    pub fn check(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(EngineError::setting("batch size", "0 images per batch: it must be at least 1 (d2l uses 64–256)"));
        }
        self.optimizer.check()
    }
}

/// A model being trained on one split. Steps are recorded and submitted without waiting; only
/// [`Trainer::stats`] reads anything back.
pub struct Trainer {
    pub model: Model,
    pub config: TrainConfig,
    graph: Graph,
    grads: Vec<Tensor>,
    optimizer: OptimizerState,
    labels: Tensor,
    stats: Tensor,
    data: GpuSplit,
    order: Tensor,
    rng: ChaCha8Rng,
    /// Completed epochs.
    pub epoch: usize,
    /// Batches done in the current epoch.
    pub batch_in_epoch: usize,
    /// Updates done in total.
    pub steps: u64,
}

impl Trainer {
    pub fn new(gpu: &Gpu, model: Model, data: GpuSplit, config: TrainConfig) -> Result<Trainer> {
        config.check()?;
        gpu.check_fits(&model.net, Run::Training { batch: config.batch, moments: config.optimizer.moments() })?;
        if data.count < config.batch {
            return Err(EngineError::shape(
                "training",
                format!("{} training images make no full batch of {}: lower the batch size or raise the limit", data.count, config.batch),
            ));
        }
        let graph = Graph::new(gpu, &model.net, config.batch, true)?;
        let grads = model.params.zeros_like(gpu, "gradient")?;
        let optimizer = OptimizerState::new(gpu, config.optimizer, &model.params)?;
        Ok(Trainer {
            labels: Tensor::zeros(gpu, &[config.batch], DType::U32, "batch labels")?,
            stats: Tensor::zeros(gpu, &[3], DType::F32, "training statistics")?,
            order: Tensor::zeros(gpu, &[data.count], DType::U32, "epoch order")?,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            model,
            config,
            graph,
            grads,
            optimizer,
            data,
            epoch: 0,
            batch_in_epoch: 0,
            steps: 0,
        })
    }

    /// Full batches per epoch (a last partial batch is dropped, as `drop_last=True`).
    pub fn batches_per_epoch(&self) -> usize {
        self.data.count / self.config.batch
    }

    /// Records and submits one training step, starting a new epoch (a fresh shuffle) when the last
    /// one is complete. Returns true when this step finished an epoch.
    pub fn step(&mut self, gpu: &Gpu) -> Result<bool> {
        let mut rec = Recorder::new(gpu);
        let done = self.record_step(gpu, &mut rec)?;
        rec.submit();
        Ok(done)
    }

    /// One step run kernel by kernel: where its time goes (see [`Recorder::profile`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile_step(&mut self, gpu: &Gpu) -> Result<Vec<(String, u64, f64)>> {
        let mut rec = Recorder::new(gpu);
        self.record_step(gpu, &mut rec)?;
        Ok(rec.profile())
    }

    fn record_step(&mut self, gpu: &Gpu, rec: &mut Recorder) -> Result<bool> {
        if self.batch_in_epoch == 0 {
            let mut order: Vec<u32> = (0..self.data.count as u32).collect();
            order.shuffle(&mut self.rng);
            self.order.write_u32(gpu, &order)?;
        }
        let data = &self.data;
        ops::gather_resize(rec, &data.pixels, data.side, &data.labels, &self.order, self.batch_in_epoch * self.config.batch, self.graph.input(), &self.labels)?;
        let seed = (self.config.seed as u32) ^ (self.steps as u32).wrapping_mul(0x2545_F491);
        self.graph.forward(rec, &self.model.params, true, seed)?;
        let grad_logits = self.graph.logits_grad().expect("a training graph");
        ops::softmax_cross_entropy(rec, self.graph.logits(), &self.labels, grad_logits, &self.stats)?;
        self.graph.backward(rec, &self.model.params, &self.grads)?;
        self.optimizer.step(rec, &self.model.params, &self.grads)?;
        self.steps += 1;
        self.batch_in_epoch += 1;
        if self.batch_in_epoch == self.batches_per_epoch() {
            self.batch_in_epoch = 0;
            self.epoch += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Loss and accuracy summed on the GPU since the last reset (waits for the steps to finish);
    /// [`EngineError::Diverged`] when the loss has run away ([`Stats::diverged`]).
    pub async fn stats(&self, gpu: &Gpu) -> Result<Stats> {
        let stats = Stats::from_gpu(&self.stats.read_f32(gpu).await?);
        if stats.diverged() {
            return Err(EngineError::Diverged { step: self.steps, loss: stats.loss(), lr: self.config.optimizer.lr() });
        }
        Ok(stats)
    }

    /// Starts a new reporting interval.
    pub fn reset_stats(&self, gpu: &Gpu) -> Result<()> {
        self.stats.write_f32(gpu, &[0.0; 3])
    }

    /// The training graph, whose activations hold the last batch's feature maps.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}
