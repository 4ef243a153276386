//! Everything the page shows, as signals, and how each engine `Event` changes it. The cards read
//! it from context (`use_view`); they change the engine only through `bridge::send`.

use leptos::prelude::*;

use crate::page::charts::Series;
use crate::protocol::{Adapter, AdapterCheck, Clock, DataSummary, Evaluation, Event, Explanation, Image, Inspection, LayerHistory, LayerTime, Notes, Progress, Status};
use crate::setup::Setup;

#[derive(Clone, Copy)]
pub struct View {
    /// The adapter the worker opened, or why there is none (`None` while it looks).
    pub adapter: RwSignal<Option<Result<Adapter, String>>>,
    /// The adapter's self-check: its progress while it runs, then its report.
    pub checking: RwSignal<Option<(usize, usize)>>,
    pub check: RwSignal<Option<Result<AdapterCheck, String>>>,
    pub data: RwSignal<Option<Result<DataSummary, String>>>,
    pub data_progress: RwSignal<f64>,
    /// The knobs.
    pub setup: RwSignal<Setup>,
    /// Why the address's setup could not be used (`share`).
    pub link_error: RwSignal<Option<String>>,
    /// The run that owns the page (0: none yet), its setup, and whether it is loaded weights
    /// waiting for "continue" rather than a run.
    pub run: RwSignal<u64>,
    pub run_setup: RwSignal<Option<Setup>>,
    /// The name the run on screen is kept under (`runs`).
    pub run_name: RwSignal<String>,
    pub weights_only: RwSignal<bool>,
    pub status: RwSignal<Status>,
    pub progress: RwSignal<Progress>,
    pub loss: RwSignal<Vec<(f64, f64)>>,
    pub train_acc: RwSignal<Vec<(f64, f64)>>,
    pub test_acc: RwSignal<Vec<(f64, f64)>>,
    pub epoch_lines: RwSignal<Vec<String>>,
    /// Per-layer statistics over the run, with the latest hints.
    pub layers: RwSignal<LayerHistory>,
    /// The first step's kernels compiling: (done, total).
    pub preparing: RwSignal<Option<(usize, usize)>>,
    /// Kernels compiled ahead for a setup, before "start": (setup, done, total).
    pub prepared: RwSignal<Option<(Setup, usize, usize)>>,
    /// The run's first step: seconds after "start", and kernels compiled for it.
    pub first_step: RwSignal<Option<(f64, usize)>>,
    /// Where a step's time went, layer by layer: (step, layers).
    pub timing: RwSignal<Option<(u64, Vec<LayerTime>, Clock)>>,
    /// Bumped when a run takes over and after each epoch, so the feature maps refresh.
    pub model_changed: RwSignal<u32>,
    /// The last save of the run in the browser: when, or why it failed.
    pub saved: RwSignal<Option<Result<String, String>>>,
    /// Bumped after every save, so the list of kept runs refreshes.
    pub stored: RwSignal<u32>,
    /// What the last command about files, weights or the learning rate did.
    pub message: RwSignal<Option<Result<String, String>>>,
    pub inspection: RwSignal<Option<Result<Inspection, String>>>,
    /// The image last sent through the network, and why a class for it.
    pub inspected: RwSignal<Option<Image>>,
    pub explanation: RwSignal<Option<Result<Explanation, String>>>,
    pub inspecting: RwSignal<bool>,
    pub evaluation: RwSignal<Option<Result<Evaluation, String>>>,
    pub evaluating: RwSignal<bool>,
    /// The latest finished epoch of each network: its setup, images/s and test accuracy.
    pub compared: RwSignal<Vec<(Setup, f64, f64)>>,
    /// Every run that finished here: its setup and final test accuracy.
    pub finished: RwSignal<Vec<(Setup, f64)>>,
    /// The test image the feature maps show (card 5's "test image #").
    pub test_image: RwSignal<usize>,
    /// What the page last said to screen readers (the polite live region, `app.rs`): the
    /// dataset loaded, a run started, paused, resumed, finished, failed or stopped, an epoch's
    /// line (at most one every `EPOCH_ANNOUNCE_MS`), an inspected image's prediction, test-set
    /// results. Never a step's progress.
    pub announcement: RwSignal<String>,
    /// When an epoch was last announced (`js_sys::Date::now()`), for the rate limit.
    pub epoch_announced: RwSignal<f64>,
    /// For each inspection on its way, in order (the worker answers every `Inspect` once, in
    /// turn): whether the user asked for it (an image picked, typed, drawn or refreshed), so its
    /// answer is announced; the feature maps' refresh after every epoch is not.
    pub inspections_asked: RwSignal<std::collections::VecDeque<bool>>,
}

/// Epoch lines are announced at most this often: a small run finishes an epoch a second, and a
/// screen reader would queue them all.
pub const EPOCH_ANNOUNCE_MS: f64 = 10_000.0;

/// `View::run` between "start" and the worker's announcement of the new run.
const NEW_RUN_PENDING: u64 = u64::MAX;

pub fn use_view() -> View {
    expect_context::<View>()
}

impl View {
    pub fn new() -> View {
        View {
            adapter: RwSignal::new(None),
            data: RwSignal::new(None),
            data_progress: RwSignal::new(0.0),
            setup: RwSignal::new(Setup::for_net(cnnscope::net::Arch::AlexNet)),
            link_error: RwSignal::new(None),
            run: RwSignal::new(0),
            run_setup: RwSignal::new(None),
            run_name: RwSignal::new(String::new()),
            weights_only: RwSignal::new(false),
            status: RwSignal::new(Status::Idle),
            progress: RwSignal::new(Progress::default()),
            loss: RwSignal::new(Vec::new()),
            train_acc: RwSignal::new(Vec::new()),
            test_acc: RwSignal::new(Vec::new()),
            epoch_lines: RwSignal::new(Vec::new()),
            layers: RwSignal::new(LayerHistory::default()),
            timing: RwSignal::new(None),
            preparing: RwSignal::new(None),
            prepared: RwSignal::new(None),
            first_step: RwSignal::new(None),
            model_changed: RwSignal::new(0),
            saved: RwSignal::new(None),
            stored: RwSignal::new(0),
            message: RwSignal::new(None),
            inspection: RwSignal::new(None),
            inspected: RwSignal::new(None),
            explanation: RwSignal::new(None),
            inspecting: RwSignal::new(false),
            evaluation: RwSignal::new(None),
            evaluating: RwSignal::new(false),
            compared: RwSignal::new(Vec::new()),
            finished: RwSignal::new(Vec::new()),
            test_image: RwSignal::new(0),
            announcement: RwSignal::new(String::new()),
            epoch_announced: RwSignal::new(f64::NEG_INFINITY),
            inspections_asked: RwSignal::new(std::collections::VecDeque::new()),
            checking: RwSignal::new(None),
            check: RwSignal::new(None),
        }
    }

    /// Says `text` through the live region.
    pub fn announce(&self, text: impl Into<String>) {
        self.announcement.set(text.into());
    }

    /// What a change of the run's status is worth saying, from `before` to `now`.
    fn status_words(&self, before: &Status, now: &Status) -> Option<String> {
        let p = self.progress.get_untracked();
        let at = |what: &str| if p.steps > 0 { format!("{what} at step {}, epoch {} of {}", p.steps, p.epoch, p.epochs) } else { what.to_string() };
        Some(match now {
            _ if before == now => return None,
            Status::Running if *before == Status::Paused => at("training resumed"),
            Status::Running => match self.run_setup.get_untracked() {
                Some(s) => format!("training started: {} ÷{}, {} epochs", s.arch, s.ratio, s.epochs),
                None => "training started".to_string(),
            },
            Status::Paused => at("paused"),
            Status::Finished => match self.test_acc.get_untracked().last() {
                Some(&(_, acc)) => format!("training finished after {} steps: test accuracy {acc:.3}", p.steps),
                None => format!("training finished after {} steps", p.steps),
            },
            Status::Failed(e) => format!("training failed: {e}"),
            Status::DeviceLost(reason) => format!("the GPU device was lost ({reason}): opening a new one"),
            Status::Idle if matches!(before, Status::Running | Status::Paused) => "training stopped".to_string(),
            Status::Idle => return None,
        })
    }

    /// The engine's worker is gone (a panic, or an abort its loader reported, `bridge`): the crash
    /// notice, with where the run on screen was last kept, the one thing the user needs next.
    pub fn worker_crashed(&self, message: &str) {
        let name = self.run_name.get_untracked();
        let kept = match self.saved.get_untracked() {
            _ if name.is_empty() || self.weights_only.get_untracked() => String::new(),
            Some(Ok(when)) => format!(". The run {name} was {when}: after reloading, open it from “Runs kept in this browser”"),
            _ => format!(". The run {name} was not kept in this browser since it was shown"),
        };
        crate::crash_notice(&format!("in the engine's worker, {message}{kept}"))
    }

    /// A run is training or paused (the knobs are locked).
    pub fn running(&self) -> bool {
        matches!(self.status.get(), Status::Running | Status::Paused)
    }

    /// Shows what the engine says. Events of a run other than the one that owns the page are
    /// dropped (the engine stops such runs too).
    pub fn apply(&self, event: Event) {
        let ours = |run: u64| run == self.run.get_untracked();
        match event {
            Event::Adapter(adapter) => self.adapter.set(Some(adapter)),
            Event::DataProgress(p) => self.data_progress.set(p),
            Event::Data(data) => {
                self.announce(match &data {
                    Ok(d) => format!("Fashion-MNIST loaded: {} training and {} test images", d.train, d.test),
                    Err(e) => format!("the dataset could not be loaded: {e}"),
                });
                self.data.set(Some(data));
            }
            Event::Run { run, setup, notes, weights_only } => self.take_over(run, setup, notes, weights_only),
            Event::Status { run, status } if ours(run) => {
                if status == Status::Finished
                    && let (Some(setup), Some(&(_, accuracy))) = (self.run_setup.get_untracked(), self.test_acc.get_untracked().last())
                {
                    self.finished.update(|f| f.push((setup, accuracy)));
                }
                if let Some(words) = self.status_words(&self.status.get_untracked(), &status) {
                    self.announce(words);
                }
                self.status.set(status);
            }
            Event::Progress { run, progress } if ours(run) => self.progress.set(progress),
            Event::Interval { run, loss, train_acc } if ours(run) => {
                self.loss.update(|v| v.push(loss));
                self.train_acc.update(|v| v.push(train_acc));
            }
            Event::Epoch { run, test_acc, lines } if ours(run) => {
                let now = js_sys::Date::now();
                if let Some(line) = lines.last()
                    && now - self.epoch_announced.get_untracked() >= EPOCH_ANNOUNCE_MS
                {
                    self.epoch_announced.set(now);
                    self.announce(line.clone());
                }
                self.test_acc.update(|v| v.push(test_acc));
                self.epoch_lines.update(|v| v.extend(lines));
                self.model_changed.update(|n| *n += 1);
                if let Some(setup) = self.run_setup.get_untracked() {
                    let rate = self.progress.get_untracked().images_per_sec;
                    self.compared.update(|r| {
                        r.retain(|(s, _, _)| s.arch != setup.arch);
                        r.push((setup, rate, test_acc.1));
                    });
                }
            }
            Event::Layers { run, step, layers, hints } if ours(run) => self.layers.update(|h| h.push(step, layers, hints)),
            Event::Timing { run, step, layers, clock } if ours(run) => self.timing.set(Some((step, layers, clock))),
            Event::Preparing { run, done, total } if ours(run) => self.preparing.set(Some((done, total))),
            Event::Prepared { setup, done, total } => self.prepared.set(Some((setup, done, total))),
            Event::Checking { done, total } => self.checking.set(Some((done, total))),
            Event::Checked(check) => {
                self.announce(match &check {
                    Ok(c) => c.verdict.clone(),
                    Err(e) => e.clone(),
                });
                self.checking.set(None);
                self.check.set(Some(check));
            }
            Event::FirstStep { run, secs, kernels } if ours(run) => self.first_step.set(Some((secs, kernels))),
            Event::Saved { run, result } if ours(run) => {
                self.saved.set(Some(result));
                self.stored.update(|n| *n += 1);
            }
            Event::Status { .. } | Event::Progress { .. } | Event::Interval { .. } | Event::Epoch { .. } | Event::Layers { .. } | Event::Timing { .. } | Event::Preparing { .. } | Event::FirstStep { .. } | Event::Saved { .. } => {}
            Event::Message(message) => self.message.set(Some(message)),
            Event::Inspection(inspection) => {
                let mut by_user = false;
                self.inspections_asked.update_untracked(|q| by_user = q.pop_front().unwrap_or(false));
                if by_user {
                    self.announce(match &inspection {
                        Ok(i) => i.headline(self.inspected.get_untracked().as_ref()),
                        Err(e) => e.clone(),
                    });
                }
                self.inspection.set(Some(inspection));
                self.inspecting.set(false);
            }
            Event::Explanation(explanation) => self.explanation.set(Some(explanation)),
            Event::Evaluation(evaluation) => {
                self.announce(match &evaluation {
                    Ok(e) => e.accuracy_line(),
                    Err(e) => e.clone(),
                });
                self.evaluation.set(Some(evaluation));
                self.evaluating.set(false);
            }
            Event::File { name, bytes } => self.message.set(Some(crate::page::download::offer(&name, &bytes))),
            Event::KeptFile { run, name } => {
                let message = self.message;
                leptos::task::spawn_local(async move { message.set(Some(crate::page::download::offer_kept(&run, &name).await)) });
            }
            Event::Crashed(message) => self.worker_crashed(&message),
            Event::Nothing(why) => web_sys::console::debug_1(&format!("cnnscope: {why}").into()),
        }
    }

    /// "start" was pressed: until the worker announces the new run, nothing of the old one is
    /// shown (its progress, curves or "finished" would read as the new run's).
    pub fn expect_new_run(&self) {
        self.run.set(NEW_RUN_PENDING);
        self.status.set(Status::Idle);
        self.show_curves(Notes::default());
    }

    /// Run `run` owns the page from now on: its setup and curves so far.
    fn take_over(&self, run: u64, setup: Setup, notes: Notes, weights_only: bool) {
        self.run.set(run);
        self.setup.set(setup.clone());
        self.run_setup.set(Some(setup));
        self.weights_only.set(weights_only);
        self.run_name.set(notes.name.clone());
        self.show_curves(notes);
        self.model_changed.update(|n| *n += 1);
    }

    fn show_curves(&self, notes: Notes) {
        self.loss.set(notes.loss);
        self.train_acc.set(notes.train_acc);
        self.test_acc.set(notes.test_acc);
        self.epoch_lines.set(notes.epoch_lines);
        self.progress.set(Progress::default());
        self.saved.set(None);
        self.layers.set(notes.layers);
        self.timing.set(None);
        self.preparing.set(None);
        self.first_step.set(None);
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
