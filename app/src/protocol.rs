//! The one protocol between the page and the engine's Web Worker: a `Command` enum from the page,
//! an `Event` enum from the worker (gloo-worker encodes both with bincode; byte buffers go as
//! `serde_bytes`, one copy each). docs/APP.md describes it.
//!
//! Run identity: the worker numbers every run it starts or opens and announces it with
//! `Event::Run` before anything else of that run; run-scoped events carry the number, and the page
//! shows only those of the last run announced. The worker also stops the old run's loop, so after
//! "start", "stop" or an opened file nothing of an old run reaches the page.
//!
//! Every command ends in exactly one answer whatever the state (`worker::handle`): its result
//! event, a `Message`, the run's next `Status` (control), `Saved` (keep), `Timing` (time a step),
//! `Prepared`, or `Nothing` when there was nothing to act on.

use cnnscope::data::CLASS_NAMES;
use serde::{Deserialize, Serialize};

use crate::setup::Setup;

// The engine's own results cross as they are.
pub use cnnscope::model::explain::Explanation;
pub use cnnscope::{Clock, LayerTime};
pub use cnnscope::train::LayerStats;

/// What the page asks of the engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Command {
    /// Fetch (or take) and parse Fashion-MNIST; `limit` keeps the first N images of each split.
    LoadData { source: DataSource, limit: Option<usize> },
    /// Compile the kernels a run of `setup` would take, ahead of "start" (the page sends it while
    /// its user sets the knobs), saying how far it got (`Event::Prepared`); a newer `Prepare` or a
    /// `Start` ends it.
    Prepare { setup: Setup },
    /// A new run of `setup`, from the loaded weights when `from_loaded`, else from scratch.
    Start { setup: Setup, from_loaded: bool },
    /// Pause, resume or stop run `run` (a click meant for an older run does nothing).
    Control { run: u64, control: Control },
    /// A learning rate for the paused run, used when it resumes.
    SetLr { lr: f32 },
    /// Keep the training run in the browser at its next readback: the page was hidden, and may
    /// not come back (a closed lid, another tab, a phone's other app).
    Keep,
    /// Time run `run`'s next step part by part (`Event::Timing`).
    TimeStep { run: u64 },
    /// A file the user picked: a checkpoint opens its run paused; weights become a model that
    /// "continue" trains (`setup` gives the knobs the file does not set).
    OpenFile { name: String, file: Incoming, setup: Setup },
    /// A weights file or checkpoint on the page's own site (`?weights=`), opened as `OpenFile`.
    OpenUrl { url: String, setup: Setup },
    /// A run kept in the browser (`runs`), by name.
    OpenKept { name: String },
    /// One image through every layer (and why the predicted class, `Event::Explanation`).
    Inspect(Image),
    /// Why `class` for this image: saliency and Grad-CAM.
    Explain { image: Image, class: usize },
    /// Every test image's predicted class.
    Evaluate,
    /// The model's weights, the whole run as a checkpoint, or the network as ONNX, as a file to
    /// download.
    Download(Download),
    /// Open the engine `choice` asks for (`auto`: the WGSL engine on a real GPU, the CPU engine on a
    /// software adapter or without WebGPU), and move the run on screen to it, paused where it
    /// stands. The page sends it first, and when its user switches engine.
    OpenEngine { choice: cnnscope::Choice, webgpu: bool },
    /// Run the self-check (`cnnscope::check`: the WGSL kernels against the CPU engine, case by
    /// case) on this browser's WebGPU adapter, on a device of its own, whatever engine runs.
    CheckAdapter,
    /// Test-only: destroy the GPU device, as a driver reset would (`lose_device_test`).
    LoseDevice,
    /// Test-only: end the worker as a bug would: a panic (`worker_crash_test`), or, with `abort`, an
    /// allocation that fails, which Rust answers with an abort, not a panic (`worker_abort_test`).
    Panic { abort: bool },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DataSource {
    /// The four `.gz` files under this absolute URL (a directory, ending in `/`).
    Server(String),
    /// The four files the user picked, by name.
    Files(Vec<PickedFile>),
}

/// A file on its way to the worker to be opened: copied into the browser's storage by the page
/// (`incoming`, by name), which the worker reads a piece at a time, or, where that storage is not
/// there or full, its bytes in the message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Incoming {
    Stored(String),
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PickedFile {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Image {
    /// Test image number N.
    Test(usize),
    /// A drawn or picked picture, 28×28 grey.
    Pixels(#[serde(with = "serde_bytes")] Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Download {
    Weights,
    Checkpoint,
    /// The trained network as an ONNX model, for any runtime (`cnnscope::model::onnx`).
    Onnx,
}

/// What the user asked a run's loop to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    Run,
    Pause,
    Stop,
}

/// What the engine tells the page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    /// The adapter the worker opened, or why there is none.
    Adapter(Result<Adapter, String>),
    /// Fraction of the dataset downloaded.
    DataProgress(f64),
    Data(Result<DataSummary, String>),
    /// Run `run` now owns the page: its setup, its curves so far (empty for a new run), and
    /// whether it is loaded weights waiting for "continue" rather than a run that trains.
    Run { run: u64, setup: Setup, notes: Notes, weights_only: bool },
    Status { run: u64, status: Status },
    Progress { run: u64, progress: Progress },
    /// A reporting interval: (step, loss) and (epoch, train accuracy).
    Interval { run: u64, loss: (f64, f64), train_acc: (f64, f64) },
    /// An epoch ended: (epoch, test accuracy) and its lines.
    Epoch { run: u64, test_acc: (f64, f64), lines: Vec<String> },
    /// Per-layer statistics at step `step` (`cnnscope::train::layer_stats`), with their hints.
    Layers { run: u64, step: u64, layers: Vec<LayerStats>, hints: Vec<String> },
    /// Compiling the kernels of the run's first step: `done` of `total` (`Gpu::compile_pending`).
    Preparing { run: u64, done: usize, total: usize },
    /// Compiling ahead for `setup` (`Command::Prepare`): `done` of the `total` kernels it still
    /// lacked.
    Prepared { setup: Setup, done: usize, total: usize },
    /// The run's first step is done, `secs` after "start" (or after the run was opened), `kernels`
    /// of them compiled first.
    FirstStep { run: u64, secs: f64, kernels: usize },
    /// Where step `step`'s time went, layer by layer (`Trainer::timed_step`), and how it was timed.
    Timing { run: u64, step: u64, layers: Vec<LayerTime>, clock: Clock },
    /// The run was kept in the browser (when), or why not.
    Saved { run: u64, result: Result<String, String> },
    /// What a command about files, weights or the learning rate did.
    Message(Result<String, String>),
    Inspection(Result<Inspection, String>),
    Explanation(Result<Explanation, String>),
    Evaluation(Result<Evaluation, String>),
    /// A file for the page to offer as a download.
    File { name: String, #[serde(with = "serde_bytes")] bytes: Vec<u8> },
    /// The run kept in the browser as `run` (`runs`), for the page to offer as a download named
    /// `name`: the kept file itself, handed from the browser's storage to its downloads, never
    /// through the worker's memory (a checkpoint can be 1.5 GB).
    KeptFile { run: String, name: String },
    /// The self-check's progress (`CheckAdapter`): pieces of work compared of all.
    Checking { done: usize, total: usize },
    /// The self-check's report, or why it could not run.
    Checked(Result<AdapterCheck, String>),
    /// The worker panicked (a bug in cnnscope): the message, for the page's crash notice.
    Crashed(String),
    /// A command had nothing to act on (pause a run that is not training, keep with no run…):
    /// its one answer, with why. The page notes it in the console only.
    Nothing(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Status {
    Idle,
    Running,
    Paused,
    Finished,
    Failed(String),
    /// The GPU device was lost (the reason): the worker is opening a new one.
    DeviceLost(String),
}

/// Where a run stands: the run driver's own (`cnnscope::train::Run`), as the CLI's progress bar shows it too.
pub use cnnscope::train::Progress;

/// The self-check of the browser's adapter (`CheckAdapter`): whether every case agreed, its verdict
/// line, and the whole report to copy into a bug report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterCheck {
    pub passed: bool,
    pub verdict: String,
    pub report: String,
}

/// The adapter as the page shows it, and the limit its fit check needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    /// The engine that runs ("gpu": the WGSL kernels; "cpu": the CPU engine), what was asked
    /// for, and why this one, in words for the user.
    pub engine: String,
    pub choice: cnnscope::Choice,
    pub reason: String,
    pub name: String,
    pub device_type: String,
    pub backend: String,
    pub software: bool,
    pub driver: String,
    /// What the engine lets one run take (`Device::capacity`), for the page's fit check.
    pub capacity: cnnscope::engine::device::Capacity,
    /// The limits that decide how big a network and batch can be, as (name, value).
    pub limits: Vec<(String, String)>,
}

impl Adapter {
    pub fn of(device: &cnnscope::Device) -> Adapter {
        match device {
            cnnscope::Device::Wgsl(gpu) => Adapter::of_gpu(gpu),
            cnnscope::Device::Cpu(cpu) => Adapter {
                engine: "cpu".into(),
                choice: cnnscope::Choice::Auto,
                reason: String::new(),
                name: cpu.describe(),
                device_type: "Cpu".into(),
                backend: "cnnscope's CPU engine".into(),
                software: false,
                driver: String::new(),
                capacity: device.capacity(),
                limits: vec![("memory for one run".into(), format!("{} MiB", device.max_binding_bytes() >> 20))],
            },
        }
    }

    fn of_gpu(gpu: &cnnscope::Gpu) -> Adapter {
        let (info, l) = (&gpu.info, &gpu.limits);
        let mib = |b: u64| format!("{} MiB", b >> 20);
        Adapter {
            engine: "gpu".into(),
            choice: cnnscope::Choice::Auto,
            reason: String::new(),
            name: info.name.clone(),
            device_type: format!("{:?}", info.device_type),
            backend: format!("{:?}", info.backend),
            software: info.device_type == cnnscope::wgpu::DeviceType::Cpu,
            // wgpu's WebGPU backend knows neither (the worker names the adapter from the browser).
            driver: if info.vendor == 0 && info.driver.is_empty() { String::new() } else { format!("vendor {:#x} · driver {} {}", info.vendor, info.driver, info.driver_info) },
            capacity: cnnscope::engine::device::Capacity::gpu(gpu.max_binding_bytes()),
            limits: vec![
                ("largest buffer binding".into(), mib(gpu.max_binding_bytes())),
                ("largest buffer".into(), mib(l.max_buffer_size)),
                ("workgroup memory".into(), format!("{} KiB", l.max_compute_workgroup_storage_size >> 10)),
                ("invocations per workgroup".into(), l.max_compute_invocations_per_workgroup.to_string()),
                ("storage buffers per shader".into(), l.max_storage_buffers_per_shader_stage.to_string()),
            ],
        }
    }
}

/// The dataset as the page needs it: sizes and one test image of each class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub train: usize,
    pub test: usize,
    pub rows: usize,
    pub cols: usize,
    /// (class, pixels) of the first test image of each class.
    pub samples: Vec<(u8, Vec<u8>)>,
}

/// What the page keeps of a run besides the engine's checkpoint: its name, curves and epoch lines,
/// and the running sums at the last readback (so the first interval after resuming has the same
/// loss as without the stop). Stored as the checkpoint's notes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    pub name: String,
    /// Where a run opened from a file came from ("<its name> at step N"): opening a file makes a
    /// new kept run, a branch, never an overwrite of the run it was saved from.
    #[serde(default)]
    pub branched_from: Option<String>,
    pub loss: Vec<(f64, f64)>,
    pub train_acc: Vec<(f64, f64)>,
    pub test_acc: Vec<(f64, f64)>,
    pub epoch_lines: Vec<String>,
    pub seen: (f64, f64, f64),
    /// Per-layer statistics so far, shown again when the run is reopened.
    #[serde(default)]
    pub layers: LayerHistory,
}

/// What the page shows of per-layer statistics over a run: the latest table and hints, and each
/// ReLU layer's share of dead units at every snapshot for the heatmap (the last
/// [`LayerHistory::MAX_SNAPSHOTS`]). Kept with the run in this compact form: a table per snapshot
/// would make GoogLeNet's notes ~2 MB, read whenever the kept runs are listed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerHistory {
    /// (step, every weighted layer's statistics) at the latest snapshot.
    pub latest: Option<(u64, Vec<LayerStats>)>,
    pub hints: Vec<String>,
    /// (step, dead share of each layer with a ReLU, in the latest table's order).
    pub dead: Vec<(u64, Vec<f32>)>,
}

impl LayerHistory {
    /// Heatmap columns kept: the latest ones.
    pub const MAX_SNAPSHOTS: usize = 200;

    pub fn push(&mut self, step: u64, layers: Vec<LayerStats>, hints: Vec<String>) {
        if self.dead.len() >= Self::MAX_SNAPSHOTS {
            self.dead.remove(0);
        }
        self.dead.push((step, layers.iter().filter_map(|l| l.dead).map(|d| d as f32).collect()));
        self.latest = Some((step, layers));
        self.hints = hints;
    }

    /// The names of the layers with a ReLU, the heatmap's rows.
    pub fn relu_layers(&self) -> Vec<&str> {
        self.latest.iter().flat_map(|(_, layers)| layers.iter().filter(|l| l.dead.is_some()).map(|l| l.name.as_str())).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_none()
    }
}

/// One layer's output for one image: its name, type, shape (channels, height, width) and values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerOutput {
    pub name: String,
    pub kind: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// An image through the network: every layer's output, the class probabilities, and the true
/// class for a test image (a drawing has none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub layers: Vec<LayerOutput>,
    pub probs: Vec<f32>,
    pub label: Option<usize>,
}

impl Inspection {
    /// The class with the highest probability.
    pub fn predicted(&self) -> usize {
        cnnscope::train::argmax(&self.probs)
    }

    /// "Label: Bag — predicted: Bag (right)", or "Your image — predicted: Bag"; with the test
    /// image's number first when `image` is one (the feature-map card's line and what the live
    /// region says).
    pub fn headline(&self, image: Option<&Image>) -> String {
        let best = self.predicted();
        let text = match self.label {
            Some(label) => format!("Label: {} — predicted: {} ({})", CLASS_NAMES[label], CLASS_NAMES[best], if best == label { "right" } else { "wrong" }),
            None => format!("Your image — predicted: {}", CLASS_NAMES[best]),
        };
        match image {
            Some(Image::Test(i)) => format!("test image #{i}: {text}"),
            _ => text,
        }
    }
}

/// The test set classified: predicted and true class of every image, and the first mistakes'
/// pixels for the gallery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    #[serde(with = "serde_bytes")]
    pub predictions: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
    /// (test image number, pixels).
    pub mistakes: Vec<(usize, Vec<u8>)>,
}

impl Evaluation {
    /// "Test accuracy 71.23% (7123 of 10000 images)": the results card's first line and what the
    /// live region says when the results come.
    pub fn accuracy_line(&self) -> String {
        let right = self.predictions.iter().zip(&self.labels).filter(|(p, l)| p == l).count();
        let total = self.predictions.len();
        format!("Test accuracy {:.2}% ({right} of {total} images)", 100.0 * right as f64 / total.max(1) as f64)
    }
}
