//! The training loop's engine: epochs of seeded-shuffled batches, each step recorded once and
//! submitted together (in micro-batches where the whole batch does not fit).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::data::DeviceSplit;
use crate::engine::error::{EngineError, Result};
use crate::net::fit::{self, MicroBatches};
use crate::engine::device::Device;
use crate::model::{Graph, Model, Parameters};
use crate::net::Net;
use crate::train::checkpoint::{Checkpoint, CheckpointStream, RunState};
use crate::ops;
use crate::engine::recorder::Recorder;
use crate::engine::timing::{Part, StepTiming};
use crate::engine::tensor::{DType, Tensor};
use crate::train::recipe::TrainConfig;
use crate::train::Stats;
use crate::train::optimizer::OptimizerState;

/// A model being trained on one split. Steps are recorded and submitted without waiting; only
/// [`Trainer::stats`] reads anything back.
pub struct Trainer {
    pub model: Model,
    pub config: TrainConfig,
    /// How each step runs its batch: whole, or in micro-batches where the whole would not fit.
    micro: MicroBatches,
    /// The graph of a (micro-)batch; it holds the step's last activations.
    graph: Graph,
    labels: Tensor,
    /// A smaller first micro-batch's graph and labels, where the size does not divide the batch.
    first: Option<(Graph, Tensor)>,
    /// The step's parameter gradients (summed over its micro-batches).
    grads: Vec<Tensor>,
    /// One micro-batch's gradients, before they are added to `grads` (a split step only).
    micro_grads: Vec<Tensor>,
    optimizer: OptimizerState,
    stats: Tensor,
    /// The running sums as the last check read them ([`Trainer::stats`]): each check judges the
    /// losses since then, not the mean since the epoch began.
    checked: std::cell::Cell<Stats>,
    data: DeviceSplit,
    order: Tensor,
    rng: ChaCha8Rng,
    /// Where `rng` stood when the current epoch's order was drawn.
    order_position: u128,
    /// Submissions each step is split into ([`Trainer::fit_submits`]).
    submits: usize,
    /// Completed epochs.
    pub epoch: usize,
    /// Batches done in the current epoch.
    pub batch_in_epoch: usize,
    /// Updates done in total.
    pub steps: u64,
}

impl Trainer {
    pub fn new(device: &Device, model: Model, data: DeviceSplit, config: TrainConfig) -> Result<Trainer> {
        let dataset = 4 * (data.pixels.len() as u64 + data.labels.len() as u64);
        let micro = Trainer::check(device, &model.net, &config, data.count, dataset)?;
        let graph = Graph::new(device, &model.net, micro.size, true)?;
        let first = match micro.last() {
            last if last < micro.size => Some((Graph::new(device, &model.net, last, true)?, Tensor::zeros(device, &[last], DType::U32, "first micro-batch labels")?)),
            _ => None,
        };
        let grads = model.params.zeros_like(device, "gradient")?;
        let micro_grads = if micro.is_split() { model.params.zeros_like(device, "micro-batch gradient")? } else { Vec::new() };
        let optimizer = OptimizerState::new(device, config.optimizer, &model.params)?;
        Ok(Trainer {
            micro,
            first,
            micro_grads,
            labels: Tensor::zeros(device, &[micro.size], DType::U32, "batch labels")?,
            stats: Tensor::zeros(device, &[3], DType::F32, "training statistics")?,
            checked: Default::default(),
            order: Tensor::zeros(device, &[data.count], DType::U32, "epoch order")?,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            order_position: 0,
            submits: 1,
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

    /// How each step runs its batch ([`MicroBatches`]).
    pub fn micro_batches(&self) -> MicroBatches {
        self.micro
    }

    /// Full batches per epoch (a last partial batch is dropped, as `drop_last=True`).
    pub fn batches_per_epoch(&self) -> usize {
        self.data.count / self.config.batch
    }

    /// Records and submits one training step, starting a new epoch (a fresh shuffle) when the last
    /// one is complete. Returns true when this step finished an epoch.
    pub fn step(&mut self, device: &Device) -> Result<bool> {
        let (done, rec) = self.recorded_step(device)?;
        rec.submit_in(self.submits);
        Ok(done)
    }

    /// One step like [`Trainer::step`], timed part by part (each layer's forward and backward
    /// pass, the batch, the loss, the optimiser; [`Recorder::time_parts`], by the GPU's
    /// timestamps where it has them, else by `clock`, in seconds): where a step's time goes. The
    /// step itself is the same as an unsplit one, bit for bit.
    pub async fn timed_step(&mut self, device: &Device, clock: impl Fn() -> f64) -> Result<(bool, StepTiming)> {
        let (done, rec) = self.recorded_step(device)?;
        Ok((done, rec.time_parts(clock).await?))
    }

    /// One step recorded, for the caller to submit or time ([`Recorder::time_parts`]) without
    /// holding the trainer meanwhile; the trainer counts it as taken.
    pub fn recorded_step<'g>(&mut self, device: &'g Device) -> Result<(bool, Recorder<'g>)> {
        let mut rec = Recorder::new(device);
        let done = self.record_step(device, &mut rec)?;
        Ok((done, rec))
    }

    /// Asks for every kernel a step takes without taking one (the step is recorded and dropped, and
    /// the trainer with it), so that [`crate::Gpu::compile_pending`] can compile them ahead: a page
    /// compiles them while its user is still choosing. A step's kernels depend on the net and the
    /// batch, not on how many images there are, so a trainer on one batch's images will do.
    pub fn request_kernels(mut self, device: &Device) -> Result<()> {
        self.record_step(device, &mut Recorder::new(device)).map(drop)
    }

    /// Submissions each step is split into.
    pub fn submits(&self) -> usize {
        self.submits
    }

    /// Splits every step into `pieces` submissions (1: the whole step at once; more than the
    /// step's dispatches: one each). The result is the same either way.
    pub fn split_submits(&mut self, pieces: usize) {
        self.submits = pieces.max(1);
    }

    /// What [`Trainer::new`] refuses before it allocates anything: its settings, a run that does
    /// not fit `device` with `dataset_bytes` of training images beside it, and a batch that
    /// `images` cannot fill; else how its steps run their batch. The page asks first when it must
    /// let a run go to make room for this one.
    pub fn check(device: &Device, net: &Net, config: &TrainConfig, images: usize, dataset_bytes: u64) -> Result<MicroBatches> {
        config.check()?;
        let micro = fit::fit_training(device.capacity(), net, config.batch, config.optimizer.moments(), dataset_bytes)?.micro;
        if images < config.batch {
            return Err(EngineError::shape(
                "training",
                format!("{images} training images make no full batch of {}: lower the batch size or raise the limit", config.batch),
            ));
        }
        Ok(micro)
    }

    /// Splits steps so that no submission takes much over `budget` seconds, given that a step has
    /// been taking `step_seconds` (measured between readbacks, so an upper bound on the GPU's
    /// share); returns the submissions per step. GPU watchdogs reset a device whose submission
    /// runs too long (Windows ~2 s, Chrome ~10 s): a software adapter in a browser, or a big net
    /// on a small GPU, gets there.
    pub fn fit_submits(&mut self, step_seconds: f64, budget: f64) -> usize {
        if step_seconds.is_finite() && budget > 0.0 {
            // Dispatches are split evenly, not by their cost: a margin of 2 for the uneven ones.
            self.submits = (2.0 * step_seconds / budget).ceil().clamp(1.0, 4096.0) as usize;
        }
        self.submits
    }

    /// Trains on with another learning rate (checked first: on error nothing changes). The way
    /// out of a run that diverged: resume its last checkpoint with a lower rate.
    pub fn set_lr(&mut self, lr: f32) -> Result<()> {
        let optimizer = self.config.optimizer.with_lr(lr);
        optimizer.check()?;
        self.config.optimizer = optimizer;
        self.optimizer.set(optimizer);
        Ok(())
    }

    /// One step run kernel by kernel: where its time goes (see [`Recorder::profile`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile_step(&mut self, device: &Device) -> Result<Vec<(String, u64, f64)>> {
        let mut rec = Recorder::new(device);
        self.record_step(device, &mut rec)?;
        Ok(rec.profile())
    }

    fn record_step(&mut self, device: &Device, rec: &mut Recorder) -> Result<bool> {
        if self.batch_in_epoch == 0 {
            self.shuffle(device)?;
        }
        let salt = self.config.augment.then(|| crate::engine::augment::salt(self.config.seed, self.steps));
        let seed = (self.config.seed as u32) ^ (self.steps as u32).wrapping_mul(0x2545_F491);
        let step_first = self.batch_in_epoch * self.config.batch;
        // Each micro-batch's loss is a mean over the whole batch, so their gradients add up to
        // the whole batch's: the first writes the step's gradients, the others add theirs.
        for (i, (row, images)) in self.micro.parts().into_iter().enumerate() {
            let (graph, labels) = match &mut self.first {
                Some((graph, labels)) if images == graph.batch && images < self.micro.size => (graph, &*labels),
                _ => (&mut self.graph, &self.labels),
            };
            rec.enter(Part::Other("batch".into()));
            let augment = salt.map(|salt| ops::Augment { salt, first_row: row as u32 });
            let data = &self.data;
            ops::gather_resize(rec, &data.pixels, data.side, &data.labels, &self.order, step_first + row, graph.input(), labels, augment)?;
            graph.forward_rows(rec, &self.model.params, true, seed, row)?;
            let grad_logits = graph.logits_grad().expect("a training graph");
            rec.enter(Part::Other("loss".into()));
            ops::softmax_cross_entropy(rec, graph.logits(), labels, grad_logits, &self.stats, self.config.batch)?;
            let grads = if i == 0 { &self.grads } else { &self.micro_grads };
            graph.backward(rec, &self.model.params, grads)?;
            if i > 0 {
                rec.enter(Part::Other("adding micro-batch gradients".into()));
                for (micro, sum) in self.micro_grads.iter().zip(&self.grads) {
                    ops::accumulate(rec, micro, sum)?;
                }
            }
        }
        rec.enter(Part::Other("optimizer".into()));
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

    /// Draws the epoch's order of the training images.
    fn shuffle(&mut self, device: &Device) -> Result<()> {
        self.order_position = self.rng.get_word_pos();
        let mut order: Vec<u32> = (0..self.data.count as u32).collect();
        order.shuffle(&mut self.rng);
        self.order.write_u32(device, &order)
    }

    /// The whole run as it stands (waits for the submitted steps), for `epochs` in all.
    pub async fn checkpoint(&self, device: &Device, epochs: usize, notes: String) -> Result<Checkpoint> {
        let (first, second, _) = self.optimizer.state();
        let state = self.run_state(device).await?;
        let params = self.model.params.read(device).await?;
        for (spec, values) in self.model.params.specs.iter().zip(&params) {
            crate::train::checkpoint::finite(&spec.name, values, self.steps, self.config.optimizer.lr())?;
        }
        Ok(Checkpoint {
            net: self.model.net.config.clone(),
            config: self.config,
            epochs,
            state,
            params,
            first: Tensor::read_all_f32(device, first).await?,
            second: Tensor::read_all_f32(device, second).await?,
            notes,
        })
    }

    /// The same run as a file written in pieces ([`CheckpointStream`]): its header now, each
    /// tensor when the writer reads it back. The trainer must take no step until it is written.
    pub async fn checkpoint_stream(&self, device: &Device, epochs: usize, notes: &str) -> Result<CheckpointStream<'_>> {
        let (first, second, _) = self.optimizer.state();
        let state = self.run_state(device).await?;
        let header = crate::train::checkpoint::streamed(&self.model.net.config, &self.config, epochs, state, notes)?;
        let tensors = self.model.params.tensors.iter().chain(first).chain(second).collect();
        let params = self.model.params.specs.iter().map(|s| s.name.clone()).collect();
        Ok(CheckpointStream { header, tensors, params, step: self.steps, lr: self.config.optimizer.lr() })
    }

    /// Where the run stands (counters, the batch order's source, the epoch's running sums).
    async fn run_state(&self, device: &Device) -> Result<RunState> {
        let (_, _, optimizer_steps) = self.optimizer.state();
        // Never a diverged state: whatever saves (an autosave, a pause, a download) checks first.
        let stats = self.stats(device).await?;
        let sums = [stats.loss_sum, stats.correct, stats.examples].map(|v| v as f32);
        let state = RunState {
            steps: self.steps,
            epoch: self.epoch,
            batch_in_epoch: self.batch_in_epoch,
            optimizer_steps,
            // At an epoch boundary the next order is drawn from where the generator stands now.
            order_position: if self.batch_in_epoch == 0 { self.rng.get_word_pos() } else { self.order_position },
            sums: [0, 1, 2].map(|i| sums.get(i).map_or(0, |v| v.to_bits())),
            train_images: self.data.count,
        };
        Ok(state)
    }

    /// The run `checkpoint` saved, on `data` (the same training images), ready to take its next
    /// step exactly as it would have without stopping.
    pub fn resume(device: &Device, checkpoint: &Checkpoint, data: DeviceSplit) -> Result<Trainer> {
        let dataset = 4 * (data.pixels.len() as u64 + data.labels.len() as u64);
        Trainer::check_resume(device, checkpoint, data.count, dataset)?;
        let state = checkpoint.state;
        let net = Net::new(checkpoint.net.clone())?;
        let params = Parameters::upload(device, net.root.params(""), &checkpoint.params)?;
        let mut trainer = Trainer::new(device, Model { net, params }, data, checkpoint.config)?;
        trainer.optimizer.restore(device, &checkpoint.first, &checkpoint.second, state.optimizer_steps)?;
        trainer.steps = state.steps;
        trainer.epoch = state.epoch;
        trainer.batch_in_epoch = state.batch_in_epoch;
        trainer.rng.set_word_pos(state.order_position);
        if state.batch_in_epoch > 0 {
            // Redraw the current epoch's order; the generator ends where it stood.
            trainer.shuffle(device)?;
        }
        let sums = state.sums.map(f32::from_bits);
        trainer.stats.write_f32(device, &sums)?;
        trainer.checked.set(Stats::from_sums(&sums));
        Ok(trainer)
    }

    /// What [`Trainer::resume`] refuses before it allocates anything: training images other than
    /// the run's (`images`, `dataset_bytes` of them on the device), a net that does not build or
    /// fit, and counters no run writes: a damaged or hostile file (a batch past the epoch would
    /// index past the batch order, and on wasm32 its offset wraps; an update count at u32's end
    /// would overflow at the next step).
    pub fn check_resume(device: &Device, checkpoint: &Checkpoint, images: usize, dataset_bytes: u64) -> Result<()> {
        let state = checkpoint.state;
        if images != state.train_images {
            return Err(EngineError::setting(
                "resume",
                format!("the run was training on {} images, this data has {images}: resume with the same --limit (or none)", state.train_images),
            ));
        }
        let net = Net::new(checkpoint.net.clone())?;
        Trainer::check(device, &net, &checkpoint.config, images, dataset_bytes)?;
        let batches = images / checkpoint.config.batch;
        if state.batch_in_epoch >= batches {
            return Err(EngineError::setting(
                "resume",
                format!(
                    "the checkpoint stopped at batch {} of an epoch of {batches} batches (batch size {}, {} images): the file is damaged",
                    state.batch_in_epoch, checkpoint.config.batch, state.train_images
                ),
            ));
        }
        if state.optimizer_steps == u32::MAX {
            return Err(EngineError::setting("resume", format!("the checkpoint counts {} optimiser updates: the file is damaged", state.optimizer_steps)));
        }
        Ok(())
    }

    /// The parameters' gradients from the last step, in `state_dict` order.
    pub fn gradients(&self) -> &[Tensor] {
        &self.grads
    }

    /// Per-layer statistics of the last step ([`crate::train::layer_stats`]): activations of its
    /// batch, gradients, and the update it made. Reads back a few numbers per layer.
    pub async fn layer_stats(&self, device: &Device) -> Result<Vec<crate::train::LayerStats>> {
        crate::train::layer_stats::measure(device, &self.graph, &self.model.params, &self.grads, &self.optimizer).await
    }

    /// Loss and accuracy summed on the GPU since the last reset (waits for the steps to finish);
    /// [`EngineError::Diverged`] when the loss has run away ([`Stats::diverged`]) over the steps
    /// since the last check. Judged per interval, not on the epoch's mean: late in an epoch a burst
    /// of huge losses hardly moves the mean (a thousand steps at 2.3 hide ten at 2,000). A diverged
    /// interval stays the one judged, so every later check (and a checkpoint) refuses too.
    pub async fn stats(&self, device: &Device) -> Result<Stats> {
        let stats = Stats::from_sums(&self.stats.read_f32(device).await?);
        let since = stats.since(self.checked.get());
        if since.diverged() {
            return Err(EngineError::Diverged { step: self.steps, loss: since.loss(), lr: self.config.optimizer.lr() });
        }
        self.checked.set(stats);
        Ok(stats)
    }

    /// The running sums as the last check read them (a resumed run's: as its checkpoint held them).
    pub fn last_checked(&self) -> Stats {
        self.checked.get()
    }

    /// Starts a new reporting interval.
    pub fn reset_stats(&self, device: &Device) -> Result<()> {
        self.checked.set(Stats::default());
        self.stats.write_f32(device, &[0.0; 3])
    }

    /// The training graph, whose activations hold the last batch's feature maps.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}
