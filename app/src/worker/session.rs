//! The run on screen: the engine's run driver (`cnnscope::train::Run`, the one the CLI drives too)
//! with what the page shows of it (its setup, name, curves, status) and how it is kept in the
//! browser. The worker's actor (`super`) owns it, takes its steps and answers its commands; what
//! it does reaches the page as events of its run (`protocol`).

use cnnscope::data::{FashionMnist, Split};
use cnnscope::model::{Init, Model};
use cnnscope::train::{Cadence, Checkpoint, Happened, Run, Stats, TrainConfig, Trainer};
use cnnscope::{Device, EngineError};

use super::send;
use crate::protocol::{Control, Event, Notes, Status};
use crate::setup::Setup;

/// A run, or opened weights waiting for "continue", as the page shows it.
pub struct Session {
    /// The run's number (`protocol`): its events carry it.
    pub id: u64,
    pub run: Run,
    pub setup: Setup,
    /// Its name (kept under it in the browser, `runs`), curves and epoch lines, kept with its
    /// checkpoints.
    pub notes: Notes,
    /// What the user last asked of it: train, wait paused, or stop.
    pub control: Control,
    /// What the page was last told (`Event::Status`).
    pub status: Status,
    /// Opened weights, not a run: they stand until a run starts from them.
    pub weights_only: bool,
    /// The step at which the run was last kept in the browser, if it was: replacing the run keeps
    /// it first unless it is kept as it stands.
    kept_at: Option<u64>,
}

/// The trainer a run of `setup` starts with, on `train`, from fresh weights or from `weights` (a
/// safetensors file).
fn new_trainer(device: &Device, train: &Split, setup: &Setup, weights: Option<&[u8]>) -> Result<Trainer, String> {
    let model = Model::new(device, setup.net()?, Init::Default, setup.seed).map_err(|e| e.to_string())?;
    if let Some(bytes) = weights {
        model.load_weights(device, bytes).map_err(|e| e.to_string())?;
    }
    let train = train.upload(device).map_err(|e| e.to_string())?;
    Trainer::new(device, model, train, train_config(setup)).map_err(|e| e.to_string())
}

fn train_config(setup: &Setup) -> TrainConfig {
    TrainConfig { batch: setup.batch, optimizer: setup.optimizer(), seed: setup.seed, augment: setup.augment }
}

/// What a run of `setup` would refuse before it allocates anything (its net, its settings, its
/// fit, a batch the images cannot fill): asked before the run on screen is let go to make room.
pub fn check_start(device: &Device, data: &FashionMnist, setup: &Setup) -> Result<(), String> {
    let net = setup.net()?;
    Trainer::check(device, &net, &train_config(setup), data.train.len(), data.train.uploaded_bytes()).map(drop).map_err(|e| e.to_string())
}

/// [`check_start`] for the run a checkpoint holds.
pub fn check_checkpoint(device: &Device, data: &FashionMnist, checkpoint: &Checkpoint) -> Result<(), String> {
    Trainer::check_resume(device, checkpoint, data.train.len(), data.train.uploaded_bytes()).map_err(|e| e.to_string())
}

/// Asks for the kernels a run of `setup` takes (`Trainer::request_kernels`), from a throwaway
/// trainer on one batch of images, for the actor to compile ahead of "start".
pub fn request_kernels(device: &Device, data: &FashionMnist, setup: &Setup) -> Result<(), String> {
    let one_batch = data.train.truncated(setup.batch);
    device.discarding_errors(|| new_trainer(device, &one_batch, setup, None)?.request_kernels(device).map_err(|e| e.to_string()))
}

impl Session {
    /// Run `id` of `setup` from fresh weights, or from `weights` (a safetensors file) when given;
    /// as `weights_only`, those weights waiting for "continue".
    pub fn new(id: u64, device: &Device, data: &FashionMnist, setup: Setup, weights: Option<&[u8]>, weights_only: bool) -> Result<Session, String> {
        let trainer = new_trainer(device, &data.train, &setup, weights)?;
        let test = data.test.upload(device).map_err(|e| e.to_string())?;
        let run = Run::new(device, trainer, test, setup.epochs, Cadence::PAGE, Box::new(now)).map_err(|e| e.to_string())?;
        let notes = Notes { name: crate::runs::new_name(setup.arch.id()), ..Notes::default() };
        let status = if weights_only { Status::Idle } else { Status::Running };
        Ok(Session { id, run, setup, notes, control: Control::Run, status, weights_only, kept_at: None })
    }

    /// Run `id`: the run a checkpoint holds (one the page kept, downloaded, or the CLI wrote),
    /// paused where it stopped, with its curves. It must be on the data it was trained on
    /// (`?limit=` included). As a `branch` (a file opened) it is a new kept run that says where it
    /// came from: keeping it never overwrites the run it was saved from, nor that run's other
    /// branches. A run whose epochs are done (a finished run kept, the CLI's last checkpoint)
    /// trains one epoch more at each "resume", as `cnnscope train --resume` goes on with a larger
    /// `--epochs`.
    ///
    /// A run opened as itself (kept in the browser, or moved to another engine after a keep) is
    /// kept as it stands; a branch is not kept yet.
    pub fn from_checkpoint(id: u64, device: &Device, data: &FashionMnist, checkpoint: &Checkpoint, branch: bool) -> Result<Session, String> {
        // The CLI writes no notes: a run from it starts with empty curves.
        let mut notes: Notes = serde_json::from_str(&checkpoint.notes).unwrap_or_default();
        let (net, config) = (checkpoint.net.clone(), checkpoint.config);
        if branch {
            let from = if notes.name.is_empty() { "a file".to_string() } else { notes.name.clone() };
            notes.branched_from = Some(format!("{from} at step {}", checkpoint.state.steps));
            notes.name = String::new();
        }
        if notes.name.is_empty() {
            notes.name = crate::runs::new_name(net.arch.id());
        }
        let setup = Setup {
            arch: net.arch,
            ratio: net.ratio,
            side: net.side,
            second_hidden: net.second_hidden,
            batch: config.batch,
            adam: matches!(config.optimizer, cnnscope::train::Optimizer::Adam(_)),
            lr: config.optimizer.lr(),
            epochs: checkpoint.epochs,
            seed: config.seed,
            augment: config.augment,
        };
        let train = data.train.upload(device).map_err(|e| e.to_string())?;
        let test = data.test.upload(device).map_err(|e| e.to_string())?;
        let trainer = Trainer::resume(device, checkpoint, train).map_err(|e| e.to_string())?;
        let mut run = Run::new(device, trainer, test, checkpoint.epochs, Cadence::PAGE, Box::new(now)).map_err(|e| e.to_string())?;
        // The sums at the last readback belong to the epoch the checkpoint stopped in.
        if run.trainer.batch_in_epoch == 0 {
            notes.seen = (0.0, 0.0, 0.0);
        } else {
            let (loss_sum, correct, examples) = notes.seen;
            run.seen_at(Stats { loss_sum, correct, examples });
        }
        // Its first step counts from when it resumes.
        run.rest();
        let kept_at = (!branch).then_some(checkpoint.state.steps);
        Ok(Session { id, run, setup, notes, control: Control::Pause, status: Status::Paused, weights_only: false, kept_at })
    }

    /// The name the run is kept under in the browser (`runs`).
    pub fn name(&self) -> String {
        self.notes.name.clone()
    }

    /// The name a download of its checkpoint gets: the run's, and the step it stands at.
    pub fn checkpoint_file_name(&self) -> String {
        format!("{}-step{}.ckpt", self.name(), self.run.trainer.steps)
    }

    /// Whether the run trains or waits paused for "resume" (not finished, stopped or failed, and
    /// not opened weights): what pause, resume, stop, keep and timing requests act on.
    pub fn live(&self) -> bool {
        !self.weights_only && matches!(self.status, Status::Running | Status::Paused)
    }

    /// Whether the actor should take its next step.
    pub fn training(&self) -> bool {
        self.live() && self.control == Control::Run
    }

    /// Tells the page the run's status, when it changed.
    pub fn set_status(&mut self, status: Status) {
        if self.status != status {
            self.status = status.clone();
            send(Event::Status { run: self.id, status });
        }
    }

    /// Tells the page this run is the one on screen, as it stands.
    pub fn announce(&self) {
        send(Event::Run { run: self.id, setup: self.setup.clone(), notes: self.notes.clone(), weights_only: self.weights_only });
        send(Event::Status { run: self.id, status: self.status.clone() });
    }

    /// Pauses the run and keeps it, unless it is kept as it stands; the page shows the step it
    /// paused at (its last readback may be a few steps behind).
    pub async fn pause(&mut self, device: &Device) {
        self.control = Control::Pause;
        self.run.rest();
        send(Event::Progress { run: self.id, progress: self.run.progress() });
        self.set_status(Status::Paused);
        if self.unkept() {
            let _ = self.keep(device).await;
        }
    }

    /// Resumes the run; one whose epochs are done trains one epoch more.
    pub fn resume(&mut self) {
        self.control = Control::Run;
        if self.run.finished() {
            self.run.epochs = self.run.trainer.epoch + 1;
        }
        self.set_status(Status::Running);
    }

    /// Stops the run where it stands.
    pub fn stop(&mut self) {
        self.control = Control::Stop;
        self.set_status(Status::Idle);
        self.settle("was stopped before its next step");
    }

    /// Answers what was asked of the run's next steps and will not be done, since it takes no
    /// more (`why`): every command gets its one answer.
    pub fn settle(&mut self, why: &str) {
        let (id, (keep, time)) = (self.id, self.run.take_requests());
        if keep {
            send(Event::Nothing(format!("run {id} {why}: nothing new was kept")));
        }
        if time {
            send(Event::Nothing(format!("run {id} {why}: no step to time")));
        }
    }

    /// Whether the state on screen is newer than the one kept in the browser.
    pub fn unkept(&self) -> bool {
        !self.weights_only && self.kept_at != Some(self.run.trainer.steps)
    }

    /// Whether the run was ever kept in the browser (a run opened as itself was).
    pub fn ever_kept(&self) -> bool {
        self.kept_at.is_some()
    }

    /// The state on screen was kept in the browser (by whoever wrote it).
    pub fn mark_kept(&mut self) {
        self.kept_at = Some(self.run.trainer.steps);
    }

    /// The state on screen is not the one kept (a keep of it failed).
    pub fn mark_unkept(&mut self) {
        self.kept_at = None;
    }

    /// Takes one step and tells the page what happened (keeping the run when a keep is due).
    pub async fn step(&mut self, device: &Device) -> Result<(), EngineError> {
        let id = self.id;
        let happened = self.run.step(device, |done, total| send(Event::Preparing { run: id, done, total })).await?;
        for event in happened {
            self.show(device, event).await;
        }
        Ok(())
    }

    async fn show(&mut self, device: &Device, happened: Happened) {
        let run = self.id;
        let notes = &mut self.notes;
        match happened {
            Happened::FirstStep { secs, kernels } => send(Event::FirstStep { run, secs, kernels }),
            Happened::Timing { step, timing } => {
                send(Event::Timing { run, step, layers: cnnscope::LayerTime::by_layer(&timing.parts), clock: timing.clock })
            }
            Happened::Readback(r) => {
                // The interval's own loss and accuracy.
                if r.interval.examples > 0.0 {
                    let x = r.progress.steps as f64;
                    let (loss, train_acc) = ((x, r.interval.loss()), (x / r.progress.batches as f64, r.interval.accuracy()));
                    notes.loss.push(loss);
                    notes.train_acc.push(train_acc);
                    send(Event::Interval { run, loss, train_acc });
                }
                notes.seen = (r.epoch.loss_sum, r.epoch.correct, r.epoch.examples);
                send(Event::Progress { run, progress: r.progress });
            }
            Happened::Layers { step, layers, hints } => {
                notes.layers.push(step, layers.clone(), hints.clone());
                send(Event::Layers { run, step, layers, hints });
            }
            Happened::Epoch(end) => {
                let mut lines = vec![end.line()];
                if let Some(why) = &end.dead {
                    lines.push(format!("note: {why}; another seed or a smaller width ratio avoids it."));
                }
                let test_acc = (end.epoch as f64, end.test.accuracy());
                notes.test_acc.push(test_acc);
                notes.epoch_lines.extend(lines.iter().cloned());
                notes.seen = (0.0, 0.0, 0.0);
                send(Event::Epoch { run, test_acc, lines });
            }
            Happened::KeepDue => drop(self.keep(device).await),
            Happened::Finished => {
                self.set_status(Status::Finished);
                self.settle("finished");
            }
        }
    }

    /// Keeps the run in the browser (`runs`) and says when, or why not (`Saved`, and to the
    /// caller); training goes on either way.
    pub async fn keep(&mut self, device: &Device) -> Result<String, String> {
        let began = self.run.now();
        let steps = self.run.trainer.steps;
        let result = self.keep_streamed(device).await.map(|()| {
            self.kept_at = Some(steps);
            kept_at_step(steps)
        });
        self.run.kept(began);
        send(Event::Saved { run: self.id, result: result.clone() });
        result
    }

    /// Keeps the run, streamed from the engine to the browser's storage a tensor at a time
    /// (`CheckpointStream`): the worker never holds the whole file, nor every tensor at once.
    pub async fn keep_streamed(&self, device: &Device) -> Result<(), String> {
        let notes = serde_json::to_string(&self.notes).map_err(|e| e.to_string())?;
        let stream = self.run.trainer.checkpoint_stream(device, self.run.epochs, &notes).await.map_err(|e| format!("saving the run failed: {e}"))?;
        let bytes = stream.len() as f64;
        let engine = |e: EngineError| wasm_bindgen::JsValue::from_str(&format!("reading the run back failed: {e}"));
        crate::runs::save_with(&self.name(), bytes, async |file| stream.write_to(device, async |piece| file.write(piece).await, engine).await).await
    }

    /// The whole run as a checkpoint's tensors, with its curves: what moves to another engine.
    pub async fn tensors(&self, device: &Device) -> Result<Checkpoint, String> {
        let notes = serde_json::to_string(&self.notes).map_err(|e| e.to_string())?;
        self.run.trainer.checkpoint(device, self.run.epochs, notes).await.map_err(|e| e.to_string())
    }

    /// Keeps the run in the browser as it stands, unless it is kept at that step already: what
    /// replacing it on the page (a start, an opened file or kept run) does first, so no step it
    /// took is lost. Streamed, as every keep. Says under which name it was kept (`None`: nothing
    /// new to keep); on failure the run stays on screen as it was, and is not replaced. A failed
    /// run's state is what failed (a diverged one is never kept): its last keep stands.
    pub async fn keep_before_replacing(&mut self, device: &Device) -> Result<Option<String>, String> {
        if self.run.trainer.steps == 0 || !self.unkept() || matches!(self.status, Status::Failed(_)) {
            return Ok(None);
        }
        self.keep_streamed(device).await?;
        self.mark_kept();
        Ok(Some(self.name()))
    }

    /// Why the run failed, with where its last keep is (a diverged state is never kept).
    pub fn failed(&mut self, e: String) {
        let e = match self.kept_at {
            Some(step) => format!("{e}. The run as kept at step {step} opens from “Runs kept in this browser” to go on from there"),
            None => e,
        };
        self.set_status(Status::Failed(e));
        self.settle("failed");
    }
}

/// Why the device was lost, when a failure came from that: a loss is often seen first as a failed
/// readback or submission, and the browser resolves the device's `lost` promise a moment later
/// (in Chromium: a task after the map's rejection). Waits up to a second for that notice; a
/// failure of anything else (a CPU engine's, a bug) costs that second once, at the run's end.
pub async fn lost_behind(device: &Device) -> Option<String> {
    use futures_util::future::{Either, select};
    if device.gpu_ref().is_none() {
        return None;
    }
    let notice = std::pin::pin!(device.lost_notice());
    match select(notice, gloo_timers::future::TimeoutFuture::new(LOST_NOTICE_MS)).await {
        Either::Left((reason, _)) => Some(reason),
        Either::Right(_) => device.lost(),
    }
}

/// How long a failure waits for a lost device's notice ([`lost_behind`]).
const LOST_NOTICE_MS: u32 = 1000;

/// What a keep says when it worked (`Saved`).
pub fn kept_at_step(steps: u64) -> String {
    format!("kept in this browser at step {steps}")
}

/// Seconds since the worker (or page) started.
pub fn now() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
    let now = performance.and_then(|p| {
        let f: js_sys::Function = js_sys::Reflect::get(&p, &"now".into()).ok()?.into();
        f.call0(&p).ok()?.as_f64()
    });
    now.unwrap_or(0.0) / 1e3
}
