//! A training run in the page: the engine's trainer driven step by step from an async loop that
//! yields to the browser between steps and reads the GPU's running sums only every few steps.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cnnscope::data::{FashionMnist, GpuSplit};
use cnnscope::model::{Graph, Init, Model};
use cnnscope::train::{Checkpoint, Evaluator, TrainConfig, Trainer};
use cnnscope::{DType, Gpu, Recorder, Tensor, ops};
use leptos::prelude::*;
use futures_channel::oneshot;
use serde::{Deserialize, Serialize};

use crate::charts::Series;
use crate::setup::Setup;

/// What the user asked the loop to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Run,
    Pause,
    Stop,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Idle,
    Running,
    Paused,
    Finished,
    Failed(String),
    /// The GPU device was lost (the reason): the page is opening a new one.
    DeviceLost(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub steps: u64,
    pub images_per_sec: f64,
    pub eta_secs: f64,
}

/// Everything the page shows about a run, as signals.
#[derive(Clone, Copy)]
pub struct View {
    pub status: RwSignal<Status>,
    pub progress: RwSignal<Progress>,
    pub loss: RwSignal<Vec<(f64, f64)>>,
    pub train_acc: RwSignal<Vec<(f64, f64)>>,
    pub test_acc: RwSignal<Vec<(f64, f64)>>,
    pub epoch_lines: RwSignal<Vec<String>>,
    /// Bumped after each epoch so the feature maps refresh.
    pub epoch_done: RwSignal<u32>,
    /// The run that owns this view. Starting, loading weights or stopping bumps it; a loop whose
    /// number is no longer current writes nothing more (it stops at its next check).
    pub run: RwSignal<u64>,
    /// The last save of the run in the browser: when, or why it failed.
    pub saved: RwSignal<Option<Result<String, String>>>,
    /// Bumped after every save, so the list of kept runs refreshes.
    pub stored: RwSignal<u32>,
    /// The running sums at the loop's last readback (notes for a checkpoint).
    pub seen: RwSignal<(f64, f64, f64)>,
}

/// What the page keeps of a run besides the engine's checkpoint: its name, curves and epoch lines,
/// and the running sums at the last readback (so the first interval after resuming has the same
/// loss as without the stop). Stored as the checkpoint's notes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    pub name: String,
    pub loss: Vec<(f64, f64)>,
    pub train_acc: Vec<(f64, f64)>,
    pub test_acc: Vec<(f64, f64)>,
    pub epoch_lines: Vec<String>,
    pub seen: (f64, f64, f64),
}

impl View {
    pub fn new() -> View {
        View {
            status: RwSignal::new(Status::Idle),
            progress: RwSignal::new(Progress::default()),
            loss: RwSignal::new(Vec::new()),
            train_acc: RwSignal::new(Vec::new()),
            test_acc: RwSignal::new(Vec::new()),
            epoch_lines: RwSignal::new(Vec::new()),
            epoch_done: RwSignal::new(0),
            run: RwSignal::new(0),
            saved: RwSignal::new(None),
            stored: RwSignal::new(0),
            seen: RwSignal::new((0.0, 0.0, 0.0)),
        }
    }

    /// The curves and lines, and the sums at the last readback, as notes for a checkpoint.
    fn notes(&self, name: &str) -> Notes {
        Notes {
            name: name.to_string(),
            loss: self.loss.get_untracked(),
            train_acc: self.train_acc.get_untracked(),
            test_acc: self.test_acc.get_untracked(),
            epoch_lines: self.epoch_lines.get_untracked(),
            seen: self.seen.get_untracked(),
        }
    }

    /// Shows a resumed run's curves and lines.
    fn restore(&self, notes: &Notes) {
        self.loss.set(notes.loss.clone());
        self.train_acc.set(notes.train_acc.clone());
        self.test_acc.set(notes.test_acc.clone());
        self.epoch_lines.set(notes.epoch_lines.clone());
        self.seen.set(notes.seen);
        self.progress.set(Progress::default());
    }

    fn reset(&self) {
        self.loss.set(Vec::new());
        self.train_acc.set(Vec::new());
        self.test_acc.set(Vec::new());
        self.epoch_lines.set(Vec::new());
        self.progress.set(Progress::default());
        self.saved.set(None);
        self.seen.set((0.0, 0.0, 0.0));
    }

    pub fn loss_series(&self) -> Signal<Vec<Series>> {
        let loss = self.loss;
        Signal::derive(move || vec![Series { name: "train loss", color: "#d9480f", points: loss.get() }])
    }

    pub fn accuracy_series(&self) -> Signal<Vec<Series>> {
        let (train, test) = (self.train_acc, self.test_acc);
        Signal::derive(move || {
            vec![
                Series { name: "train acc", color: "#1c7ed6", points: train.get() },
                Series { name: "test acc", color: "#2b8a3e", points: test.get() },
            ]
        })
    }
}

/// The model being trained and the data on the GPU.
pub struct Session {
    pub gpu: Rc<Gpu>,
    pub trainer: Trainer,
    pub test: GpuSplit,
    pub control: Rc<Cell<Control>>,
    pub setup: Setup,
    /// The name the run is kept under in the browser (`runs`).
    pub name: String,
    /// A resumed run's curves, shown when its loop starts.
    restored: Option<Notes>,
    /// While a loop runs the session, it alone touches the trainer: others ask it for a
    /// checkpoint here and it answers between steps.
    looping: Rc<Cell<bool>>,
    requests: Rc<RefCell<Vec<oneshot::Sender<Result<Vec<u8>, String>>>>>,
}

/// Steps between readbacks of the running loss: each readback waits for the GPU.
const REPORT_EVERY: usize = 5;

impl Session {
    /// A run of `setup` from fresh weights, or from `weights` (a safetensors file) when given.
    pub fn new(gpu: Rc<Gpu>, data: &FashionMnist, setup: Setup, weights: Option<&[u8]>) -> Result<Session, String> {
        let (net, seed) = (setup.net()?, setup.seed);
        let model = Model::new(&gpu, net, Init::Default, seed).map_err(|e| e.to_string())?;
        if let Some(bytes) = weights {
            model.load_weights(&gpu, bytes).map_err(|e| e.to_string())?;
        }
        let train = data.train.upload(&gpu).map_err(|e| e.to_string())?;
        let test = data.test.upload(&gpu).map_err(|e| e.to_string())?;
        let config = TrainConfig { batch: setup.batch, optimizer: setup.optimizer(), seed };
        let trainer = Trainer::new(&gpu, model, train, config).map_err(|e| e.to_string())?;
        let name = crate::runs::new_name(setup.arch.id());
        Ok(Session { gpu, trainer, test, control: Rc::new(Cell::new(Control::Run)), setup, name, restored: None, looping: Default::default(), requests: Default::default() })
    }

    /// The run a checkpoint holds (one the page kept, downloaded, or the CLI wrote), paused where
    /// it stopped, with its curves. It must be on the data it was trained on (`?limit=` included).
    pub fn from_checkpoint(gpu: Rc<Gpu>, data: &FashionMnist, bytes: &[u8]) -> Result<Session, String> {
        let checkpoint = Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())?;
        // The CLI writes no notes: a run from it starts with empty curves.
        let notes: Notes = serde_json::from_str(&checkpoint.notes).unwrap_or_default();
        let (net, config) = (checkpoint.net, checkpoint.config);
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
        };
        let train = data.train.upload(&gpu).map_err(|e| e.to_string())?;
        let test = data.test.upload(&gpu).map_err(|e| e.to_string())?;
        let trainer = Trainer::resume(&gpu, &checkpoint, train).map_err(|e| e.to_string())?;
        let name = if notes.name.is_empty() { crate::runs::new_name(net.arch.id()) } else { notes.name.clone() };
        Ok(Session { gpu, trainer, test, control: Rc::new(Cell::new(Control::Pause)), setup, name, restored: Some(notes), looping: Default::default(), requests: Default::default() })
    }

    /// The whole run as a checkpoint file, with the page's curves: from the run's loop between two
    /// steps while it runs, else directly.
    pub async fn checkpoint(session: &Rc<RefCell<Session>>, view: View) -> Result<Vec<u8>, String> {
        let looping = session.borrow().looping.get();
        if looping {
            let (sender, receiver) = oneshot::channel();
            session.borrow().requests.borrow_mut().push(sender);
            return receiver.await.map_err(|_| "the run ended before its checkpoint was taken".to_string())?;
        }
        checkpoint_now(session, view).await
    }
}

/// The run as a checkpoint file with the view's curves, taken now: by its loop between two
/// steps, or by anyone when no loop runs.
async fn checkpoint_now(session: &Rc<RefCell<Session>>, view: View) -> Result<Vec<u8>, String> {
    let s = session.borrow();
    let notes = serde_json::to_string(&view.notes(&s.name)).map_err(|e| e.to_string())?;
    let checkpoint = s.trainer.checkpoint(&s.gpu, s.setup.epochs, notes).await.map_err(|e| e.to_string())?;
    checkpoint.to_bytes().map_err(|e| e.to_string())
}

impl Session {

    /// What the feature-map view needs, cloned (the GPU memory is shared) so no borrow of the
    /// session outlives this call.
    pub fn snapshot(&self) -> (Rc<Gpu>, Model, GpuSplit) {
        (self.gpu.clone(), self.trainer.model.clone(), self.test.clone())
    }
}

/// Runs `session` until its epochs are done or the user stops it, as the view's current run.
pub async fn run(session: Rc<RefCell<Session>>, view: View) {
    let id = view.run.get_untracked();
    let restored = session.borrow_mut().restored.take();
    match &restored {
        Some(notes) => view.restore(notes),
        None => view.reset(),
    }
    view.status.set(if session.borrow().control.get() == Control::Pause { Status::Paused } else { Status::Running });
    let looping = session.borrow().looping.clone();
    looping.set(true);
    let result = train_loop(&session, view, id).await;
    looping.set(false);
    // Whoever still waits for a checkpoint gets one from the stopped run (or the reason).
    let waiting: Vec<_> = session.borrow().requests.borrow_mut().drain(..).collect();
    for sender in waiting {
        let _ = sender.send(Session::checkpoint(&session, view).await);
    }
    if let Err(e) = result
        && view.run.get_untracked() == id
    {
        let lost = session.borrow().gpu.lost();
        view.status.set(match lost {
            Some(reason) => Status::DeviceLost(reason),
            None => Status::Failed(e),
        });
    }
}

/// Answers the checkpoints asked for since the last step.
async fn serve_requests(session: &Rc<RefCell<Session>>, view: View) {
    let waiting: Vec<_> = session.borrow().requests.borrow_mut().drain(..).collect();
    for sender in waiting {
        let _ = sender.send(checkpoint_now(session, view).await);
    }
}

async fn train_loop(session: &Rc<RefCell<Session>>, view: View, id: u64) -> Result<(), String> {
    // After every await: has another run taken the view? Then leave without a word.
    let current = move || view.run.get_untracked() == id;
    let (gpu, control, epochs, batch) = {
        let s = session.borrow();
        (s.gpu.clone(), s.control.clone(), s.setup.epochs, s.setup.batch)
    };
    let batches = session.borrow().trainer.batches_per_epoch();
    let (_, model, test_set) = session.borrow().snapshot();
    let mut evaluator = Evaluator::new(&gpu, &model, &test_set, batch.max(100)).map_err(|e| e.to_string())?;
    // The running sums at the last readback: a run resumed mid-epoch brings its own (`restore`).
    let mut seen_loss = if session.borrow().trainer.batch_in_epoch > 0 { view.seen.get_untracked() } else { (0.0, 0.0, 0.0) };
    view.seen.set(seen_loss);
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
    // Saved once on entering a pause (a resumed run starts paused and saved already).
    let mut pause_saved = session.borrow().control.get() == Control::Pause;
    loop {
        if !current() {
            return Ok(());
        }
        serve_requests(session, view).await;
        match control.get() {
            Control::Stop => {
                view.status.set(Status::Idle);
                return Ok(());
            }
            Control::Pause => {
                view.status.set(Status::Paused);
                if !pause_saved {
                    pause_saved = true;
                    autosave(session, view).await;
                    saved_at = now();
                }
                gloo_timers::future::TimeoutFuture::new(100).await;
                if !current() {
                    return Ok(());
                }
                last = now();
                continue;
            }
            Control::Run => {
                pause_saved = false;
                view.status.set(Status::Running)
            }
        }
        let done = session.borrow_mut().trainer.step(&gpu).map_err(|e| e.to_string())?;
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
            images += stats.examples - seen_loss.2;
            last = t;
            // The interval's own loss and accuracy: the difference of the running sums.
            let n = stats.examples - seen_loss.2;
            if n > 0.0 {
                let x = steps as f64;
                view.loss.update(|v| v.push((x, (stats.loss_sum - seen_loss.0) / n)));
                view.train_acc.update(|v| v.push((x / batches as f64, (stats.correct - seen_loss.1) / n)));
            }
            seen_loss = (stats.loss_sum, stats.correct, stats.examples);
            view.seen.set(seen_loss);
            let rate = images / active_secs.max(1e-9);
            let remaining = (epochs * batches) as f64 - steps as f64;
            view.progress.set(Progress {
                epoch: if done { epoch } else { epoch + 1 },
                epochs,
                batch: if done { batches } else { batch_in_epoch },
                batches,
                steps,
                images_per_sec: rate,
                eta_secs: remaining * batch as f64 / rate.max(1e-9),
            });
            if done {
                let test = evaluator.run(&gpu, &model, &test_set).await.map_err(|e| e.to_string())?;
                let dead = evaluator.dead_start(&gpu, &model, &test_set, &stats).await.map_err(|e| e.to_string())?;
                if !current() {
                    return Ok(());
                }
                view.test_acc.update(|v| v.push((epoch as f64, test.accuracy())));
                view.epoch_lines.update(|v| {
                    let secs = now() - epoch_start;
                    v.push(cnnscope::train::epoch_line(epoch, &stats, &test, secs, secs));
                    if let Some(why) = &dead {
                        v.push(format!("note: {why}; another seed or a smaller width ratio avoids it."));
                    }
                });
                view.epoch_done.update(|n| *n += 1);
                session.borrow().trainer.reset_stats(&gpu).map_err(|e| e.to_string())?;
                seen_loss = (0.0, 0.0, 0.0);
                view.seen.set(seen_loss);
                autosave(session, view).await;
                if !current() {
                    return Ok(());
                }
                saved_at = now();
                epoch_start = now();
                last = now();
                if epoch >= epochs {
                    view.status.set(Status::Finished);
                    return Ok(());
                }
            } else if now() - saved_at >= AUTOSAVE_EVERY_SECS {
                autosave(session, view).await;
                if !current() {
                    return Ok(());
                }
                saved_at = now();
                last = now();
            }
        }
        // Let the browser paint and handle input between steps.
        gloo_timers::future::TimeoutFuture::new(0).await;
    }
}

/// Seconds of training between saves in the browser (a run is also saved after every epoch and
/// on every pause).
const AUTOSAVE_EVERY_SECS: f64 = 120.0;

/// Keeps the run in the browser (`runs`); says when, or why not. Training goes on either way.
async fn autosave(session: &Rc<RefCell<Session>>, view: View) {
    let bytes = checkpoint_now(session, view).await;
    let (name, steps) = (session.borrow().name.clone(), session.borrow().trainer.steps);
    let result = match bytes {
        Ok(bytes) => crate::runs::save(&name, &bytes).await.map(|()| format!("kept in this browser at step {steps}")),
        Err(e) => Err(format!("saving the run failed: {e}")),
    };
    view.saved.set(Some(result));
    view.stored.update(|n| *n += 1);
}

/// Seconds since the page loaded.
pub fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now() / 1e3).unwrap_or(0.0)
}

/// One layer's output for one image: its name, type, shape (channels, height, width) and values.
pub struct LayerOutput {
    pub name: String,
    pub kind: &'static str,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Runs one test image through the model (evaluation mode) and reads every layer's output and the
/// class probabilities.
pub async fn inspect(gpu: &Gpu, model: &Model, test: &GpuSplit, index: usize) -> Result<(Vec<LayerOutput>, Vec<f32>, usize), String> {
    let e = |e: cnnscope::EngineError| e.to_string();
    if index >= test.count {
        return Err(format!("there is no test image #{index}: the test set has {} images, #0 to #{}", test.count, test.count.saturating_sub(1)));
    }
    let mut graph = Graph::new(gpu, &model.net, 1, false).map_err(e)?;
    let order = Tensor::from_u32(gpu, &[1], &[index as u32], "inspected image").map_err(e)?;
    let label = Tensor::zeros(gpu, &[1], DType::U32, "inspected label").map_err(e)?;
    let probs = Tensor::zeros(gpu, graph.logits().shape(), DType::F32, "probabilities").map_err(e)?;
    let mut rec = Recorder::new(gpu);
    ops::gather_resize(&mut rec, &test.pixels, test.side, &test.labels, &order, 0, graph.input(), &label).map_err(e)?;
    graph.forward(&mut rec, &model.params, false, 0).map_err(e)?;
    ops::softmax(&mut rec, graph.logits(), &probs).map_err(e)?;
    rec.submit();

    let summary = cnnscope::net::Summary::new(&model.net).map_err(e)?;
    let mut outputs = vec![LayerOutput {
        name: "input".into(),
        kind: "input",
        shape: graph.input().shape()[1..].to_vec(),
        values: graph.input().read_f32(gpu).await.map_err(e)?,
    }];
    let mut seen = Vec::new();
    for (name, tensor) in graph.outputs() {
        // A fused ReLU shares its layer's output; dropout is the identity when evaluating.
        let kind = summary.rows.iter().find(|r| r.name == name).map(|r| r.kind).ok_or_else(|| format!("layer {name} is not in the layer table"))?;
        if matches!(kind, "ReLU" | "Dropout" | "Flatten") || seen.contains(&tensor.buffer().clone()) {
            continue;
        }
        seen.push(tensor.buffer().clone());
        outputs.push(LayerOutput { name: name.to_string(), kind, shape: tensor.shape()[1..].to_vec(), values: tensor.read_f32(gpu).await.map_err(e)? });
    }
    let label = label.read_u32(gpu).await.map_err(e)?[0] as usize;
    Ok((outputs, probs.read_f32(gpu).await.map_err(e)?, label))
}

/// Runs a 28×28 grey image of the user's own (drawn or picked) through the model.
pub async fn inspect_pixels(gpu: &Gpu, model: &Model, pixels: Vec<u8>) -> Result<(Vec<LayerOutput>, Vec<f32>, usize), String> {
    let side = crate::drawing::SIDE as usize;
    let split = cnnscope::data::Split { images: cnnscope::data::Images { count: 1, rows: side, cols: side, pixels }, labels: vec![0] };
    let uploaded = split.upload(gpu).map_err(|e| e.to_string())?;
    inspect(gpu, model, &uploaded, 0).await
}
