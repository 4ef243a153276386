//! A training run in the worker: the engine's trainer driven step by step from an async loop that
//! yields between steps (so commands are answered) and reads the GPU's running sums only every few
//! steps. What it does reaches the page as events of its run (`protocol`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cnnscope::data::{FashionMnist, DeviceSplit, Split};
use cnnscope::model::{Init, Model};
use cnnscope::train::{Checkpoint, Evaluator, TrainConfig, Trainer};
use cnnscope::Device;
use futures_channel::oneshot;

use super::{is_current, send};
use crate::protocol::{Control, Event, Notes, Progress, Status};
use crate::setup::Setup;

/// The model being trained and the data on the GPU.
pub struct Session {
    /// The run's number (`protocol`): events carry it, and a loop whose number is no longer the
    /// engine's current one writes nothing more.
    pub id: u64,
    pub gpu: Rc<Device>,
    pub trainer: Trainer,
    pub test: DeviceSplit,
    pub control: Cell<Control>,
    pub setup: Setup,
    /// Its name (kept under it in the browser, `runs`), curves and epoch lines, kept with its
    /// checkpoints.
    pub notes: RefCell<Notes>,
    /// While a loop runs the session, it alone touches the trainer: others ask it for a
    /// checkpoint here and it answers between steps.
    looping: Cell<bool>,
    requests: RefCell<Vec<oneshot::Sender<Result<Vec<u8>, String>>>>,
    /// Time the next step part by part: the page asked (the loop also times each run's second
    /// step; the first compiles the kernels too).
    pub time_next: Cell<bool>,
    /// When "start" was asked for (or the run opened), by `now`: its first step reports the time.
    pub started: Cell<f64>,
    /// The status the page was last told (`Event::Status`), to tell it again when the run is
    /// shown again (a start that failed leaves it on screen).
    pub status: RefCell<Status>,
    /// The step at which the run was last kept in the browser, if it was: replacing the run keeps
    /// it first unless it is kept as it stands.
    kept_at: Cell<Option<u64>>,
    /// Seconds between keeps while the run trains ([`KEEP_EVERY_TIMES_ITS_COST`]).
    keep_every: Cell<f64>,
    /// Keep the run at its next readback: the page was hidden (a closed lid, another tab, a
    /// phone's other app), after which it may never come back.
    pub keep_next: Cell<bool>,
}

/// The trainer a run of `setup` starts with, on `train`, from fresh weights or from `weights` (a
/// safetensors file).
fn new_trainer(gpu: &Device, train: &Split, setup: &Setup, weights: Option<&[u8]>) -> Result<Trainer, String> {
    let model = Model::new(gpu, setup.net()?, Init::Default, setup.seed).map_err(|e| e.to_string())?;
    if let Some(bytes) = weights {
        model.load_weights(gpu, bytes).map_err(|e| e.to_string())?;
    }
    let train = train.upload(gpu).map_err(|e| e.to_string())?;
    let config = TrainConfig { batch: setup.batch, optimizer: setup.optimizer(), seed: setup.seed, augment: setup.augment };
    Trainer::new(gpu, model, train, config).map_err(|e| e.to_string())
}

/// Asks for the kernels a run of `setup` takes (`Trainer::request_kernels`), from a throwaway
/// trainer on one batch of images, for `Gpu::compile_pending` to compile ahead of "start".
pub fn request_kernels(gpu: &Device, data: &FashionMnist, setup: &Setup) -> Result<(), String> {
    let one_batch = data.train.truncated(setup.batch);
    gpu.discarding_errors(|| new_trainer(gpu, &one_batch, setup, None)?.request_kernels(gpu).map_err(|e| e.to_string()))
}

/// Steps between readbacks of the running loss: each readback waits for the GPU.
const REPORT_EVERY: usize = 5;

/// Readbacks between per-layer statistics (and one at every epoch's end): 20 steps.
const LAYER_STATS_EVERY: u64 = 4;

/// Keeping a run costs at most this share of its training time: the next keep waits this many
/// times as long as the last one took (a ÷8 net's checkpoint is a few MB, kept in well under
/// 0.2 s, so every 10 s; VGG-11 at full width with Adam, 1.5 GB, every few minutes).
const KEEP_EVERY_TIMES_ITS_COST: f64 = 50.0;
/// The shortest time between two keeps while a run trains (a run is also kept after every epoch,
/// on every pause, and when the page is hidden).
const MIN_KEEP_EVERY_SECS: f64 = 10.0;

impl Session {
    /// Run `id` of `setup` from fresh weights, or from `weights` (a safetensors file) when given.
    pub fn new(id: u64, gpu: Rc<Device>, data: &FashionMnist, setup: Setup, weights: Option<&[u8]>) -> Result<Session, String> {
        let trainer = new_trainer(&gpu, &data.train, &setup, weights)?;
        let test = data.test.upload(&gpu).map_err(|e| e.to_string())?;
        let notes = Notes { name: crate::runs::new_name(setup.arch.id()), ..Notes::default() };
        Ok(Session::of(id, gpu, trainer, test, Control::Run, setup, notes))
    }

    /// Run `id`: the run a checkpoint holds (one the page kept, downloaded, or the CLI wrote),
    /// paused where it stopped, with its curves. It must be on the data it was trained on
    /// (`?limit=` included). As a `branch` (a file opened) it is a new kept run that says where it
    /// came from: keeping it never overwrites the run it was saved from, nor that run's other
    /// branches.
    pub fn from_checkpoint(id: u64, gpu: Rc<Device>, data: &FashionMnist, checkpoint: &Checkpoint, branch: bool) -> Result<Session, String> {
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
        let train = data.train.upload(&gpu).map_err(|e| e.to_string())?;
        let test = data.test.upload(&gpu).map_err(|e| e.to_string())?;
        let trainer = Trainer::resume(&gpu, checkpoint, train).map_err(|e| e.to_string())?;
        // The sums at the last readback belong to the epoch the checkpoint stopped in.
        if trainer.batch_in_epoch == 0 {
            notes.seen = (0.0, 0.0, 0.0);
        }
        Ok(Session::of(id, gpu, trainer, test, Control::Pause, setup, notes))
    }

    /// Whether a loop drives the run (it answers pause, resume, stop, keep and timing requests).
    pub fn looping(&self) -> bool {
        self.looping.get()
    }

    fn of(id: u64, gpu: Rc<Device>, trainer: Trainer, test: DeviceSplit, control: Control, setup: Setup, notes: Notes) -> Session {
        Session {
            id,
            gpu,
            trainer,
            test,
            control: Cell::new(control),
            setup,
            notes: RefCell::new(notes),
            looping: Cell::new(false),
            requests: RefCell::new(Vec::new()),
            time_next: Cell::new(false),
            started: Cell::new(now()),
            status: RefCell::new(Status::Idle),
            kept_at: Cell::new(None),
            keep_every: Cell::new(MIN_KEEP_EVERY_SECS),
            keep_next: Cell::new(false),
        }
    }

    /// The name the run is kept under in the browser (`runs`).
    pub fn name(&self) -> String {
        self.notes.borrow().name.clone()
    }

    /// What a reader of the model needs, cloned (the GPU memory is shared) so no borrow of the
    /// session outlives this call.
    pub fn snapshot(&self) -> (Rc<Device>, Model, DeviceSplit) {
        (self.gpu.clone(), self.trainer.model.clone(), self.test.clone())
    }

    /// The whole run as a checkpoint file with its curves: from the run's loop between two steps
    /// while it runs, else directly.
    pub async fn checkpoint(session: &Rc<RefCell<Session>>) -> Result<Vec<u8>, String> {
        if session.borrow().looping.get() {
            let (sender, receiver) = oneshot::channel();
            session.borrow().requests.borrow_mut().push(sender);
            return receiver.await.map_err(|_| "the run ended before its checkpoint was taken".to_string())?;
        }
        checkpoint_now(session).await
    }
}

/// The run as a checkpoint file with its curves, taken now: by its loop between two steps, or by
/// anyone when no loop runs.
async fn checkpoint_now(session: &Rc<RefCell<Session>>) -> Result<Vec<u8>, String> {
    let s = session.borrow();
    let notes = serde_json::to_string(&*s.notes.borrow()).map_err(|e| e.to_string())?;
    let checkpoint = s.trainer.checkpoint(&s.gpu, s.setup.epochs, notes).await.map_err(|e| e.to_string())?;
    checkpoint.to_bytes().map_err(|e| e.to_string())
}

/// Runs `session` until its epochs are done, the user stops it, or another run takes over.
/// Returns the reason when the GPU device was lost under it.
pub async fn run(session: Rc<RefCell<Session>>) -> Option<String> {
    let id = session.borrow().id;
    session.borrow().looping.set(true);
    let result = train_loop(&session, id).await;
    session.borrow().looping.set(false);
    // Whoever still waits for a checkpoint gets one from the stopped run (or the reason).
    let waiting: Vec<_> = session.borrow().requests.borrow_mut().drain(..).collect();
    for sender in waiting {
        let _ = sender.send(checkpoint_now(&session).await);
    }
    let gpu = session.borrow().gpu.clone();
    let lost = match &result {
        Err(_) => lost_behind(&gpu).await,
        Ok(()) => None,
    };
    match (result, lost) {
        (Err(_), Some(reason)) => {
            *session.borrow().status.borrow_mut() = Status::DeviceLost(reason.clone());
            report(id, Event::Status { run: id, status: Status::DeviceLost(reason.clone()) });
            is_current(id).then_some(reason)
        }
        (Err(e), None) => {
            // Its last keep is its last finite state (a diverged one is never kept): say where.
            let kept = session.borrow().kept_at.get();
            let e = match kept {
                Some(step) => format!("{e}. The run as kept at step {step} opens from “Runs kept in this browser” to go on from there"),
                None => e,
            };
            *session.borrow().status.borrow_mut() = Status::Failed(e.clone());
            report(id, Event::Status { run: id, status: Status::Failed(e) });
            None
        }
        (Ok(()), _) => None,
    }
}

/// Why the device was lost, when a failure came from that: a loss is often seen first as a failed
/// readback or submission, and the browser resolves the device's `lost` promise a moment later
/// (in Chromium: a task after the map's rejection). Waits up to a second for that notice; a
/// failure of anything else (a CPU engine's, a bug) costs that second once, at the run's end.
pub async fn lost_behind(device: &Device) -> Option<String> {
    for _ in 0..LOST_NOTICE_WAITS {
        if let Some(reason) = device.lost() {
            return Some(reason);
        }
        if device.gpu_ref().is_none() {
            return None;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    device.lost()
}

/// 50 ms waits for a lost device's notice after a failure ([`lost_behind`]).
const LOST_NOTICE_WAITS: usize = 20;

/// Sends `event` of run `id` while it is the current run.
fn report(id: u64, event: Event) {
    if is_current(id) {
        send(event);
    }
}

/// Answers the checkpoints asked for since the last step.
async fn serve_requests(session: &Rc<RefCell<Session>>) {
    let waiting: Vec<_> = session.borrow().requests.borrow_mut().drain(..).collect();
    for sender in waiting {
        let _ = sender.send(checkpoint_now(session).await);
    }
}

async fn train_loop(session: &Rc<RefCell<Session>>, id: u64) -> Result<(), String> {
    // After every await: has another run taken over? Then leave without a word.
    let current = || is_current(id);
    let (gpu, epochs, batch) = {
        let s = session.borrow();
        (s.gpu.clone(), s.setup.epochs, s.setup.batch)
    };
    let batches = session.borrow().trainer.batches_per_epoch();
    let (_, model, test_set) = session.borrow().snapshot();
    let mut evaluator = Evaluator::new(&gpu, &model, &test_set, batch.max(100)).map_err(|e| e.to_string())?;
    // The running sums at the last readback: a run resumed mid-epoch brings its own.
    let mut seen = session.borrow().notes.borrow().seen;
    let mut epoch_start = now();
    let mut active_secs = 0.0;
    let mut last = now();
    let mut images = 0.0;
    let mut steps_at_read = session.borrow().trainer.steps;
    // A run resumed mid-epoch keeps the epoch's running sums.
    if session.borrow().trainer.batch_in_epoch == 0 {
        session.borrow().trainer.reset_stats(&gpu).map_err(|e| e.to_string())?;
    }
    let mut saved_at = now();
    let mut readbacks = 0u64;
    // Steps this loop has taken: its second is timed part by part.
    let mut looped = 0u64;
    // Saved once on entering a pause (a resumed run starts paused and saved already).
    let mut pause_saved = session.borrow().control.get() == Control::Pause;
    let mut status = None;
    let mut set_status = |s: Status| {
        if status.as_ref() != Some(&s) {
            status = Some(s.clone());
            *session.borrow().status.borrow_mut() = s.clone();
            report(id, Event::Status { run: id, status: s });
        }
    };
    loop {
        if !current() {
            return Ok(());
        }
        serve_requests(session).await;
        let control = session.borrow().control.get();
        match control {
            Control::Stop => {
                set_status(Status::Idle);
                return Ok(());
            }
            Control::Pause => {
                // A device lost while paused (a laptop's sleep) is noticed here, not at "resume".
                if let Some(reason) = gpu.lost() {
                    return Err(reason);
                }
                set_status(Status::Paused);
                // A run opened paused: its first step counts from when it resumes.
                if looped == 0 {
                    session.borrow().started.set(now());
                }
                if !pause_saved {
                    pause_saved = true;
                    autosave(session).await;
                    saved_at = now();
                }
                gloo_timers::future::TimeoutFuture::new(100).await;
                last = now();
                continue;
            }
            Control::Run => {
                pause_saved = false;
                set_status(Status::Running);
            }
        }
        looped += 1;
        let (done, rec) = session.borrow_mut().trainer.recorded_step(&gpu).map_err(|e| e.to_string())?;
        // The first step's kernels compile first, one by one, with their progress shown (on a
        // software adapter they take most of a minute).
        let kernels = gpu.pending_pipelines();
        if let Some(wgsl) = gpu.gpu_ref().filter(|_| kernels > 0) {
            wgsl.compile_pending(|done, total| report(id, Event::Preparing { run: id, done, total })).await;
            if !current() {
                return Ok(());
            }
        }
        if looped == 2 || session.borrow().time_next.replace(false) {
            let timing = rec.time_parts(now).await.map_err(|e| e.to_string())?;
            let step = session.borrow().trainer.steps;
            report(id, Event::Timing { run: id, step, layers: cnnscope::LayerTime::by_layer(&timing.parts), clock: timing.clock });
        } else {
            rec.submit_in(session.borrow().trainer.submits());
        }
        if looped == 1 {
            gpu.idle().await;
            let secs = now() - session.borrow().started.get();
            report(id, Event::FirstStep { run: id, secs, kernels });
        }
        let (epoch, batch_in_epoch, steps) = {
            let t = &session.borrow().trainer;
            (t.epoch, t.batch_in_epoch, t.steps)
        };
        if done || batch_in_epoch % REPORT_EVERY == 0 {
            let stats = session.borrow().trainer.stats(&gpu).await;
            if !current() {
                return Ok(());
            }
            let stats = stats.map_err(|e| e.to_string())?;
            let t = now();
            // Keep each submission under the watchdogs' limit (SwiftShader steps take seconds).
            let per_step = (t - last) / (steps - steps_at_read).max(1) as f64;
            session.borrow_mut().trainer.fit_submits(per_step, cnnscope::train::SUBMIT_BUDGET_SECS);
            steps_at_read = steps;
            active_secs += t - last;
            images += stats.examples - seen.2;
            last = t;
            // The interval's own loss and accuracy: the difference of the running sums.
            let n = stats.examples - seen.2;
            if n > 0.0 {
                let x = steps as f64;
                let (loss, train_acc) = ((x, (stats.loss_sum - seen.0) / n), (x / batches as f64, (stats.correct - seen.1) / n));
                let s = session.borrow();
                let mut notes = s.notes.borrow_mut();
                notes.loss.push(loss);
                notes.train_acc.push(train_acc);
                report(id, Event::Interval { run: id, loss, train_acc });
            }
            seen = (stats.loss_sum, stats.correct, stats.examples);
            session.borrow().notes.borrow_mut().seen = seen;
            let rate = images / active_secs.max(1e-9);
            let remaining = (epochs * batches) as f64 - steps as f64;
            let progress = Progress {
                epoch: if done { epoch } else { epoch + 1 },
                epochs,
                batch: if done { batches } else { batch_in_epoch },
                batches,
                steps,
                images_per_sec: rate,
                eta_secs: remaining * batch as f64 / rate.max(1e-9),
            };
            report(id, Event::Progress { run: id, progress });
            readbacks += 1;
            if done || readbacks % LAYER_STATS_EVERY == 0 {
                let layers = session.borrow().trainer.layer_stats(&gpu).await;
                if !current() {
                    return Ok(());
                }
                let layers = layers.map_err(|e| e.to_string())?;
                let hints = cnnscope::train::layer_stats::hints(&layers);
                session.borrow().notes.borrow_mut().layers.push(steps, layers.clone(), hints.clone());
                report(id, Event::Layers { run: id, step: steps, layers, hints });
            }
            if done {
                let test = evaluator.run(&gpu, &model, &test_set).await.map_err(|e| e.to_string())?;
                let dead = evaluator.dead_start(&gpu, &model, &test_set, &stats).await.map_err(|e| e.to_string())?;
                if !current() {
                    return Ok(());
                }
                let secs = now() - epoch_start;
                let mut lines = vec![cnnscope::train::epoch_line(epoch, &stats, &test, secs, secs)];
                if let Some(why) = &dead {
                    lines.push(format!("note: {why}; another seed or a smaller width ratio avoids it."));
                }
                let test_acc = (epoch as f64, test.accuracy());
                {
                    let s = session.borrow();
                    let mut notes = s.notes.borrow_mut();
                    notes.test_acc.push(test_acc);
                    notes.epoch_lines.extend(lines.iter().cloned());
                }
                report(id, Event::Epoch { run: id, test_acc, lines });
                session.borrow().trainer.reset_stats(&gpu).map_err(|e| e.to_string())?;
                seen = (0.0, 0.0, 0.0);
                session.borrow().notes.borrow_mut().seen = seen;
                autosave(session).await;
                if !current() {
                    return Ok(());
                }
                saved_at = now();
                epoch_start = now();
                last = now();
                if epoch >= epochs {
                    set_status(Status::Finished);
                    return Ok(());
                }
            } else if now() - saved_at >= session.borrow().keep_every.get() || session.borrow().keep_next.replace(false) {
                autosave(session).await;
                if !current() {
                    return Ok(());
                }
                saved_at = now();
                last = now();
            }
        }
        // Let the worker answer commands between steps.
        gloo_timers::future::TimeoutFuture::new(0).await;
    }
}

/// Keeps the run in the browser (`runs`); says when, or why not. Training goes on either way.
async fn autosave(session: &Rc<RefCell<Session>>) {
    let began = now();
    let (id, name, steps) = {
        let s = session.borrow();
        (s.id, s.name(), s.trainer.steps)
    };
    let result = keep_streamed(session, &name).await.map(|()| {
        let s = session.borrow();
        s.kept_at.set(Some(steps));
        s.keep_every.set((KEEP_EVERY_TIMES_ITS_COST * (now() - began)).max(MIN_KEEP_EVERY_SECS));
        format!("kept in this browser at step {steps}")
    });
    report(id, Event::Saved { run: id, result });
}

/// Keeps the run as `name`, streamed from the engine to the browser's storage a tensor at a time
/// (`CheckpointStream`): the worker never holds the whole file, nor every tensor at once. Only the
/// run's loop calls it, between two steps.
async fn keep_streamed(session: &Rc<RefCell<Session>>, name: &str) -> Result<(), String> {
    let s = session.borrow();
    let notes = serde_json::to_string(&*s.notes.borrow()).map_err(|e| e.to_string())?;
    let stream = s.trainer.checkpoint_stream(&s.gpu, s.setup.epochs, &notes).await.map_err(|e| format!("saving the run failed: {e}"))?;
    let bytes = stream.len() as f64;
    let engine = |e: cnnscope::EngineError| wasm_bindgen::JsValue::from_str(&format!("reading the run back failed: {e}"));
    crate::runs::save_with(name, bytes, async |file| stream.write_to(&s.gpu, async |piece| file.write(piece).await, engine).await).await
}

/// Stops the run and keeps it in the browser as it stands, unless it is kept at that step
/// already: what replacing it on the page (a start, an opened file or kept run, `?weights=`) does
/// first, so no step it took is lost. Its loop ends at its next step and hands over the last
/// checkpoint. Says under which name it was kept (`None`: nothing new to keep).
pub async fn stop_and_keep(session: &Rc<RefCell<Session>>) -> Result<Option<String>, String> {
    session.borrow().control.set(Control::Stop);
    if session.borrow().trainer.steps == 0 {
        return Ok(None);
    }
    let bytes = Session::checkpoint(session).await?;
    let steps = cnnscope::train::checkpoint::Header::read(&bytes).map_err(|e| e.to_string())?.state.steps;
    if session.borrow().kept_at.get() == Some(steps) {
        return Ok(None);
    }
    let name = session.borrow().name();
    crate::runs::save(&name, &bytes).await?;
    session.borrow().kept_at.set(Some(steps));
    Ok(Some(name))
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
