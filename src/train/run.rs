//! One training run, driven a step at a time, for both shells: the CLI's `train` and the page's
//! worker. Each call to [`Run::step`] takes one step and says what happened: every
//! `readback_every` steps the running sums are read (loss, accuracy, the divergence check, how
//! many submissions a step needs); at an epoch's end the test set is evaluated and d2l's epoch
//! line made; a keep is due after every epoch and every so often in between. The shells differ
//! only in their [`Cadence`] and in what they do with a [`Happened`]: print it, or send it to the
//! page; write the keep to a file, or to the browser's storage.

use crate::data::DeviceSplit;
use crate::engine::device::Device;
use crate::engine::error::Result;
use crate::engine::timing::StepTiming;
use crate::train::{Evaluator, LayerStats, Stats, Trainer, epoch_line, layer_stats};

/// A keep costs at most a fiftieth of the training time: the next keep waits fifty times as long
/// as the last one took (a ÷8 net's checkpoint is a few MB, kept in well under 0.2 s; VGG-11 at
/// full width with Adam, 1.5 GB, every few minutes).
const KEEP_EVERY_TIMES_ITS_COST: f64 = 50.0;

/// How often a run reads back, measures and keeps: the shells' one difference in driving a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cadence {
    /// Steps between readbacks of the running sums: each waits for the device.
    pub readback_every: usize,
    /// Readbacks between per-layer statistics within an epoch (`None`: none).
    pub layer_stats_every: Option<u64>,
    /// Per-layer statistics at every epoch's end.
    pub layer_stats_at_epochs: bool,
    /// Time the run's second step part by part (its first compiles the kernels too).
    pub time_second_step: bool,
    /// The shortest time between two keeps within an epoch, in seconds.
    pub keep_every_secs: f64,
    /// The smallest evaluation batch (the training batch when larger): it changes the speed, not
    /// the result, and the evaluator halves it until it fits the adapter.
    pub eval_batch: usize,
}

impl Cadence {
    /// The page: live curves (a point every 5 steps), per-layer statistics every 20 steps, the
    /// second step timed for its chart, kept in the browser at least every 10 s, evaluated in
    /// batches of 100: a 256-image evaluator's memory, held beside the trainer in the worker's
    /// wasm heap, cost training on the CPU engine 5–10 % (AlexNet and NiN ÷8 at 224, batch 64, in
    /// Chromium: 188–209 images/s against 204–219 with batches of 100).
    pub const PAGE: Cadence =
        Cadence { readback_every: 5, layer_stats_every: Some(4), layer_stats_at_epochs: true, time_second_step: true, keep_every_secs: 10.0, eval_batch: 100 };

    /// The command line: a progress bar (read every 20 steps), a checkpoint file at least every
    /// two minutes, per-layer statistics after each epoch when asked (`--stats`), evaluation in
    /// batches of 256.
    pub fn cli(stats: bool) -> Cadence {
        Cadence { readback_every: 20, layer_stats_every: None, layer_stats_at_epochs: stats, time_second_step: false, keep_every_secs: 120.0, eval_batch: 256 }
    }
}

/// Where a run stands, as a progress bar or the page's progress line shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// The epoch being trained, from 1 (the one just finished at an epoch's end).
    pub epoch: usize,
    pub epochs: usize,
    /// Batches done in that epoch.
    pub batch: usize,
    pub batches: usize,
    pub steps: u64,
    /// Images per second of training, pauses and keeps not counted.
    pub images_per_sec: f64,
    pub eta_secs: f64,
}

/// What one step of a run did, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Happened {
    /// The run's first step is done, `secs` after the run was asked for (or resumed), having
    /// compiled `kernels` kernels first.
    FirstStep { secs: f64, kernels: usize },
    /// The step was timed part by part (the run's second, or one asked for with [`Run::time_next`]).
    Timing { step: u64, timing: StepTiming },
    /// The running sums were read.
    Readback(Readback),
    /// Per-layer statistics of the step ([`layer_stats`]) and their hints.
    Layers { step: u64, layers: Vec<LayerStats>, hints: Vec<String> },
    /// An epoch ended and was evaluated.
    Epoch(EpochEnd),
    /// Keep the run now (then say so with [`Run::kept`]): after every epoch, and within one at
    /// the cadence's interval or when asked ([`Run::keep_soon`]).
    KeepDue,
    /// The run's epochs are done.
    Finished,
}

/// A readback of the running sums.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Readback {
    pub progress: Progress,
    /// The epoch's sums so far.
    pub epoch: Stats,
    /// The sums since the last readback (empty when no image was seen since).
    pub interval: Stats,
}

/// An epoch's end.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochEnd {
    pub epoch: usize,
    pub train: Stats,
    pub test: Stats,
    /// The epoch's time, its evaluation included, and its training time alone (the images/s).
    pub secs: f64,
    pub train_secs: f64,
    /// Why the net cannot learn, when its output ignores its input ([`Evaluator::dead_start`]).
    pub dead: Option<String>,
}

impl EpochEnd {
    /// d2l's epoch line.
    pub fn line(&self) -> String {
        epoch_line(self.epoch, &self.train, &self.test, self.secs, self.train_secs)
    }
}

/// A run: its trainer, its test set, and the clocks and counters of its readbacks and keeps.
pub struct Run {
    pub trainer: Trainer,
    pub test: DeviceSplit,
    /// The epochs the run trains in all (a finished run goes on when they are raised).
    pub epochs: usize,
    cadence: Cadence,
    /// Made at the run's first step: its graphs hold memory a paused or inspected run does not need.
    evaluator: Option<Evaluator>,
    clock: Box<dyn Fn() -> f64>,
    /// When the run was asked for (by the clock): its first step's time counts from there.
    asked: f64,
    /// Steps this run has taken (its first compiles the kernels, its second may be timed).
    taken: u64,
    /// The running sums at the last readback.
    seen: Stats,
    epoch_began: f64,
    /// The last readback (or the end of a rest or a keep): the interval's training time runs from here.
    last: f64,
    steps_at_last: u64,
    /// Training time and images since the run was made, for its rate.
    active_secs: f64,
    images: f64,
    readbacks: u64,
    /// Since when the run has rested (paused), if it has.
    rested: Option<f64>,
    kept: f64,
    keep_every: f64,
    keep_next: bool,
    time_next: bool,
}

impl Run {
    /// Drives `trainer` to `epochs` in all, evaluating on `test`, at `cadence`; `clock` gives
    /// seconds (the CLI's `Instant`, the page's `performance.now`). A run resumed mid-epoch keeps
    /// the epoch's running sums; otherwise the epoch starts from zero.
    pub fn new(device: &Device, trainer: Trainer, test: DeviceSplit, epochs: usize, cadence: Cadence, clock: Box<dyn Fn() -> f64>) -> Result<Run> {
        if trainer.batch_in_epoch == 0 {
            trainer.reset_stats(device)?;
        }
        let now = clock();
        Ok(Run {
            seen: trainer.last_checked(),
            steps_at_last: trainer.steps,
            trainer,
            test,
            epochs,
            cadence,
            evaluator: None,
            clock,
            asked: now,
            taken: 0,
            epoch_began: now,
            last: now,
            active_secs: 0.0,
            images: 0.0,
            readbacks: 0,
            rested: None,
            kept: now,
            keep_every: cadence.keep_every_secs,
            keep_next: false,
            time_next: false,
        })
    }

    /// Seconds by the run's clock.
    pub fn now(&self) -> f64 {
        (self.clock)()
    }

    /// The run's first step counts its time from `when` (a page counts the model's set-up too).
    pub fn asked_at(&mut self, when: f64) {
        self.asked = when;
    }

    /// The running sums at the run's last readback before it was kept (the page keeps them in the
    /// run's notes), where they are not the checkpoint's own (a keep between readbacks): the first
    /// interval after resuming is then the one the run would have had without stopping.
    pub fn seen_at(&mut self, seen: Stats) {
        self.seen = seen;
    }

    /// Whether its epochs are done.
    pub fn finished(&self) -> bool {
        self.trainer.epoch >= self.epochs
    }

    /// Steps this run has taken since it was made.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// The run rests (paused) from now until its next step: that time counts neither in its
    /// epoch's time nor in its rate, and a first step not yet taken counts from the end of it.
    pub fn rest(&mut self) {
        self.rested.get_or_insert_with(|| (self.clock)());
    }

    /// Time the next step part by part.
    pub fn time_next(&mut self) {
        self.time_next = true;
    }

    /// Keep the run at its next readback (the page was hidden: it may never come back).
    pub fn keep_soon(&mut self) {
        self.keep_next = true;
    }

    /// Takes back what was asked of the next steps and not done yet — (a keep, a timing) — for a
    /// run that takes no more steps (stopped, failed, replaced): each request is answered once.
    pub fn take_requests(&mut self) -> (bool, bool) {
        (std::mem::take(&mut self.keep_next), std::mem::take(&mut self.time_next))
    }

    /// The shell kept the run, starting at `began` by [`Run::now`]: the next keep within an epoch
    /// waits fifty times as long as this one took (at least the cadence's interval), and its time
    /// counts neither in the epoch's time nor in the rate.
    pub fn kept(&mut self, began: f64) {
        let now = (self.clock)();
        let cost = (now - began).max(0.0);
        self.keep_every = (KEEP_EVERY_TIMES_ITS_COST * cost).max(self.cadence.keep_every_secs);
        // A keep asked for is this one: it is answered once.
        self.keep_next = false;
        self.kept = now;
        self.last += cost;
        self.epoch_began += cost;
    }

    /// Takes one step; `compiling(done, total)` follows the kernels compiled before the run's
    /// first step (the WGSL engine in a browser compiles them one by one, most of a minute on a
    /// software adapter). Fails on divergence (the interval's loss ran away) and on the device's
    /// errors, as the trainer does.
    pub async fn step(&mut self, device: &Device, compiling: impl Fn(usize, usize)) -> Result<Vec<Happened>> {
        // A device known lost takes no step (its submissions would vanish, its reads fail later).
        if let Some(reason) = device.lost() {
            return Err(crate::engine::error::EngineError::DeviceLost(reason));
        }
        if let Some(since) = self.rested.take() {
            let rest = (self.clock)() - since;
            if self.taken == 0 {
                self.asked += rest;
            }
            (self.last, self.epoch_began, self.kept) = (self.last + rest, self.epoch_began + rest, self.kept + rest);
        }
        if self.evaluator.is_none() {
            self.evaluator = Some(self.new_evaluator(device)?);
        }
        let mut happened = Vec::new();
        self.taken += 1;
        let (done, rec) = self.trainer.recorded_step(device)?;
        let kernels = device.pending_pipelines();
        if let Some(gpu) = device.gpu_ref().filter(|_| kernels > 0) {
            gpu.compile_pending(compiling).await;
        }
        if (self.cadence.time_second_step && self.taken == 2) || std::mem::take(&mut self.time_next) {
            let clock = &self.clock;
            let timing = rec.time_parts(clock).await?;
            happened.push(Happened::Timing { step: self.trainer.steps, timing });
        } else {
            rec.submit_in(self.trainer.submits());
        }
        if self.taken == 1 {
            device.idle().await;
            happened.push(Happened::FirstStep { secs: (self.clock)() - self.asked, kernels });
        }
        if done || self.trainer.batch_in_epoch.is_multiple_of(self.cadence.readback_every.max(1)) {
            self.read_back(device, done, &mut happened).await?;
        }
        Ok(happened)
    }

    /// Where the run stands at its last step, the rate as of its last readback: what a readback
    /// reports, and what a paused run shows (its last readback may be steps behind).
    pub fn progress(&self) -> Progress {
        let steps = self.trainer.steps;
        // Right after an epoch's last step, that epoch, complete.
        let done = self.trainer.batch_in_epoch == 0 && steps > 0;
        let (batches, batch) = (self.trainer.batches_per_epoch(), self.trainer.config.batch);
        let rate = self.images / self.active_secs.max(1e-9);
        let remaining = (self.epochs * batches) as f64 - steps as f64;
        Progress {
            epoch: if done { self.trainer.epoch } else { self.trainer.epoch + 1 },
            epochs: self.epochs,
            batch: if done { batches } else { self.trainer.batch_in_epoch },
            batches,
            steps,
            images_per_sec: rate,
            eta_secs: remaining.max(0.0) * batch as f64 / rate.max(1e-9),
        }
    }

    async fn read_back(&mut self, device: &Device, done: bool, happened: &mut Vec<Happened>) -> Result<()> {
        let epoch = self.trainer.stats(device).await?;
        let now = (self.clock)();
        let steps = self.trainer.steps;
        // Keep each submission under the watchdogs' limit (SwiftShader steps take seconds).
        let per_step = (now - self.last) / (steps - self.steps_at_last).max(1) as f64;
        self.trainer.fit_submits(per_step, crate::train::SUBMIT_BUDGET_SECS);
        let interval = epoch.since(self.seen);
        self.active_secs += now - self.last;
        self.images += interval.examples;
        (self.last, self.steps_at_last, self.seen) = (now, steps, epoch);
        let progress = self.progress();
        debug_assert_eq!(progress.batch == progress.batches, done);
        happened.push(Happened::Readback(Readback { progress, epoch, interval }));
        self.readbacks += 1;
        let within = self.cadence.layer_stats_every.is_some_and(|n| self.readbacks.is_multiple_of(n.max(1)));
        if within || (done && self.cadence.layer_stats_at_epochs) {
            let layers = self.trainer.layer_stats(device).await?;
            let hints = layer_stats::hints(&layers);
            happened.push(Happened::Layers { step: steps, layers, hints });
        }
        if done {
            happened.push(Happened::Epoch(self.end_epoch(device, epoch, now).await?));
            happened.push(Happened::KeepDue);
            if self.finished() {
                happened.push(Happened::Finished);
            }
        } else if now - self.kept >= self.keep_every || std::mem::take(&mut self.keep_next) {
            happened.push(Happened::KeepDue);
        }
        Ok(())
    }

    fn new_evaluator(&self, device: &Device) -> Result<Evaluator> {
        Evaluator::new(device, &self.trainer.model, &self.test, self.trainer.config.batch.max(self.cadence.eval_batch))
    }

    /// Evaluates the epoch that ended at `trained` (by the clock) and starts the next.
    async fn end_epoch(&mut self, device: &Device, train: Stats, trained: f64) -> Result<EpochEnd> {
        let evaluator = match self.evaluator.take() {
            Some(evaluator) => evaluator,
            None => self.new_evaluator(device)?,
        };
        let evaluator = self.evaluator.insert(evaluator);
        let model = &self.trainer.model;
        let test = evaluator.run(device, model, &self.test).await?;
        let dead = evaluator.dead_start(device, model, &self.test, &train).await?;
        let now = (self.clock)();
        let end = EpochEnd { epoch: self.trainer.epoch, train, test, secs: now - self.epoch_began, train_secs: trained - self.epoch_began, dead };
        self.trainer.reset_stats(device)?;
        (self.seen, self.epoch_began, self.last) = (Stats::default(), now, now);
        Ok(end)
    }
}
