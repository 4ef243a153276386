//! The engine's Web Worker: it owns everything on the device (adapter, device, the dataset, the
//! model, the run) and answers the page's `Command`s with `Event`s (`protocol`). The page holds no
//! device objects, so parsing the dataset, building pipelines and encoding steps never block it.
//!
//! The worker is one actor (docs/APP.md, "The worker's loop"): [`Actor`] owns the device, the
//! data and the run on screen, and one loop takes a message (a command, a finished load or
//! download, a lock granted, a lost device) or, while a run trains or kernels compile ahead,
//! does one piece of that work (a step, a kernel) — so every command is answered in that loop, in
//! the order it came, between two steps.

pub mod data;
pub mod inspect;
pub mod session;

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use cnnscope::data::{CLASS_NAMES, FashionMnist};
use cnnscope::train::Checkpoint;
use cnnscope::{Choice, Device, EngineError};
use futures_channel::mpsc::{TryRecvError, UnboundedReceiver, UnboundedSender, unbounded};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use gloo_worker::{HandlerId, Worker, WorkerScope};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use crate::protocol::{Adapter, AdapterCheck, Command, Control, DataSummary, Download, Event, Image, Incoming, Inspection, Notes, Status};
use crate::setup::Setup;
use session::Session;

thread_local! {
    /// Where events go: the page's bridge (or a test's sink, `connect`).
    static OUTBOX: RefCell<Option<Rc<dyn Fn(Event)>>> = const { RefCell::new(None) };
    /// The actor's mailbox, made (and the actor started) by the first message.
    static MAILBOX: OnceCell<UnboundedSender<Message>> = const { OnceCell::new() };
    /// The device the actor runs on, for the test's driver reset (`Command::LoseDevice`), which
    /// strikes at once, as a real one does, not between two pieces of the actor's work.
    static LOSABLE: RefCell<std::rc::Weak<Device>> = RefCell::new(std::rc::Weak::new());
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

/// Hands `command` to the actor, which answers it in turn: every command ends in exactly one
/// answer, whatever the state (docs/APP.md, "The protocol"); one with nothing to act on ends in
/// `Event::Nothing`, saying why.
pub fn handle(command: Command) {
    // A driver reset does not wait for the worker: the device goes now (a readback in flight
    // fails), and the actor answers in turn.
    if matches!(command, Command::LoseDevice)
        && let Some(gpu) = LOSABLE.with(|d| d.borrow().upgrade()).as_deref().and_then(Device::gpu_ref)
    {
        gpu.destroy_as_reset();
    }
    post(Message::Command(command));
}

fn post(message: Message) {
    MAILBOX.with(|mailbox| {
        let sender = mailbox.get_or_init(|| {
            let (sender, inbox) = unbounded();
            spawn_local(Actor::default().serve(inbox));
            sender
        });
        // The actor never ends, so its mailbox never closes.
        let _ = sender.unbounded_send(message);
    });
}

/// What the actor takes, one at a time.
enum Message {
    Command(Command),
    /// The dataset a `LoadData` asked for, loaded in a task of its own (it parses for seconds).
    Data(Result<FashionMnist, String>),
    /// The file an `OpenUrl` asked for, downloaded while the run on screen was `asked_during`.
    Fetched { name: String, setup: Setup, asked_during: Option<u64>, file: Result<Incoming, String> },
    /// Whether this tab got the lock of the run `name` (`lock`): another tab may hold it.
    Locked(String, bool),
    /// The device was lost while nothing ran on it (a paused run: a laptop's sleep).
    Lost(String),
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

/// Everything the worker holds.
#[derive(Default)]
struct Actor {
    device: Option<Rc<Device>>,
    data: Option<Rc<FashionMnist>>,
    /// The run, or opened weights, on screen.
    shown: Option<Session>,
    /// Weights the user opened: "continue" trains them further, "new run" starts from scratch.
    loaded: Option<Rc<Vec<u8>>>,
    /// Kernels being compiled ahead for a setup the user is still choosing (`Command::Prepare`).
    ahead: Option<Ahead>,
    /// The last run number handed out.
    last_run: u64,
}

/// Compiling ahead: on a software adapter the kernels are most of the wait for a first step
/// (AlexNet ÷8: 13 s of 25), and a run started after they are ready only trains.
struct Ahead {
    setup: Setup,
    done: usize,
    total: usize,
}

/// What a replacement let go to make room ([`Actor::set_aside`]), to bring back should it fail.
enum Aside {
    /// Nothing on screen, or nothing to lose (a run that took no step, or failed before any keep).
    Nothing,
    /// A run, by the name it was kept under just before.
    Run(String),
    /// Opened weights (they stay in `loaded`), as the model of this setup.
    Weights(Setup),
}

impl Actor {
    /// The loop: a message when one waits, else a piece of work while there is some; with no work,
    /// it sleeps until a message comes (or the device of a paused run is lost).
    async fn serve(mut self, mut inbox: UnboundedReceiver<Message>) {
        loop {
            let message = if self.busy() {
                match inbox.try_recv() {
                    Ok(message) => Some(message),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Closed) => return,
                }
            } else {
                match self.wait(&mut inbox).await {
                    Some(message) => Some(message),
                    None => return,
                }
            };
            match message {
                Some(message) => self.take(message).await,
                None => {
                    self.work().await;
                    // Let the page's messages in between two pieces of work.
                    gloo_timers::future::TimeoutFuture::new(0).await;
                }
            }
        }
    }

    fn busy(&self) -> bool {
        self.ahead.is_some() || self.shown.as_ref().is_some_and(Session::training)
    }

    /// The next message; while a paused run waits on a device that can be lost, its loss too, so
    /// the page learns of it when it happens, not at "resume".
    async fn wait(&self, inbox: &mut UnboundedReceiver<Message>) -> Option<Message> {
        let watched = self.shown.as_ref().filter(|s| s.live()).and(self.device.clone()).filter(|d| d.gpu_ref().is_some());
        let Some(device) = watched else { return inbox.next().await };
        match select(inbox.next(), std::pin::pin!(device.lost_notice())).await {
            Either::Left((message, _)) => message,
            Either::Right((reason, _)) => Some(Message::Lost(reason)),
        }
    }

    /// One piece of work: a kernel compiled ahead, or else a step of the run.
    async fn work(&mut self) {
        if let Some(ahead) = self.ahead.as_mut() {
            // Nothing is compiled on a lost device: a new one compiles its own when asked.
            let compiled = match self.device.as_deref().and_then(Device::gpu_ref).filter(|gpu| gpu.lost().is_none()) {
                Some(gpu) => gpu.compile_next().await,
                None => false,
            };
            if compiled {
                ahead.done += 1;
                send(Event::Prepared { setup: ahead.setup.clone(), done: ahead.done, total: ahead.total.max(ahead.done) });
            } else {
                self.ahead = None;
            }
            return;
        }
        let (Some(device), Some(session)) = (self.device.clone(), self.shown.as_mut().filter(|s| s.training())) else { return };
        if let Err(e) = session.step(&device).await {
            self.failed(e, &device).await;
        }
    }

    /// A step failed: from a lost device (a new one opens, and the run as last kept), or from
    /// anything else (divergence, the engine's errors), which ends the run.
    async fn failed(&mut self, e: EngineError, device: &Device) {
        match session::lost_behind(device).await {
            Some(reason) => drop(self.reopen(reason).await),
            None => {
                if let Some(session) = self.shown.as_mut() {
                    session.failed(e.to_string());
                }
            }
        }
    }

    async fn take(&mut self, message: Message) {
        match message {
            Message::Command(command) => self.command(command).await,
            Message::Data(loaded) => send(Event::Data(loaded.map(|d| {
                let summary = summarize(&d);
                self.data = Some(Rc::new(d));
                summary
            }))),
            Message::Fetched { name, setup, asked_during, file } => match file {
                // A run started or opened while the file downloaded stays: the user chose it later.
                Ok(file) if self.shown.as_ref().map(|s| s.id) != asked_during => {
                    if let Incoming::Stored(stored) = file {
                        crate::incoming::remove(&stored).await;
                    }
                    send(Event::Message(Err(format!("{name} arrived after another run was started, so it was not opened: open it with the file button"))))
                }
                Ok(file) => {
                    let _ = self.live_device().await;
                    self.open_file(name, file, setup).await
                }
                Err(e) => send(Event::Message(Err(e))),
            },
            // This tab owns the run on screen, and no other; a run another tab owns stops here
            // (two copies training would overwrite each other's keeps).
            Message::Locked(name, got) => match self.shown.as_mut() {
                Some(s) if s.name() == name && got => crate::lock::keep_only(&name),
                Some(s) if s.name() == name && !s.weights_only => {
                    s.stop();
                    send(Event::Message(Err(format!(
                        "the run {name} is open in another tab, so it stopped here: download its checkpoint there and open the file here to work on a copy"
                    ))));
                }
                _ => crate::lock::release(&name),
            },
            // `reopen` shows the run's DeviceLost status first.
            Message::Lost(reason) => drop(self.reopen(reason).await),
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::LoadData { source, limit } => spawn_local(async move {
                let loaded = data::load(source, limit, |p| send(Event::DataProgress(p))).await;
                post(Message::Data(loaded));
            }),
            Command::Prepare { setup } => self.prepare(setup).await,
            Command::Start { setup, from_loaded } => self.start(setup, from_loaded).await,
            // Answered with the run's new status.
            Command::Control { run, control } => {
                let device = self.device.clone();
                match (self.shown.as_mut().filter(|s| s.id == run && s.live()), device) {
                    (Some(s), _) if s.control == control => send(Event::Nothing(format!("run {run} is already {control:?}"))),
                    (Some(s), Some(device)) => match control {
                        Control::Pause => s.pause(&device).await,
                        Control::Run => s.resume(),
                        Control::Stop => s.stop(),
                    },
                    _ => send(Event::Nothing(format!("run {run} is not running here"))),
                }
            }
            // Answered with `Saved`: at a training run's next readback, a paused run's at once (a
            // hidden page asks, and may never come back).
            Command::Keep => match (self.shown.as_mut().filter(|s| s.live()), self.device.clone()) {
                (Some(s), _) if s.training() => s.run.keep_soon(),
                (Some(s), Some(device)) if s.unkept() => drop(s.keep(&device).await),
                (Some(s), _) => send(Event::Saved { run: s.id, result: Ok(session::kept_at_step(s.run.trainer.steps)) }),
                (None, _) => send(Event::Nothing("no run is training or paused: nothing new to keep".into())),
            },
            // Answered with `Timing` of the run's next step (a paused run's first after "resume").
            Command::TimeStep { run } => match self.shown.as_mut().filter(|s| s.id == run && s.live()) {
                Some(s) => s.run.time_next(),
                None => send(Event::Nothing(format!("run {run} is not training: no step to time"))),
            },
            Command::SetLr { lr } => send(match self.set_lr(lr) {
                Ok(Some(said)) => Event::Message(Ok(said)),
                Ok(None) => Event::Nothing(format!("learning rate {lr}: no paused run takes it (a new run starts with the knobs')")),
                Err(e) => Event::Message(Err(e)),
            }),
            Command::OpenFile { name, file, setup } => {
                let _ = self.live_device().await;
                self.open_file(name, file, setup).await
            }
            // Into the browser's storage as it arrives, or where that fails, into memory.
            Command::OpenUrl { url, setup } => {
                let name = url.rsplit('/').next().unwrap_or(&url).to_string();
                let asked_during = self.shown.as_ref().map(|s| s.id);
                spawn_local(async move {
                    let file = match data::fetch_stored(&url, data::MAX_RUN_FILE).await {
                        Ok(stored) => Ok(Incoming::Stored(stored)),
                        Err(Some(e)) => Err(e),
                        Err(None) => data::fetch(&url, data::MAX_RUN_FILE, &|_, _| {}).await.map(Incoming::Bytes),
                    };
                    post(Message::Fetched { name, setup, asked_during, file });
                })
            }
            Command::OpenKept { name } => {
                let _ = self.live_device().await;
                let opened = self.open_kept(&name).await;
                send(Event::Message(opened))
            }
            Command::Inspect(image) => {
                let _ = self.live_device().await;
                let (Ok(device), Some(s)) = (self.device(), self.shown.as_ref()) else {
                    return send(Event::Inspection(Err(NO_MODEL.into())));
                };
                let (model, test) = (&s.run.trainer.model, &s.run.test);
                let inspection = match &image {
                    Image::Test(i) => inspect::inspect(&device, model, test, *i).await,
                    Image::Pixels(pixels) => inspect::inspect_pixels(&device, model, pixels.clone()).await,
                };
                // Why the predicted class, right after.
                let predicted = inspection.as_ref().ok().map(Inspection::predicted);
                send(Event::Inspection(inspection));
                if let Some(class) = predicted {
                    send(Event::Explanation(inspect::explain(&device, model, test, &image, class).await));
                }
            }
            Command::Explain { image, class } => {
                let _ = self.live_device().await;
                let (Ok(device), Some(s)) = (self.device(), self.shown.as_ref()) else {
                    return send(Event::Explanation(Err(NO_MODEL.into())));
                };
                send(Event::Explanation(inspect::explain(&device, &s.run.trainer.model, &s.run.test, &image, class).await))
            }
            Command::Evaluate => {
                let _ = self.live_device().await;
                let evaluation = match (self.device(), self.shown.as_ref(), self.data()) {
                    (_, None, _) => Err(NO_MODEL.into()),
                    (_, _, Err(e)) | (Err(e), _, _) => Err(e),
                    (Ok(device), Some(s), Ok(data)) => {
                        let batch = s.setup.batch.max(cnnscope::train::Cadence::PAGE.eval_batch);
                        inspect::evaluate(&device, &s.run.trainer.model, &s.run.test, &data.test, batch).await
                    }
                };
                send(Event::Evaluation(evaluation))
            }
            Command::Download(what) => {
                let _ = self.live_device().await;
                let (Ok(device), Some(s)) = (self.device(), self.shown.as_ref()) else {
                    return send(Event::Message(Err(NO_MODEL.into())));
                };
                if what == Download::Checkpoint && !s.weights_only {
                    return self.download_kept(&device).await;
                }
                match download(&device, s, what).await {
                    Ok((name, bytes)) => send(Event::File { name, bytes }),
                    Err(e) => send(Event::Message(Err(e))),
                }
            }
            Command::OpenEngine { choice, webgpu } => self.open_engine(choice, webgpu).await,
            Command::CheckAdapter => send(Event::Checked(check_adapter().await)),
            // A test's driver reset, done when the command came (`handle`): a training run's step
            // fails and a paused run's wait ends (both answer with the run's `Status(DeviceLost)`);
            // with no run going, the next command that needs the device opens a new one.
            Command::LoseDevice => match self.device.as_deref().and_then(Device::gpu_ref) {
                None => send(Event::Nothing("the CPU engine (or none) is open: there is no GPU device to lose".into())),
                Some(_) if !self.shown.as_ref().is_some_and(Session::live) => {
                    send(Event::Nothing("the GPU device was destroyed: the next command that needs it opens a new one".into()))
                }
                Some(_) => {}
            },
            // Where a bug is hardest to report: in a task, inside a one-time initialisation (as a
            // pipeline's compiling is).
            Command::Panic { abort: false } => spawn_local(async {
                static NEVER: std::sync::OnceLock<()> = std::sync::OnceLock::new();
                NEVER.get_or_init(|| panic!("worker_crash_test() was called: this is what a bug in cnnscope's engine looks like"));
            }),
            // What a `Vec` does when the allocator has no room for it: no panic, no hook, a trap
            // (the worker's loader tells the page, `page::bridge`).
            Command::Panic { abort: true } => spawn_local(async {
                std::alloc::handle_alloc_error(std::alloc::Layout::from_size_align(isize::MAX as usize, 1).expect("a valid layout"))
            }),
        }
    }

    fn set_device(&mut self, device: Rc<Device>) {
        LOSABLE.with(|d| *d.borrow_mut() = Rc::downgrade(&device));
        self.device = Some(device);
    }

    fn device(&self) -> Result<Rc<Device>, String> {
        self.device.clone().ok_or_else(|| "the engine is not open yet".to_string())
    }

    fn data(&self) -> Result<Rc<FashionMnist>, String> {
        self.data.clone().ok_or_else(|| "the dataset is not loaded yet".to_string())
    }

    /// The device, replaced first if it was lost (a driver reset, the OS's watchdog, a laptop's
    /// sleep). A training run notices a loss at its next step and a paused one at once; everything
    /// else that needs the device comes here first, so a loss while no run trains (a finished or
    /// stopped run, loaded weights) is noticed at the next click, which then goes on with the run
    /// as it was last kept.
    async fn live_device(&mut self) -> Result<Rc<Device>, String> {
        let device = self.device()?;
        match device.lost() {
            None => Ok(device),
            Some(reason) => self.reopen(reason).await,
        }
    }

    fn next_run(&mut self) -> u64 {
        self.last_run += 1;
        self.last_run
    }

    /// `session` is shown from now on: the page learns of it before any of its events, and this
    /// tab takes its lock (`Message::Locked`).
    fn take_over(&mut self, session: Session) {
        if let Some(old) = self.shown.as_mut() {
            old.settle("was replaced");
        }
        session.announce();
        let name = session.name();
        self.shown = Some(session);
        // Its name is new, or a kept run's whose lock `open_kept` took: where the browser cannot
        // lock, no other tab can have it open.
        spawn_local(async move {
            let got = crate::lock::acquire(&name).await.unwrap_or(true);
            post(Message::Locked(name, got));
        });
    }

    /// Before a new run replaces the one on screen: that run is kept in the browser as it stands
    /// (loaded weights are not a run, and stay a file). Says what happened to it when that needs
    /// saying; when it could not be kept, the replacement must not happen (the caller says so,
    /// and the run stays as it was).
    async fn keep_replaced(&mut self) -> Result<Option<String>, String> {
        let (Some(device), Some(old)) = (self.device.clone(), self.shown.as_mut().filter(|s| !s.weights_only)) else { return Ok(None) };
        let name = old.name();
        match old.keep_before_replacing(&device).await {
            Ok(kept) => Ok(kept.map(|name| format!("the previous run was kept in this browser as {name}"))),
            Err(e) => Err(format!("the run on screen ({name}) could not be kept first ({e}), so it stays as it was")),
        }
    }

    /// Makes room for what replaces the run on screen: keeps that run ([`Actor::keep_replaced`]),
    /// then lets it go. The fit check plans one run per tab, and one big run leaves no room for a
    /// second (VGG-11 ÷1 with Adam is 2 GB of the worker's 4 GiB on the CPU engine). Asked only
    /// once the replacement passed every check that allocates nothing ([`session::check_start`]),
    /// so what is let go comes back only when the replacement fails as it is built
    /// ([`Actor::bring_back`]). When the run cannot be kept, nothing is let go.
    async fn set_aside(&mut self) -> Result<(Aside, Option<String>), String> {
        let kept = self.keep_replaced().await?;
        let aside = match self.shown.take() {
            None => Aside::Nothing,
            Some(mut old) => {
                old.settle("was replaced");
                match (old.weights_only, old.ever_kept()) {
                    (true, _) => Aside::Weights(old.setup.clone()),
                    (false, true) => Aside::Run(old.name()),
                    // A run that took no step, or failed before its first keep: nothing to lose.
                    (false, false) => Aside::Nothing,
                }
            }
        };
        Ok((aside, kept))
    }

    /// Brings back what [`Actor::set_aside`] let go, once its replacement failed: a run as it was
    /// kept just before (paused), or the opened weights. Says how, to follow the failure's reason.
    async fn bring_back(&mut self, aside: Aside) -> String {
        let back = match aside {
            Aside::Nothing => return String::new(),
            Aside::Weights(setup) => match self.loaded.clone() {
                Some(bytes) => self.reload_weights_as(&bytes, setup).map(|()| "the loaded weights are on screen again".to_string()),
                None => return String::new(),
            },
            Aside::Run(name) => match crate::runs::read(&name).await {
                Ok(checkpoint) => self.open_checkpoint(&checkpoint).map(|at| format!("the run on screen is back as it was kept, {at}")),
                Err(e) => Err(e),
            },
        };
        match back {
            Ok(said) => format!("; {said}"),
            Err(e) => format!("; the run on screen was kept, but could not come back ({e}): open it from “Runs kept in this browser”"),
        }
    }

    /// A replacement refused before anything was let go: the run on screen, if any, stays as it
    /// was and is shown again; with none, the run that could not be (`id`, `setup`) shows why.
    fn refused(&self, id: u64, setup: Setup, e: String) {
        match &self.shown {
            Some(old) => {
                old.announce();
                send(Event::Message(Err(format!("{e}; the run on screen is as it was"))));
            }
            None => {
                send(Event::Run { run: id, setup, notes: Notes::default(), weights_only: false });
                send(Event::Status { run: id, status: Status::Failed(e) });
            }
        }
    }

    /// The run on screen's checkpoint as a download: kept first where the state on screen is newer
    /// (streamed), then the kept file itself goes from the browser's storage to its downloads.
    async fn download_kept(&mut self, device: &Device) {
        let Some(s) = self.shown.as_mut() else { return send(Event::Message(Err(NO_MODEL.into()))) };
        if s.unkept()
            && let Err(e) = s.keep(device).await
        {
            return send(Event::Message(Err(format!("the checkpoint could not be downloaded: the run could not be kept first ({e})"))));
        }
        send(Event::KeptFile { run: s.name(), name: s.checkpoint_file_name() });
    }

    /// A new run of `setup`, from scratch or from the loaded weights, in place of the run on screen
    /// (kept first, then let go). A start refused changes nothing: the run on screen stays, and so
    /// do the loaded weights.
    async fn start(&mut self, setup: Setup, from_loaded: bool) {
        self.ahead = None;
        // The time to the first step counts the model's set-up too.
        let asked = session::now();
        // A lost device is replaced first; should that fail, start says why.
        let _ = self.live_device().await;
        let id = self.next_run();
        let weights = match (from_loaded, self.loaded.clone()) {
            (true, None) => Err("there are no loaded weights to continue: open a weights file first, or start a new run from scratch".to_string()),
            (true, Some(bytes)) => Ok(Some(bytes)),
            (false, _) => Ok(None),
        };
        let checked = weights.and_then(|weights| session::check_start(&*self.device()?, &*self.data()?, &setup).map(|()| weights));
        let (weights, aside, kept) = match checked.map_err(|e| format!("the new run could not start: {e}")) {
            Ok(weights) => match self.set_aside().await {
                Ok((aside, kept)) => (weights, aside, kept),
                Err(e) => return self.refused(id, setup, format!("the new run could not start: {e}")),
            },
            Err(e) => return self.refused(id, setup, e),
        };
        let made = self.device().and_then(|device| Session::new(id, &device, &*self.data()?, setup.clone(), weights.as_deref().map(Vec::as_slice), false));
        match made {
            Ok(mut session) => {
                session.run.asked_at(asked);
                // A run from scratch forgets the loaded weights.
                if !from_loaded {
                    self.loaded = None;
                }
                self.take_over(session);
                if let Some(kept) = kept {
                    send(Event::Message(Ok(kept)));
                }
            }
            Err(e) => {
                let back = self.bring_back(aside).await;
                self.refused(id, setup, format!("the new run could not start: {e}{back}"));
            }
        }
    }

    /// Opens the run a checkpoint holds, paused, in place of the one on screen (which is not
    /// kept: the same run moving to a new device); says where it stopped and what "resume" does.
    fn open_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<String, String> {
        let id = self.next_run();
        let session = Session::from_checkpoint(id, &*self.device()?, &*self.data()?, checkpoint, false)?;
        Ok(self.show_checkpoint(session))
    }

    /// [`Actor::open_checkpoint`] in place of the run on screen, which is kept first and let go
    /// ([`Actor::set_aside`]); a file opens as a `branch`, a kept run as itself.
    async fn replace_with_checkpoint(&mut self, checkpoint: &Checkpoint, branch: bool) -> Result<String, String> {
        let id = self.next_run();
        let (device, data) = (self.device()?, self.data()?);
        session::check_checkpoint(&device, &data, checkpoint)?;
        let (aside, kept) = self.set_aside().await?;
        let session = match Session::from_checkpoint(id, &device, &data, checkpoint, branch) {
            Ok(session) => session,
            Err(e) => return Err(format!("{e}{}", self.bring_back(aside).await)),
        };
        let opened = self.show_checkpoint(session);
        // An opened file is a kept run at once: closing the tab next loses nothing.
        if branch && let Some(s) = self.shown.as_mut() {
            let _ = s.keep(&device).await;
        }
        Ok(with_note(opened, kept))
    }

    fn show_checkpoint(&mut self, session: Session) -> String {
        let (steps, finished) = (session.run.trainer.steps, session.run.finished());
        self.take_over(session);
        if finished {
            format!("finished at step {steps}: “resume” trains it one epoch more")
        } else {
            format!("paused at step {steps}: “resume” continues it")
        }
    }

    async fn open_kept(&mut self, name: &str) -> Result<String, String> {
        // Its newest state is the one training on screen, not the one kept a while ago.
        if self.shown.as_ref().is_some_and(|s| s.name() == name && !s.weights_only) {
            return Ok(format!("the run {name} is the one on screen"));
        }
        // One tab owns a run: a second copy training here would overwrite the other's keeps.
        match crate::lock::acquire_soon(name).await {
            Some(true) => {}
            Some(false) => return Err(format!("the run {name} is open in another tab: download its checkpoint there and open the file here to work on a copy")),
            None => {
                return Err(format!(
                    "this browser cannot lock runs (no Web Locks), so it cannot tell whether another tab has {name} open: it opens no kept run as itself"
                ));
            }
        }
        let opened = match crate::runs::read(name).await {
            Ok(checkpoint) => self.replace_with_checkpoint(&checkpoint, false).await.map(|at| format!("opened the run {name}, {at}")),
            Err(e) => Err(e),
        };
        if opened.is_err() {
            crate::lock::release(name);
        }
        opened
    }

    /// A picked file: a checkpoint becomes its run, paused; weights become a new model of the
    /// file's network (its metadata sets the net, width and side; the other knobs stay) that
    /// "continue" trains. A file that does not load is refused with the reason, and nothing
    /// changes; one that does replaces the run on screen, which is kept first. A file in the
    /// browser's storage is deleted once opened (or not).
    async fn open_file(&mut self, name: String, file: Incoming, setup: Setup) {
        let opened = match file {
            Incoming::Bytes(bytes) if cnnscope::train::checkpoint::is_checkpoint(&bytes) => match Checkpoint::from_bytes(&bytes) {
                Ok(checkpoint) => {
                    drop(bytes);
                    self.open_branch(&name, &checkpoint).await
                }
                Err(e) => Err(format!("{name}: {e}")),
            },
            Incoming::Bytes(bytes) => self.open_weights(&name, bytes, setup).await,
            Incoming::Stored(stored) => {
                let opened = self.open_stored(&name, &stored, setup).await;
                crate::incoming::remove(&stored).await;
                opened
            }
        };
        send(Event::Message(opened));
    }

    /// [`Actor::open_file`] for a file in the browser's storage: a checkpoint read a tensor at a
    /// time, weights whole.
    async fn open_stored(&mut self, name: &str, stored: &str, setup: Setup) -> Result<String, String> {
        let file = crate::incoming::file(stored).await.map_err(|e| format!("{name}: {e}"))?;
        let checkpoint = crate::runs::header_of(&file, name).await.is_ok_and(|(start, _)| cnnscope::train::checkpoint::is_checkpoint(&start));
        if checkpoint {
            let checkpoint = crate::runs::read_checkpoint(&file, name).await?;
            return self.open_branch(name, &checkpoint).await;
        }
        let bytes = crate::runs::read_whole(&file, name).await?;
        self.open_weights(name, bytes, setup).await
    }

    /// The run a picked checkpoint holds, as a new kept run (a branch).
    async fn open_branch(&mut self, name: &str, checkpoint: &Checkpoint) -> Result<String, String> {
        self.replace_with_checkpoint(checkpoint, true).await.map(|at| format!("opened the run in {name}, {at}")).map_err(|e| format!("{name}: {e}"))
    }

    async fn open_weights(&mut self, name: &str, bytes: Vec<u8>, setup: Setup) -> Result<String, String> {
        let saved = cnnscope::model::weights::SavedNet::read(&bytes).map_err(|e| e.in_file(name).to_string())?;
        let config = saved.config(setup.config());
        let setup = Setup { arch: config.arch, ratio: config.ratio, side: config.side, second_hidden: config.second_hidden, ..setup };
        let title = setup.net().ok().and_then(|net| cnnscope::net::Summary::new(&net).ok()).map(|s| s.title).unwrap_or_default();
        let (device, data) = (self.device()?, self.data()?);
        cnnscope::net::fit::check(&device, &setup.net()?, cnnscope::net::fit::Run::Weights).map_err(|e| format!("{name}: {e}"))?;
        let (aside, kept) = self.set_aside().await?;
        let id = self.next_run();
        let weights = match Session::new(id, &device, &data, setup, Some(&bytes), true) {
            Ok(weights) => weights,
            Err(e) => return Err(format!("{name}: {e}{}", self.bring_back(aside).await)),
        };
        self.take_over(weights);
        self.loaded = Some(Rc::new(bytes));
        let loaded = format!("loaded {name} into {title}: “continue training loaded weights” trains it further, “new run from scratch” starts over");
        Ok(with_note(loaded, kept))
    }

    /// Weights (a safetensors file) as the model of `setup`, with no run, on screen: they stand
    /// until a run starts.
    fn reload_weights_as(&mut self, bytes: &[u8], setup: Setup) -> Result<(), String> {
        let id = self.next_run();
        let session = Session::new(id, &*self.device()?, &*self.data()?, setup, Some(bytes), true)?;
        self.take_over(session);
        Ok(())
    }

    /// A learning rate set while the run is paused applies to it when it resumes (nothing to say
    /// when there is no paused run or the rate is the run's own).
    fn set_lr(&mut self, lr: f32) -> Result<Option<String>, String> {
        let Some(s) = self.shown.as_mut().filter(|s| s.live() && s.control == Control::Pause) else { return Ok(None) };
        if s.run.trainer.config.optimizer.lr() == lr {
            return Ok(None);
        }
        s.run.trainer.set_lr(lr).map_err(|e| e.to_string())?;
        s.setup.lr = lr;
        Ok(Some(format!("the run resumes with learning rate {lr}")))
    }

    /// Asks for the kernels a run of `setup` would take and compiles them one per turn of the
    /// loop ([`Actor::work`]) while the user is still choosing; a newer setup or a start ends it.
    /// A setup that cannot run is left to "start" to explain.
    async fn prepare(&mut self, setup: Setup) {
        self.ahead = None;
        let nothing = |why: &str| send(Event::Nothing(format!("nothing compiled ahead: {why}")));
        let (Ok(device), Ok(data)) = (self.live_device().await, self.data()) else { return nothing("no engine or no data yet") };
        // The CPU engine has nothing to compile.
        let Some(gpu) = device.gpu_ref() else { return nothing("the CPU engine compiles no kernels") };
        // This setup's kernels alone: those of a setup the user has left wait until asked for again.
        gpu.forget_pending();
        if session::request_kernels(&device, &data, &setup).is_err() {
            return nothing("this setup cannot run (start says why)");
        }
        let total = device.pending_pipelines();
        send(Event::Prepared { setup: setup.clone(), done: 0, total });
        self.ahead = Some(Ahead { setup, done: 0, total });
    }

    /// Opens the engine `choice` asks for and says which it got and why (`Event::Adapter`); the
    /// run on screen moves to it, paused where it stood, and opened weights are opened again.
    /// Where opening fails, the engine that ran stays.
    async fn open_engine(&mut self, choice: Choice, webgpu: bool) {
        let (device, reason) = match pick(choice, webgpu).await {
            Ok(picked) => picked,
            Err(e) => {
                match self.device {
                    Some(_) => send(Event::Message(Err(format!("the engine could not be switched: {e}")))),
                    None => send(Event::Adapter(Err(e))),
                }
                return;
            }
        };
        // The run moves as its checkpoint's tensors, not a file: kept first when the state on
        // screen is newer than the kept one (the moved run starts paused, and a tab closed then
        // must lose nothing), read from the old engine, and the old run let go before the new
        // one is built, so the worker holds one run and one copy of its state at most.
        let mut unkept = None;
        let carried = match (self.shown.as_mut().filter(|s| !s.weights_only), self.device.clone()) {
            (Some(s), Some(old)) => {
                if s.unkept()
                    && let Err(e) = s.keep_streamed(&old).await.map(|()| s.mark_kept())
                {
                    unkept = Some(e);
                }
                let carried = s.tensors(&old).await;
                if let Some(mut s) = self.shown.take() {
                    s.settle("moved to another engine");
                }
                Some(carried)
            }
            _ => None,
        };
        let mut adapter = Adapter::of(&device);
        if adapter.name.is_empty() {
            adapter.name = browser_adapter_info().await.unwrap_or_default();
        }
        (adapter.choice, adapter.reason) = (choice, reason);
        let name = device.name();
        self.set_device(Rc::new(device));
        send(Event::Adapter(Ok(adapter)));
        let loaded = self.shown.as_ref().filter(|s| s.weights_only).and(self.loaded.clone());
        let moved = match (carried, loaded) {
            (Some(Ok(checkpoint)), _) => self.open_checkpoint(&checkpoint).map(|at| match &unkept {
                None => format!("the run moved to {name}, {at}"),
                Some(e) => format!("the run moved to {name}, {at}; it could not be kept in this browser ({e})"),
            }),
            (Some(Err(e)), _) => Err(format!("the run could not move to {name}: {e}")),
            (None, Some(bytes)) => self.reload_weights(&bytes).map(|()| format!("the loaded weights moved to {name}")),
            (None, None) => return,
        };
        if unkept.is_some()
            && let Some(s) = self.shown.as_mut()
        {
            s.mark_unkept();
        }
        send(Event::Message(moved));
    }

    /// The opened weights again, as the model of the setup on screen.
    fn reload_weights(&mut self, bytes: &[u8]) -> Result<(), String> {
        let Some(setup) = self.shown.as_ref().map(|s| s.setup.clone()) else { return Ok(()) };
        self.shown = None;
        self.reload_weights_as(bytes, setup)
    }

    /// Replaces the lost device (`reason`) with a new one and reopens the run on screen on it,
    /// paused, as it was last kept; weights that were opened are opened again.
    async fn reopen(&mut self, reason: String) -> Result<Rc<Device>, String> {
        // The run says so first, whoever noticed (its step, its wait, or a command that needs the
        // device: a click right after a loss gets here before the paused run's wait).
        if let Some(s) = self.shown.as_mut().filter(|s| s.live()) {
            s.set_status(Status::DeviceLost(reason.clone()));
        }
        let device = match Device::gpu().await {
            Ok(device) => Rc::new(device),
            Err(e) => {
                let message = format!("the GPU device was lost ({reason}) and no new one could be opened: {e}");
                if let Some(s) = self.shown.as_mut().filter(|s| s.live()) {
                    s.set_status(Status::Idle);
                }
                send(Event::Message(Err(message.clone())));
                return Err(message);
            }
        };
        self.set_device(device.clone());
        let Some(shown) = self.shown.as_ref() else { return Ok(device) };
        let lost = format!("The GPU device was lost ({reason}). A new device is open");
        let name = shown.name();
        let reopened = match shown.weights_only.then(|| self.loaded.clone()).flatten() {
            Some(bytes) => self.reload_weights(&bytes).map(|()| format!("{lost} and the weights are loaded again")),
            None => match crate::runs::read(&name).await {
                Ok(checkpoint) => self.open_checkpoint(&checkpoint).map(|at| format!("{lost} and the run is back as kept, {at}")),
                Err(e) => Err(format!("it had not been kept yet ({e}): start it again")),
            },
        };
        if reopened.is_err()
            && let Some(s) = self.shown.as_mut()
        {
            s.set_status(Status::Idle);
        }
        send(Event::Message(reopened.map_err(|e| format!("{lost}, but the run could not be reopened: {e}"))));
        Ok(device)
    }
}

/// A download of the model on screen: its weights (`.safetensors`, PyTorch keys), the whole run
/// as a checkpoint (which `cnnscope train --resume` continues natively and the page opens again),
/// or an ONNX model written in the worker from the network's description.
async fn download(device: &Device, s: &Session, what: Download) -> Result<(String, Vec<u8>), String> {
    let model = &s.run.trainer.model;
    let c = &model.net.config;
    let file = |ext: &str| format!("cnnscope-{}-r{}-s{}.{ext}", c.arch.id(), c.ratio, c.side);
    match what {
        Download::Weights => Ok((file("safetensors"), model.save_weights(device).await.map_err(|e| e.to_string())?)),
        Download::Onnx => Ok((file("onnx"), model.save_onnx(device).await.map_err(|e| e.to_string())?)),
        // Opened weights are no kept run: their checkpoint (the weights with no training yet)
        // is built whole, as the weights are.
        Download::Checkpoint => Ok((s.checkpoint_file_name(), s.tensors(device).await?.to_bytes().map_err(|e| e.to_string())?)),
    }
}

/// `message`, then what happened to the run it replaced.
fn with_note(message: String, kept: Option<String>) -> String {
    match kept {
        None => message,
        Some(note) => format!("{message}; {note}"),
    }
}

/// The self-check (`cnnscope::check`) of the browser's adapter, on a WebGPU device of its own (the
/// run on screen waits meanwhile): the kernels alone, at their awkward shapes, forward and backward
/// (on SwiftShader ~12 s, most of it compiling). Named by what the browser says of its adapter.
async fn check_adapter() -> Result<AdapterCheck, String> {
    let gpu = Device::Wgsl(cnnscope::Gpu::new().await.map_err(|e| format!("there is no WebGPU adapter to check here: {e}"))?);
    let progress = |done, total| send(Event::Checking { done, total });
    let mut report = cnnscope::check::run(&gpu, &Device::cpu(), &[], progress).await.map_err(|e| format!("the self-check could not run: {e}"))?;
    if let Some(name) = browser_adapter_info().await {
        report.adapter = name;
    }
    Ok(AdapterCheck { passed: report.passed(), verdict: report.verdict(), report: report.text() })
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

