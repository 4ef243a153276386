//! The engine's Web Worker: it owns everything on the GPU (adapter, device, the dataset, the
//! model, the run) and answers the page's `Command`s with `Event`s (`protocol`). The page holds no
//! GPU objects, so parsing the dataset, building pipelines and encoding steps never block it.
//!
//! One run at a time: `session` drives it; a new run (start, an opened file or kept run) stops
//! the old one, whose loop then writes nothing more (`is_current`).

pub mod data;
pub mod inspect;
pub mod session;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cnnscope::train::Checkpoint;
use cnnscope::{Choice, Device};
use cnnscope::data::{CLASS_NAMES, FashionMnist};
use gloo_worker::{HandlerId, Worker, WorkerScope};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use crate::protocol::{Adapter, Command, Control, DataSummary, Download, Event, Image, Inspection, Status};
use crate::setup::Setup;
use session::Session;

thread_local! {
    /// Where events go: the page's bridge (or a test's sink, `connect`).
    static OUTBOX: RefCell<Option<Rc<dyn Fn(Event)>>> = const { RefCell::new(None) };
    /// The number of the run that owns the page.
    static CURRENT_RUN: Cell<u64> = const { Cell::new(0) };
    /// The last run number handed out: a run being built while the old one is kept (an await)
    /// must not share its number with one built meanwhile.
    static LAST_RUN: Cell<u64> = const { Cell::new(0) };
    /// Set while a lost device is being replaced: whoever needs the GPU meanwhile waits.
    static REOPENING: Cell<bool> = const { Cell::new(false) };
    /// Bumped by every `Prepare` and `Start`: compiling ahead for an older setup stops.
    static PREPARING: Cell<u64> = const { Cell::new(0) };
    static STATE: State = State::default();
}

/// Sends `event` to the page.
pub(crate) fn send(event: Event) {
    let outbox = OUTBOX.with(|o| o.try_borrow().ok().and_then(|o| o.clone()));
    if let Some(deliver) = outbox {
        deliver(event);
    }
}

/// From now on events go to `sink`: the page's bridge, or a test that drives the engine in its
/// own thread with [`handle`].
pub fn connect(sink: impl Fn(Event) + 'static) {
    OUTBOX.with(|o| *o.borrow_mut() = Some(Rc::new(sink)));
}

/// Whether run `id` still owns the page.
pub(crate) fn is_current(id: u64) -> bool {
    CURRENT_RUN.with(|c| c.get() == id)
}

#[derive(Default)]
struct State {
    gpu: RefCell<Option<Rc<Device>>>,
    data: RefCell<Option<Rc<FashionMnist>>>,
    session: RefCell<Option<Rc<RefCell<Session>>>>,
    /// Weights the user opened: "continue" trains them further, "new run" starts from scratch.
    loaded: RefCell<Option<Rc<Vec<u8>>>>,
    /// Whether `session` is those weights, not a run.
    weights_only: Cell<bool>,
}

fn state<T>(f: impl FnOnce(&State) -> T) -> T {
    STATE.with(f)
}

fn gpu() -> Result<Rc<Device>, String> {
    state(|s| s.gpu.borrow().clone()).ok_or_else(|| "the GPU is not open yet".to_string())
}

/// The GPU, replaced first if its device was lost (a driver reset, the OS's watchdog, a laptop's
/// sleep). A run's loop notices a loss at its next step; everything else that needs the GPU comes
/// here first, so a loss while no loop runs (a finished or stopped run, loaded weights) is noticed
/// at the next click, which then goes on with the run as it was last kept.
async fn live_gpu() -> Result<Rc<Device>, String> {
    while REOPENING.get() {
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    let gpu = gpu()?;
    match gpu.lost() {
        None => Ok(gpu),
        Some(reason) => reopen(reason).await,
    }
}

fn data() -> Result<Rc<FashionMnist>, String> {
    state(|s| s.data.borrow().clone()).ok_or_else(|| "the dataset is not loaded yet".to_string())
}

fn session() -> Option<Rc<RefCell<Session>>> {
    state(|s| s.session.borrow().clone())
}

/// The worker gloo-worker runs: commands in, events out.
pub struct Engine;

impl Worker for Engine {
    type Message = ();
    type Input = Command;
    type Output = Event;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        // A panic is a defect in cnnscope: the page shows its crash notice (never a page that
        // waits forever for an answer), and the console has it.
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&format!("cnnscope worker {info}").into());
            send(Event::Crashed(info.to_string()));
        }));
        Engine
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}

    /// The page's bridge: from now on events go to it, starting with the adapter.
    fn connected(&mut self, scope: &WorkerScope<Self>, id: HandlerId) {
        // The engine opens when the page says which (`Command::OpenEngine`, its first command).
        let scope = scope.clone();
        connect(move |event| scope.respond(id, event));
    }

    fn received(&mut self, _scope: &WorkerScope<Self>, command: Command, _id: HandlerId) {
        handle(command);
    }
}

/// The answer to a command about the model when there is none (no run yet, or the only start
/// failed): every command the page waits on is answered.
const NO_MODEL: &str = "start training or load weights first: there is no model yet";

/// Answers `command`: every command ends in exactly one answer, whatever the state (docs/APP.md,
/// "The protocol"); one with nothing to act on ends in `Event::Nothing`, saying why.
pub fn handle(command: Command) {
    match command {
        Command::LoadData { source, limit } => spawn_local(async move {
            let loaded = data::load(source, limit, |p| send(Event::DataProgress(p))).await;
            send(Event::Data(loaded.map(|d| {
                let summary = summarize(&d);
                state(|s| *s.data.borrow_mut() = Some(Rc::new(d)));
                summary
            })));
        }),
        Command::Prepare { setup } => {
            let generation = PREPARING.get() + 1;
            PREPARING.set(generation);
            spawn_local(prepare(setup, generation))
        }
        Command::Start { setup, from_loaded } => spawn_local(async move {
            PREPARING.set(PREPARING.get() + 1);
            // A lost device is replaced first; should that fail, start says why.
            let _ = live_gpu().await;
            start(setup, from_loaded).await
        }),
        // Answered by the run's loop: its next status.
        Command::Control { run, control } => match session().filter(|s| s.borrow().id == run) {
            Some(s) if s.borrow().looping() && s.borrow().control.get() != control => s.borrow().control.set(control),
            Some(s) if s.borrow().looping() => send(Event::Nothing(format!("run {run} is already {control:?}"))),
            _ => send(Event::Nothing(format!("run {run} is not running here"))),
        },
        // Answered by the run's loop: `Saved` at its next readback.
        Command::Keep => match session().filter(|s| s.borrow().looping() && s.borrow().control.get() == Control::Run) {
            Some(s) => s.borrow().keep_next.set(true),
            None => send(Event::Nothing("no run is training: nothing new to keep".into())),
        },
        // Answered by the run's loop: `Timing` of its next step (a paused run's first after "resume").
        Command::TimeStep { run } => match session().filter(|s| s.borrow().id == run && s.borrow().looping()) {
            Some(s) => s.borrow().time_next.set(true),
            None => send(Event::Nothing(format!("run {run} is not training: no step to time"))),
        },
        Command::SetLr { lr } => send(match set_lr(lr) {
            Ok(Some(said)) => Event::Message(Ok(said)),
            Ok(None) => Event::Nothing(format!("learning rate {lr}: no paused run takes it (a new run starts with the knobs')")),
            Err(e) => Event::Message(Err(e)),
        }),
        Command::OpenFile { name, bytes, setup } => spawn_local(async move {
            let _ = live_gpu().await;
            open_file(name, bytes, setup).await
        }),
        Command::OpenUrl { url, setup } => spawn_local(async move {
            let name = url.rsplit('/').next().unwrap_or(&url).to_string();
            let asked_during = CURRENT_RUN.get();
            match data::fetch(&url, data::MAX_RUN_FILE, &|_, _| {}).await {
                // A run started or opened while the file downloaded stays: the user chose it later.
                Ok(_) if CURRENT_RUN.get() != asked_during => {
                    send(Event::Message(Err(format!("{name} arrived after another run was started, so it was not opened: open it with the file button"))))
                }
                Ok(bytes) => {
                    let _ = live_gpu().await;
                    open_file(name, bytes, setup).await
                }
                Err(e) => send(Event::Message(Err(e))),
            }
        }),
        Command::OpenKept { name } => spawn_local(async move {
            let _ = live_gpu().await;
            // Its newest state is the one training on screen, not the one kept a while ago.
            if session().is_some_and(|s| s.borrow().name() == name) && !state(|s| s.weights_only.get()) {
                return send(Event::Message(Ok(format!("the run {name} is the one on screen"))));
            }
            // One tab owns a run: a second copy training here would overwrite the other's keeps.
            if !crate::lock::acquire_soon(&name).await {
                return send(Event::Message(Err(format!(
                    "the run {name} is open in another tab: download its checkpoint there and open the file here to work on a copy"
                ))));
            }
            let opened = match crate::runs::read(&name).await {
                Ok(checkpoint) => replace_with_checkpoint(&checkpoint, false).await.map(|at| format!("opened the run {name}, {at}")),
                Err(e) => Err(e),
            };
            if opened.is_err() {
                crate::lock::release(&name);
            }
            send(Event::Message(opened));
        }),
        Command::Inspect(image) => spawn_local(async move {
            let _ = live_gpu().await;
            let Some(s) = session() else {
                send(Event::Inspection(Err(NO_MODEL.into())));
                return;
            };
            let (gpu, model, test) = s.borrow().snapshot();
            let inspection = match &image {
                Image::Test(i) => inspect::inspect(&gpu, &model, &test, *i).await,
                Image::Pixels(pixels) => inspect::inspect_pixels(&gpu, &model, pixels.clone()).await,
            };
            // Why the predicted class, right after.
            let predicted = inspection.as_ref().ok().map(Inspection::predicted);
            send(Event::Inspection(inspection));
            if let Some(class) = predicted {
                send(Event::Explanation(inspect::explain(&gpu, &model, &test, &image, class).await));
            }
        }),
        Command::Explain { image, class } => spawn_local(async move {
            let _ = live_gpu().await;
            let Some(s) = session() else {
                send(Event::Explanation(Err(NO_MODEL.into())));
                return;
            };
            let (gpu, model, test) = s.borrow().snapshot();
            send(Event::Explanation(inspect::explain(&gpu, &model, &test, &image, class).await))
        }),
        Command::Evaluate => spawn_local(async move {
            let _ = live_gpu().await;
            let (s, d) = match (session(), data()) {
                (Some(s), Ok(d)) => (s, d),
                (None, _) => return send(Event::Evaluation(Err(NO_MODEL.into()))),
                (_, Err(e)) => return send(Event::Evaluation(Err(e))),
            };
            let (gpu, model, test) = s.borrow().snapshot();
            let batch = s.borrow().setup.batch.max(100);
            send(Event::Evaluation(inspect::evaluate(&gpu, &model, &test, &d.test, batch).await))
        }),
        Command::Download(what) => spawn_local(async move {
            let _ = live_gpu().await;
            let Some(s) = session() else {
                send(Event::Message(Err(NO_MODEL.into())));
                return;
            };
            let file = match what {
                Download::Weights => weights_file(&s).await,
                Download::Checkpoint => checkpoint_file(&s).await,
                Download::Onnx => onnx_file(&s).await,
            };
            match file {
                Ok((name, bytes)) => send(Event::File { name, bytes }),
                Err(e) => send(Event::Message(Err(e))),
            }
        }),
        Command::OpenEngine { choice, webgpu } => spawn_local(open_engine(choice, webgpu)),
        Command::LoseDevice => {
            if let Some(gpu) = gpu().ok().as_deref().and_then(Device::gpu_ref) {
                gpu.destroy();
            }
        }
        // Where a bug is hardest to report: in a task, inside a one-time initialisation (as a
        // pipeline's compiling is).
        Command::Panic => spawn_local(async {
            static NEVER: std::sync::OnceLock<()> = std::sync::OnceLock::new();
            NEVER.get_or_init(|| panic!("worker_crash_test() was called: this is what a bug in cnnscope's engine looks like"));
        }),
    }
}

/// What the browser says of its adapter (`GPUAdapter.info`: vendor, architecture, device,
/// description), which wgpu's WebGPU backend leaves empty: "google · swiftshader · SwiftShader
/// Device (Subzero)". Asks for an adapter of its own, as wgpu did.
async fn browser_adapter_info() -> Option<String> {
    use js_sys::Reflect;
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let gpu = Reflect::get(&navigator, &"gpu".into()).ok()?;
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into()).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(request.call0(&gpu).ok()?)).await.ok()?;
    let info = Reflect::get(&adapter, &"info".into()).ok()?;
    let field = |key: &str| Reflect::get(&info, &key.into()).ok().and_then(|v| v.as_string()).filter(|v| !v.is_empty());
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"].into_iter().filter_map(field).collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The dataset's sizes and the first test image of each class.
fn summarize(d: &FashionMnist) -> DataSummary {
    let test = &d.test;
    let (rows, cols) = (test.images.rows, test.images.cols);
    let samples = (0..CLASS_NAMES.len() as u8)
        .filter_map(|c| test.labels.iter().position(|&l| l == c))
        .map(|i| (test.labels[i], test.images.pixels[i * rows * cols..(i + 1) * rows * cols].to_vec()))
        .collect();
    DataSummary { train: d.train.len(), test: d.test.len(), rows, cols, samples }
}

/// Run `id` owns the page from now on: the old run stops, and nothing it does reaches the page.
fn retire(id: u64) {
    if let Some(old) = session() {
        old.borrow().control.set(Control::Stop);
    }
    CURRENT_RUN.with(|c| c.set(id));
}

/// `session` becomes the run that owns the page: the old run stops, the page learns of the new
/// one before any of its events.
fn take_over(session: Session, weights_only: bool) -> Rc<RefCell<Session>> {
    retire(session.id);
    send(Event::Run { run: session.id, setup: session.setup.clone(), notes: session.notes.borrow().clone(), weights_only });
    let status = match (weights_only, session.control.get()) {
        (true, _) => Status::Idle,
        (false, Control::Pause) => Status::Paused,
        (false, _) => Status::Running,
    };
    send(Event::Status { run: session.id, status });
    let name = session.name();
    let session = Rc::new(RefCell::new(session));
    state(|s| {
        *s.session.borrow_mut() = Some(session.clone());
        s.weights_only.set(weights_only);
    });
    // This tab owns the run on screen, and no other.
    spawn_local(async move {
        crate::lock::acquire(&name).await;
        match self::session() {
            Some(s) if s.borrow().name() == name => crate::lock::keep_only(&name),
            _ => crate::lock::release(&name),
        }
    });
    session
}

fn next_run() -> u64 {
    let id = LAST_RUN.get().max(CURRENT_RUN.get()) + 1;
    LAST_RUN.set(id);
    id
}

/// Trains `session` in the background; a lost device reopens the run as last kept.
fn run(session: Rc<RefCell<Session>>) {
    spawn_local(async move {
        if session::run(session).await.is_some() {
            let _ = live_gpu().await;
        }
    });
}

async fn start(setup: Setup, from_loaded: bool) {
    let weights = if from_loaded {
        state(|s| s.loaded.borrow().clone())
    } else {
        // A run from scratch forgets the loaded weights.
        state(|s| s.loaded.borrow_mut().take());
        None
    };
    let id = next_run();
    let started = session::now();
    match gpu().and_then(|gpu| Session::new(id, gpu, &*data()?, setup.clone(), weights.as_deref().map(|w| w.as_slice()))) {
        Ok(s) => {
            // The time to the first step counts the model's set-up too.
            s.started.set(started);
            let kept = keep_replaced().await;
            run(take_over(s, false));
            if let Some(kept) = kept {
                send(Event::Message(kept));
            }
        }
        // The run on screen, if any, stays as it was and is shown again; the page says so.
        Err(e) => match session() {
            Some(old) => {
                announce(&old);
                send(Event::Message(Err(format!("the new run could not start: {e}; the run before it is as it was"))));
            }
            None => {
                retire(id);
                send(Event::Run { run: id, setup, notes: crate::protocol::Notes::default(), weights_only: false });
                send(Event::Status { run: id, status: Status::Failed(e) });
            }
        },
    }
}

/// Before a new run replaces the one on screen: that run stops and is kept in the browser as it
/// stands (loaded weights are not a run, and stay a file). Says what happened to it, when it
/// needs saying.
async fn keep_replaced() -> Option<Result<String, String>> {
    let old = session().filter(|_| !state(|s| s.weights_only.get()))?;
    match session::stop_and_keep(&old).await {
        Ok(Some(name)) => Some(Ok(format!("the previous run was kept in this browser as {name}"))),
        Ok(None) => None,
        Err(e) => Some(Err(format!("the previous run could not be kept ({e}): it ended where it stood"))),
    }
}

/// Shows `session` on the page again, as it is.
fn announce(session: &Rc<RefCell<Session>>) {
    let s = session.borrow();
    let weights_only = state(|st| st.weights_only.get());
    send(Event::Run { run: s.id, setup: s.setup.clone(), notes: s.notes.borrow().clone(), weights_only });
    send(Event::Status { run: s.id, status: s.status.borrow().clone() });
}

/// Opens the run a checkpoint holds, paused; says where it stopped and what "resume" does. A run
/// whose epochs are done (a finished run kept, the CLI's last checkpoint) trains one epoch more
/// at each "resume", as `cnnscope train --resume` goes on with a larger `--epochs`.
fn open_checkpoint(checkpoint: &Checkpoint) -> Result<String, String> {
    Ok(show_checkpoint(Session::from_checkpoint(next_run(), gpu()?, &*data()?, checkpoint, false)?))
}

/// A checkpoint file's bytes, read.
fn parse(bytes: &[u8]) -> Result<Checkpoint, String> {
    Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())
}

/// [`open_checkpoint`] in place of the run on screen, which is kept first ([`keep_replaced`]); a
/// file opens as a `branch`, a kept run as itself.
async fn replace_with_checkpoint(checkpoint: &Checkpoint, branch: bool) -> Result<String, String> {
    let s = Session::from_checkpoint(next_run(), gpu()?, &*data()?, checkpoint, branch)?;
    let kept = keep_replaced().await;
    Ok(with_note(show_checkpoint(s), kept))
}

fn show_checkpoint(s: Session) -> String {
    let (steps, finished) = (s.trainer.steps, s.trainer.epoch >= s.setup.epochs);
    run(take_over(s, false));
    if finished {
        format!("finished at step {steps}: “resume” trains it one epoch more")
    } else {
        format!("paused at step {steps}: “resume” continues it")
    }
}

/// `message`, then what happened to the run it replaced.
fn with_note(message: String, kept: Option<Result<String, String>>) -> String {
    match kept {
        None => message,
        Some(Ok(note) | Err(note)) => format!("{message}; {note}"),
    }
}

/// A picked file: a checkpoint becomes its run, paused; weights become a new model of the file's
/// network (its metadata sets the net, width and side; the other knobs stay) that "continue"
/// trains. A file that does not load is refused with the reason, and nothing changes; one that
/// does replaces the run on screen, which is kept first.
async fn open_file(name: String, bytes: Vec<u8>, setup: Setup) {
    let opened = if cnnscope::train::checkpoint::is_checkpoint(&bytes) {
        async { replace_with_checkpoint(&parse(&bytes)?, true).await }.await.map(|at| format!("opened the run in {name}, {at}")).map_err(|e| format!("{name}: {e}"))
    } else {
        open_weights(&name, bytes, setup).await
    };
    send(Event::Message(opened));
}

async fn open_weights(name: &str, bytes: Vec<u8>, setup: Setup) -> Result<String, String> {
    let saved = cnnscope::model::weights::SavedNet::read(&bytes).map_err(|e| e.in_file(name).to_string())?;
    let config = saved.config(setup.config());
    let setup = Setup { arch: config.arch, ratio: config.ratio, side: config.side, second_hidden: config.second_hidden, ..setup };
    let title = setup.net().ok().and_then(|net| cnnscope::net::Summary::new(&net).ok()).map(|s| s.title).unwrap_or_default();
    let weights = weights_session(&bytes, setup).map_err(|e| format!("{name}: {e}"))?;
    let kept = keep_replaced().await;
    take_over(weights, true);
    state(|s| *s.loaded.borrow_mut() = Some(Rc::new(bytes)));
    let loaded = format!("loaded {name} into {title}: “continue training loaded weights” trains it further, “new run from scratch” starts over");
    Ok(with_note(loaded, kept))
}

/// Weights (a safetensors file) as the model of `setup`, with no run: they stand until a run starts.
fn take_over_weights(bytes: &[u8], setup: Setup) -> Result<(), String> {
    take_over(weights_session(bytes, setup)?, true);
    Ok(())
}

fn weights_session(bytes: &[u8], setup: Setup) -> Result<Session, String> {
    Session::new(next_run(), gpu()?, &*data()?, setup, Some(bytes))
}

/// A learning rate set while the run is paused applies to it when it resumes (nothing to say
/// when there is no paused run or the rate is the run's own).
fn set_lr(lr: f32) -> Result<Option<String>, String> {
    let Some(s) = session() else { return Ok(None) };
    let mut s = s.try_borrow_mut().map_err(|_| "the run is busy saving: set the learning rate again in a moment".to_string())?;
    if s.control.get() != Control::Pause || s.trainer.config.optimizer.lr() == lr {
        return Ok(None);
    }
    s.trainer.set_lr(lr).map_err(|e| e.to_string())?;
    s.setup.lr = lr;
    Ok(Some(format!("the run resumes with learning rate {lr}")))
}

/// The model's parameters as a `.safetensors` file (PyTorch keys).
async fn weights_file(session: &Rc<RefCell<Session>>) -> Result<(String, Vec<u8>), String> {
    let (gpu, model, _) = session.borrow().snapshot();
    let bytes = model.save_weights(&gpu).await.map_err(|e| e.to_string())?;
    let c = model.net.config;
    Ok((format!("cnnscope-{}-r{}-s{}.safetensors", c.arch.id(), c.ratio, c.side), bytes))
}

/// The network and its weights as an ONNX model (written in the worker from the network's
/// description: nothing outside the page is asked).
async fn onnx_file(session: &Rc<RefCell<Session>>) -> Result<(String, Vec<u8>), String> {
    let (gpu, model, _) = session.borrow().snapshot();
    let bytes = model.save_onnx(&gpu).await.map_err(|e| e.to_string())?;
    let c = model.net.config;
    Ok((format!("cnnscope-{}-r{}-s{}.onnx", c.arch.id(), c.ratio, c.side), bytes))
}

/// The whole run (weights, optimiser state, counters, curves) as a checkpoint, which
/// `cnnscope train --resume` continues natively and the page opens again.
async fn checkpoint_file(session: &Rc<RefCell<Session>>) -> Result<(String, Vec<u8>), String> {
    let bytes = Session::checkpoint(session).await?;
    let steps = cnnscope::train::checkpoint::Header::read(&bytes).map(|h| h.state.steps).map_err(|e| e.to_string())?;
    Ok((format!("{}-step{steps}.ckpt", session.borrow().name()), bytes))
}

/// Compiles the kernels a run of `setup` would take while the user is still choosing: on a
/// software adapter they are most of the wait for a first step (AlexNet ÷8: 13 s of 25), and a run
/// started after they are ready only trains. Ends when a newer setup or a start comes
/// (`PREPARING` moves past `generation`); a setup that cannot run is left to "start" to explain.
async fn prepare(setup: Setup, generation: u64) {
    let nothing = |why: &str| send(Event::Nothing(format!("nothing compiled ahead: {why}")));
    let (Ok(gpu), Ok(data)) = (live_gpu().await, data()) else { return nothing("no engine or no data yet") };
    let current = || PREPARING.get() == generation;
    if !current() {
        return nothing("a newer setup or a start came first");
    }
    // The CPU engine has nothing to compile.
    let Some(wgsl) = gpu.gpu_ref() else { return nothing("the CPU engine compiles no kernels") };
    // This setup's kernels alone: those of a setup the user has left wait until asked for again.
    wgsl.forget_pending();
    if session::request_kernels(&gpu, &data, &setup).is_err() {
        return nothing("this setup cannot run (start says why)");
    }
    let said = |done, total| send(Event::Prepared { setup: setup.clone(), done, total });
    said(0, gpu.pending_pipelines());
    wgsl.compile_pending_until(|done, total| if current() { said(done, total) }, || !current()).await;
}

/// Opens the engine `choice` asks for and says which it got and why (`Event::Adapter`); the run on
/// screen moves to it, paused where it stood (taken between two steps if it was training), and
/// opened weights are opened again. Where opening fails, the engine that ran stays.
async fn open_engine(choice: Choice, webgpu: bool) {
    let (device, reason) = match pick(choice, webgpu).await {
        Ok(picked) => picked,
        Err(e) => {
            match gpu() {
                Ok(_) => send(Event::Message(Err(format!("the engine could not be switched: {e}")))),
                Err(_) => send(Event::Adapter(Err(e))),
            }
            return;
        }
    };
    let carried = match session() {
        Some(s) if !state(|st| st.weights_only.get()) => Some(Session::checkpoint(&s).await),
        _ => None,
    };
    let mut adapter = Adapter::of(&device);
    if adapter.name.is_empty() {
        adapter.name = browser_adapter_info().await.unwrap_or_default();
    }
    (adapter.choice, adapter.reason) = (choice, reason);
    let name = device.name();
    state(|s| *s.gpu.borrow_mut() = Some(Rc::new(device)));
    send(Event::Adapter(Ok(adapter)));
    let moved = match (carried, state(|s| s.weights_only.get().then(|| s.loaded.borrow().clone()).flatten())) {
        (Some(Ok(bytes)), _) => parse(&bytes).and_then(|c| open_checkpoint(&c)).map(|at| format!("the run moved to {name}, {at}")),
        (Some(Err(e)), _) => Err(format!("the run could not move to {name}: {e}")),
        (None, Some(bytes)) => session()
            .map(|s| s.borrow().setup.clone())
            .map_or(Ok(()), |setup| take_over_weights(&bytes, setup))
            .map(|()| format!("the loaded weights moved to {name}")),
        (None, None) => return,
    };
    send(Event::Message(moved));
}

/// The engine for `choice` and why, in words for the adapter card. `auto` takes the WGSL engine on
/// a real GPU and the CPU engine where WebGPU's adapter is a CPU (wgpu's WebGPU backend names no
/// adapter, so the browser's own description decides) or where there is no WebGPU at all.
async fn pick(choice: Choice, webgpu: bool) -> Result<(Device, String), String> {
    if !webgpu {
        return match choice {
            Choice::Wgsl => Err("this browser has no WebGPU: only the CPU engine can run here".into()),
            _ => Ok((Device::cpu(), "no WebGPU in this browser: training on the CPU engine".into())),
        };
    }
    if choice == Choice::Auto
        && let Some(name) = browser_adapter_info().await.filter(|n| cnnscope::engine::device::is_software_name(n))
    {
        return Ok((Device::cpu(), format!("this WebGPU adapter is a CPU ({name}): training on the CPU engine, {} faster on such adapters", cnnscope::engine::device::CPU_ENGINE_GAIN_BROWSER)));
    }
    let (device, picked) = Device::open(choice).await.map_err(|e| e.to_string())?;
    Ok((device, picked.reason))
}

/// Replaces the lost device (`reason`) with a new one and reopens the current run on it, paused,
/// as it was last kept; weights that were opened are opened again. One at a time (`REOPENING`).
async fn reopen(reason: String) -> Result<Rc<Device>, String> {
    REOPENING.set(true);
    let reopened = reopen_run(reason).await;
    REOPENING.set(false);
    reopened
}

async fn reopen_run(reason: String) -> Result<Rc<Device>, String> {
    let gpu = match Device::gpu().await {
        Ok(gpu) => Rc::new(gpu),
        Err(e) => {
            let message = format!("the GPU device was lost ({reason}) and no new one could be opened: {e}");
            send(Event::Message(Err(message.clone())));
            return Err(message);
        }
    };
    state(|s| *s.gpu.borrow_mut() = Some(gpu.clone()));
    let Some(session) = session() else { return Ok(gpu) };
    let lost = format!("The GPU device was lost ({reason}). A new device is open");
    let (id, name, setup) = (session.borrow().id, session.borrow().name(), session.borrow().setup.clone());
    let reopened = match state(|s| s.weights_only.get().then(|| s.loaded.borrow().clone()).flatten()) {
        Some(bytes) => take_over_weights(&bytes, setup).map(|()| format!("{lost} and the weights are loaded again")),
        None => match crate::runs::read(&name).await {
            Ok(checkpoint) => open_checkpoint(&checkpoint).map(|at| format!("{lost} and the run is back as kept, {at}")),
            Err(e) => Err(format!("it had not been kept yet ({e}): start it again")),
        },
    };
    if reopened.is_err() && is_current(id) {
        send(Event::Status { run: id, status: Status::Idle });
    }
    send(Event::Message(reopened.map_err(|e| format!("{lost}, but the run could not be reopened: {e}"))));
    Ok(gpu)
}
