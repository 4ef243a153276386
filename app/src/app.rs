//! The page: adapter, data, model, training, inside the network — top to bottom.

use std::cell::RefCell;
use std::rc::Rc;

use cnnscope::data::{CLASS_NAMES, FashionMnist};
use cnnscope::net::{Arch, MAX_RATIO, MAX_SIDE, Summary, minimum_side};
use leptos::prelude::*;

use crate::charts::Chart;
use crate::dataset;
use crate::feature_maps::FeatureMaps;
use crate::grey_image::GreyImage;
use crate::layer_table::LayerTable;
use crate::results::Results;
use crate::session::{self, Control, Session, Status};
use crate::weights_io::Loaded;
use crate::setup::{Setup, learning_rate, whole};
use crate::webgpu::{self, GpuState};

#[component]
pub fn App() -> impl IntoView {
    let gpu = RwSignal::new_local(GpuState::Opening);
    leptos::task::spawn_local(async move { gpu.set(webgpu::open().await) });

    view! {
        <header>
            <h1>"cnnscope"</h1>
            <p class="tagline">"Train AlexNet, VGG-11, NiN and GoogLeNet on Fashion-MNIST on your GPU, and look inside every layer."</p>
        </header>
        {move || match gpu.get() {
            GpuState::Opening => view! { <p class="hint">"Looking for a WebGPU adapter…"</p> }.into_any(),
            GpuState::NoWebGpu => no_webgpu().into_any(),
            GpuState::Failed(e) => view! {
                <section class="card error" data-testid="gpu-error">
                    <h2>"This browser has WebGPU, but it offered no usable GPU"</h2>
                    <p>"The GPU may be blocklisted or WebGPU switched off. On Linux, Chrome needs --enable-unsafe-webgpu and a Vulkan driver; elsewhere, update the browser and graphics driver, or try Chrome or Edge 113+."</p>
                    <details><summary>"details"</summary><p class="hint">{e}</p></details>
                </section>
            }.into_any(),
            GpuState::Ready(gpu) => view! { <Workbench gpu=gpu /> }.into_any(),
        }}
    }
}

fn no_webgpu() -> impl IntoView {
    view! {
        <section class="card error" data-testid="no-webgpu">
            <h2>"This browser has no WebGPU"</h2>
            <p>"cnnscope trains networks on your GPU through WebGPU. Use one of these:"</p>
            <ul>
                <li>"Chrome or Edge 113+ on Windows, macOS and ChromeOS (Android 121+)"</li>
                <li>"Chrome on Linux with the flag --enable-unsafe-webgpu (and a Vulkan driver)"</li>
                <li>"Firefox 141+ on Windows; Safari 26+"</li>
            </ul>
        </section>
    }
}

#[component]
fn Workbench(gpu: Rc<cnnscope::Gpu>) -> impl IntoView {
    let data = RwSignal::new_local(None::<Rc<FashionMnist>>);
    let data_error = RwSignal::new(None::<String>);
    let data_progress = RwSignal::new(0.0f64);
    leptos::task::spawn_local(async move {
        match dataset::load_from_server(|p| data_progress.set(p)).await {
            Ok(d) => data.set(Some(Rc::new(d))),
            Err(e) => data_error.set(Some(e)),
        }
    });
    let pick_files = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(files) = input.files() else { return };
        data_error.set(None);
        leptos::task::spawn_local(async move {
            match dataset::load_from_files(files).await {
                Ok(d) => data.set(Some(Rc::new(d))),
                Err(e) => data_error.set(Some(e)),
            }
        });
    };

    let setup = RwSignal::new(Setup::for_net(Arch::AlexNet));
    let session = StoredValue::new_local(None::<Rc<RefCell<Session>>>);
    let view_state = session::View::new();
    let run_count = RwSignal::new(0u32);
    let refresh = Signal::derive(move || view_state.epoch_done.get() + run_count.get());

    // The latest run of each network, for the comparison table.
    let runs = RwSignal::new(Vec::<(Setup, f64, f64)>::new());
    let run_setup = RwSignal::new(None::<Setup>);
    Effect::new(move |_| {
        if view_state.epoch_done.get() == 0 {
            return;
        }
        let (Some(setup), Some(&(_, acc))) = (run_setup.get_untracked(), view_state.test_acc.get_untracked().last()) else { return };
        let rate = view_state.progress.get_untracked().images_per_sec;
        runs.update(|r| {
            r.retain(|(s, _, _)| s.arch != setup.arch);
            r.push((setup, rate, acc));
        });
    });

    let gpu_value = StoredValue::new_local(gpu.clone());
    crate::set_current_gpu(gpu.clone());
    // Weights the user loaded: "continue" trains them further, "new run" starts from scratch.
    let loaded = StoredValue::new_local(None::<Rc<Vec<u8>>>);
    let has_loaded = RwSignal::new(false);
    let weights_message = RwSignal::new(None::<Result<String, String>>);
    // The current run stops, and a new owner takes the view: nothing the old loop does from here
    // on reaches the page.
    let retire = move || {
        if let Some(old) = session.get_value() {
            old.borrow().control.set(Control::Stop);
        }
        view_state.run.update(|n| *n += 1);
    };
    let start = move |from_loaded: bool| {
        let Some(d) = data.get_untracked() else { return };
        retire();
        weights_message.set(None);
        let weights = if from_loaded { loaded.get_value() } else { None };
        if !from_loaded {
            loaded.set_value(None);
            has_loaded.set(false);
        }
        match Session::new(gpu_value.get_value(), &d, setup.get_untracked(), weights.as_deref().map(|w| w.as_slice())) {
            Ok(s) => {
                let s = Rc::new(RefCell::new(s));
                session.set_value(Some(s.clone()));
                run_setup.set(Some(setup.get_untracked()));
                run_count.update(|n| *n += 1);
                leptos::task::spawn_local(session::run(s, view_state));
            }
            Err(e) => view_state.status.set(Status::Failed(e)),
        }
    };
    // `s` becomes the page's session: any run stops and nothing it does reaches the page again.
    let take_over = move |s: Session| {
        retire();
        setup.set(s.setup);
        session.set_value(Some(Rc::new(RefCell::new(s))));
        loaded.set_value(None);
        has_loaded.set(false);
        run_count.update(|n| *n += 1);
    };
    // A resumed run: its loop starts paused, showing its curves; "resume" continues it.
    let run_paused = move |s: Session| {
        take_over(s);
        run_setup.set(Some(setup.get_untracked()));
        if let Some(s) = session.get_value() {
            leptos::task::spawn_local(session::run(s, view_state));
        }
    };
    // A lost device: open a new one and reopen the run as last kept, paused ("resume" goes on).
    Effect::new(move |_| {
        let Status::DeviceLost(reason) = view_state.status.get() else { return };
        let name = session.with_value(|s| s.as_ref().map(|s| s.borrow().name.clone()));
        leptos::task::spawn_local(async move {
            let gpu = match cnnscope::Gpu::new().await {
                Ok(gpu) => Rc::new(gpu),
                Err(e) => {
                    view_state.status.set(Status::Failed(format!("the GPU device was lost ({reason}) and no new one could be opened: {e}")));
                    return;
                }
            };
            gpu_value.set_value(gpu.clone());
            crate::set_current_gpu(gpu.clone());
            let lost = format!("The GPU device was lost ({reason}). A new device is open");
            let kept = match (name, data.get_untracked()) {
                (Some(name), Some(d)) => match crate::runs::read(&name).await {
                    Ok(bytes) => Session::from_checkpoint(gpu, &d, &bytes),
                    Err(_) => Err("it had not been kept yet: start it again".to_string()),
                },
                _ => Err("there was no run to reopen".to_string()),
            };
            match kept {
                Ok(s) => {
                    let message = format!("{lost} and the run is back as kept at step {}: “resume” continues it", s.trainer.steps);
                    run_paused(s);
                    weights_message.set(Some(Ok(message)));
                }
                Err(e) => {
                    view_state.status.set(Status::Idle);
                    weights_message.set(Some(Err(format!("{lost}, but the run could not be reopened: {e}"))));
                }
            }
        });
    });
    let download = move |_| {
        let Some(s) = session.get_value() else { return };
        leptos::task::spawn_local(async move { weights_message.set(Some(crate::weights_io::download(s).await)) });
    };
    let upload = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        input.set_value("");
        let Some(d) = data.get_untracked() else {
            weights_message.set(Some(Err("the dataset is not loaded yet".into())));
            return;
        };
        leptos::task::spawn_local(async move {
            // A checkpoint opens its run; weights make a new model whose network (the file's
            // metadata) sets the knobs. A file that does not load leaves the knobs, the model
            // and any run as they were.
            match crate::weights_io::upload(gpu_value.get_value(), &d, setup.get_untracked(), file).await {
                Ok((Loaded::Weights(s, bytes), message)) => {
                    take_over(s);
                    view_state.status.set(Status::Idle);
                    loaded.set_value(Some(Rc::new(bytes)));
                    has_loaded.set(true);
                    weights_message.set(Some(Ok(message)));
                }
                Ok((Loaded::Run(s), message)) => {
                    run_paused(s);
                    weights_message.set(Some(Ok(message)));
                }
                Err(e) => weights_message.set(Some(Err(e))),
            }
        });
    };
    // A kept run, opened from the list.
    let open_kept = Callback::new(move |bytes: Vec<u8>| {
        let Some(d) = data.get_untracked() else {
            weights_message.set(Some(Err("the dataset is not loaded yet".into())));
            return;
        };
        match Session::from_checkpoint(gpu_value.get_value(), &d, &bytes) {
            Ok(s) => {
                let message = format!("opened the run {}, paused at step {}: “resume” continues it", s.name, s.trainer.steps);
                run_paused(s);
                weights_message.set(Some(Ok(message)));
            }
            Err(e) => weights_message.set(Some(Err(e))),
        }
    });
    let download_checkpoint = move |_| {
        let Some(s) = session.get_value() else { return };
        leptos::task::spawn_local(async move { weights_message.set(Some(crate::weights_io::download_checkpoint(s, view_state).await)) });
    };
    // A learning rate set while the run is paused applies to it when it resumes.
    Effect::new(move |_| {
        let lr = setup.with(|s| s.lr);
        if view_state.status.get_untracked() != Status::Paused {
            return;
        }
        let Some(s) = session.get_value() else { return };
        let Ok(mut s) = s.try_borrow_mut() else {
            weights_message.set(Some(Err("the run is busy saving: set the learning rate again in a moment".into())));
            return;
        };
        if s.trainer.config.optimizer.lr() != lr {
            match s.trainer.set_lr(lr) {
                Ok(()) => {
                    s.setup.lr = lr;
                    weights_message.set(Some(Ok(format!("the run resumes with learning rate {lr}"))));
                }
                Err(e) => weights_message.set(Some(Err(e.to_string()))),
            }
        }
    });
    // The engine's checks of the setup (and the memory it takes), for the model card and "start".
    let fit = Memo::new(move |_| gpu_value.with_value(|gpu| crate::setup::check(gpu, &setup.get())));
    let has_session = move || { run_count.get(); session.with_value(|s| s.is_some()) };
    let running = move || matches!(view_state.status.get(), Status::Running | Status::Paused);

    let control = move |c: Control| {
        if let Some(s) = session.get_value() {
            s.borrow().control.set(c);
        }
    };

    let adapter = gpu.info.clone();
    let limits = webgpu::key_limits(&gpu);

    view! {
        <section class="card" data-testid="adapter">
            <h2>"1 · Your GPU"</h2>
            <p class="adapter-name">
                {if adapter.name.is_empty() { "WebGPU adapter".to_string() } else { adapter.name.clone() }}
                <span class="tag">{format!("{:?}", adapter.device_type)}</span>
                <span class="tag">{format!("{:?}", adapter.backend)}</span>
                {(adapter.device_type == cnnscope::wgpu::DeviceType::Cpu).then(|| view! { <span class="tag warn">"software / fallback adapter: slow"</span> })}
            </p>
            <p class="hint">{format!("vendor {} · driver {} {}", adapter.vendor, adapter.driver, adapter.driver_info)}</p>
            <dl class="limits">
                {limits.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            </dl>
        </section>

        <section class="card" data-testid="data">
            <h2>"2 · Fashion-MNIST"</h2>
            {move || match (data.get(), data_error.get()) {
                (Some(d), _) => view! {
                    <p data-testid="data-ready">{format!("{} training and {} test images of {}×{} pixels, ten classes.", d.train.len(), d.test.len(), d.train.images.rows, d.train.images.cols)}</p>
                    <SampleStrip data=d />
                }.into_any(),
                (None, Some(e)) => view! {
                    <p class="error" data-testid="data-error">{format!("The dataset could not be loaded: {e}")}</p>
                    <p>"Pick the four files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from your disk:"</p>
                    <input type="file" multiple accept=".gz" on:change=pick_files />
                }.into_any(),
                (None, None) => view! {
                    <p>"Loading the dataset…"</p>
                    <progress max="1" prop:value=move || data_progress.get()></progress>
                }.into_any(),
            }}
        </section>

        <section class="card" data-testid="model">
            <h2>"3 · Network"</h2>
            <SetupForm setup=setup disabled=Signal::derive(running)
                paused=Signal::derive(move || view_state.status.get() == Status::Paused) />
            {move || {
                let s = setup.get();
                match s.net().and_then(|net| Summary::new(&net).map_err(|e| e.to_string())) {
                    Ok(summary) => {
                        let fit = fit.get();
                        let memory = fit.as_ref().map(|bytes| format!(" · {} of GPU memory to train at batch {}", cnnscope::fit::human(*bytes), s.batch)).unwrap_or_default();
                        view! {
                            <p class="summary-line">{format!("{} · {} parameters · {:.1} MFLOPs per image{memory}",
                                summary.title, cnnscope::net::summary::grouped(summary.params as u64), summary.flops as f64 / 1e6)}</p>
                            {fit.err().map(|w| view! { <p class="error" data-testid="fit-warning">{w}</p> })}
                            <LayerTable summary=summary />
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error" data-testid="config-error">{e}</p> }.into_any(),
                }
            }}
        </section>

        <section class="card" data-testid="training">
            <h2>"4 · Training"</h2>
            <div class="controls">
                <button data-testid="start" on:click=move |_| start(false)
                    disabled=move || data.get().is_none() || fit.with(Result::is_err)>
                    {move || if running() { "restart" } else if has_loaded.get() { "new run from scratch" } else { "start training" }}
                </button>
                {move || (has_loaded.get() && !running()).then(|| view! {
                    <button data-testid="continue" on:click=move |_| start(true)>"continue training loaded weights"</button>
                })}
                <button data-testid="pause" disabled=move || !running() on:click=move |_| {
                    control(if view_state.status.get_untracked() == Status::Paused { Control::Run } else { Control::Pause })
                }>{move || if view_state.status.get() == Status::Paused { "resume" } else { "pause" }}</button>
                <button data-testid="stop" disabled=move || !running() on:click=move |_| control(Control::Stop)>"stop"</button>
                <span class="status" data-testid="status">{move || match view_state.status.get() {
                    Status::Idle => "idle".to_string(),
                    Status::Running => "training".to_string(),
                    Status::Paused => "paused".to_string(),
                    Status::Finished => "finished".to_string(),
                    Status::Failed(e) => format!("failed: {e}"),
                    Status::DeviceLost(reason) => format!("the GPU device was lost ({reason}): opening a new one…"),
                }}</span>
            </div>
            {move || {
                let p = view_state.progress.get();
                (p.batches > 0).then(|| view! {
                    <div class="progress">
                        <progress max=p.batches.to_string() prop:value=p.batch.to_string()></progress>
                        <span data-testid="progress-text" data-steps=p.steps.to_string()>{format!("epoch {}/{} · batch {}/{} · {:.1} images/s · ETA {}",
                            p.epoch, p.epochs, p.batch, p.batches, p.images_per_sec, eta(p.eta_secs))}</span>
                    </div>
                })
            }}
            <div class="charts">
                <Chart title="loss" x_label="steps" series=view_state.loss_series() />
                <Chart title="accuracy" x_label="epochs" series=view_state.accuracy_series() y_range=(0.0, 1.0) />
            </div>
            <div class="controls weights">
                <button data-testid="download-weights" disabled=move || !has_session() on:click=download>"download weights (.safetensors)"</button>
                <button data-testid="download-checkpoint" disabled=move || !has_session() on:click=download_checkpoint>"download checkpoint"</button>
                <label class="file">"load weights or a checkpoint"
                    <input data-testid="upload-weights" type="file" accept=".safetensors,.ckpt"
                        disabled=move || view_state.status.get() == Status::Running on:change=upload />
                </label>
                {move || weights_message.get().map(|m| match m {
                    Ok(text) => view! { <span class="hint" data-testid="weights-message">{text}</span> }.into_any(),
                    Err(e) => view! { <span class="error" data-testid="weights-message">{e}</span> }.into_any(),
                })}
            </div>
            {move || view_state.saved.get().map(|m| match m {
                Ok(text) => view! { <p class="hint" data-testid="saved">{text}</p> }.into_any(),
                Err(e) => view! { <p class="error" data-testid="saved">{e}</p> }.into_any(),
            })}
            <pre class="epochs" data-testid="epoch-lines">{move || view_state.epoch_lines.get().join("\n")}</pre>
            <div hidden data-testid="loss-values">{move || view_state.loss.get().iter().map(|(_, l)| format!("{l:.5}")).collect::<Vec<_>>().join(" ")}</div>
        </section>

        <section class="card" data-testid="inside">
            <h2>"5 · Inside the network"</h2>
            <FeatureMaps session=session refresh=refresh />
        </section>

        <section class="card" data-testid="results">
            <h2>"6 · Results"</h2>
            <Results session=session data=data ready=Signal::derive(has_session) />
        </section>

        <section class="card" data-testid="compare">
            <h2>"7 · The four networks compared"</h2>
            <Compare runs=runs />
        </section>

        // Last on the page: the list grows as runs are kept, and nothing below it moves.
        <section class="card" data-testid="kept">
            <h2>"8 · Runs kept in this browser"</h2>
            <crate::saved_runs::SavedRuns stored=view_state.stored on_open=open_kept />
        </section>
    }
}

fn eta(secs: f64) -> String {
    if !secs.is_finite() {
        return "—".into();
    }
    let s = secs.round() as u64;
    if s >= 3600 { format!("{}h {:02}m", s / 3600, s / 60 % 60) } else { format!("{}m {:02}s", s / 60, s % 60) }
}

/// The knobs: network, width, side, batch, optimiser, learning rate, epochs, seed.
#[component]
fn SetupForm(setup: RwSignal<Setup>, disabled: Signal<bool>, paused: Signal<bool>) -> impl IntoView {
    // Each knob parses its text; what it cannot use is said beside it and the setup keeps its
    // last good value (the whole setup is then checked by the engine above the layer table).
    // During a run the knobs are locked, except the learning rate while it is paused: the run
    // resumes with the new rate (the way on from a diverged run's kept checkpoint).
    let knob = move |label: &'static str, get: fn(&Setup) -> String, set: fn(&mut Setup, &str) -> Result<(), String>| {
        let error = RwSignal::new(None::<String>);
        let locked = move || disabled.get() && !(label == "learning rate" && paused.get());
        view! {
            <label>{label}
                <input type="text" inputmode="decimal" size="6" data-knob=label disabled=locked prop:value=move || get(&setup.get())
                    on:change=move |ev| {
                        let mut s = setup.get_untracked();
                        match set(&mut s, &event_target_value(&ev)) {
                            Ok(()) => { error.set(None); setup.set(s); }
                            Err(e) => error.set(Some(e)),
                        }
                    } />
                {move || error.get().map(|e| view! { <span class="knob-error" data-testid="knob-error">{e}</span> })}
            </label>
        }
    };
    view! {
        <div class="controls setup">
            <label>"network"
                <select data-testid="net" disabled=disabled on:change=move |ev| {
                    if let Ok(arch) = event_target_value(&ev).parse::<Arch>() { setup.set(Setup::for_net(arch)); }
                }>
                    {Arch::ALL.into_iter().map(|a| view! { <option value=a.id() selected=move || setup.get().arch == a>{a.to_string()}</option> }).collect_view()}
                </select>
            </label>
            // The engine's bounds keep every size far inside 32-bit arithmetic (usize in the browser).
            {knob("width ÷", |s| s.ratio.to_string(), |s, v| { s.ratio = whole(v, 1..=MAX_RATIO)?; Ok(()) })}
            {knob("side", |s| s.side.to_string(), |s, v| { s.side = whole(v, 1..=MAX_SIDE)?; Ok(()) })}
            {knob("batch", |s| s.batch.to_string(), |s, v| { s.batch = whole(v, 1..=1_000_000)?; Ok(()) })}
            <label>"optimiser"
                <select disabled=disabled on:change=move |ev| { let adam = event_target_value(&ev) == "adam"; setup.update(|s| s.adam = adam); }>
                    <option value="adam" selected=move || setup.get().adam>"Adam"</option>
                    <option value="sgd" selected=move || !setup.get().adam>"SGD"</option>
                </select>
            </label>
            {knob("learning rate", |s| s.lr.to_string(), |s, v| { s.lr = learning_rate(v)?; Ok(()) })}
            {knob("epochs", |s| s.epochs.to_string(), |s, v| { s.epochs = whole(v, 1..=10_000)?; Ok(()) })}
            {knob("seed", |s| s.seed.to_string(), |s, v| {
                s.seed = v.trim().parse().map_err(|_| format!("«{}» is not a whole number from 0 to {}", v.trim(), u64::MAX))?;
                Ok(())
            })}
        </div>
        <p class="hint">{move || {
            let s = setup.get();
            format!("{} admits sides from {} up; width ÷1 is the paper's network.", s.arch, minimum_side(s.config()))
        }}</p>
    }
}

/// One example of each class from the test set, with its name.
#[component]
fn SampleStrip(data: Rc<FashionMnist>) -> impl IntoView {
    let test = &data.test;
    let picks: Vec<usize> = (0..CLASS_NAMES.len()).filter_map(|c| test.labels.iter().position(|&l| l as usize == c)).collect();
    picks
        .into_iter()
        .map(|i| {
            let (rows, cols) = (test.images.rows, test.images.cols);
            let pixels = test.images.pixels[i * rows * cols..(i + 1) * rows * cols].to_vec();
            let label = CLASS_NAMES[test.labels[i] as usize];
            view! {
                <figure class="sample">
                    <GreyImage pixels=pixels rows=rows cols=cols />
                    <figcaption>{label}</figcaption>
                </figure>
            }
        })
        .collect_view()
}

/// Parameters, FLOPs per image, speed and accuracy of each network as configured by its latest
/// run (or its default recipe): does GoogLeNet get similar accuracy for less compute?
#[component]
fn Compare(runs: RwSignal<Vec<(Setup, f64, f64)>>) -> impl IntoView {
    move || {
        let runs = runs.get();
        let rows = Arch::ALL
            .into_iter()
            .map(|arch| {
                let run = runs.iter().find(|(s, _, _)| s.arch == arch);
                let setup = run.map(|r| r.0).unwrap_or_else(|| Setup::for_net(arch));
                let summary = setup.net().ok().and_then(|n| Summary::new(&n).ok());
                let (params, flops) = summary.map(|s| (cnnscope::net::summary::grouped(s.params as u64), cnnscope::net::summary::si(s.flops as f64))).unwrap_or_default();
                let (rate, acc) = run.map(|r| (format!("{:.1}", r.1), format!("{:.3}", r.2))).unwrap_or(("—".into(), "—".into()));
                view! {
                    <tr>
                        <td>{arch.to_string()}</td>
                        <td>{format!("÷{} · {}×{} · batch {}", setup.ratio, setup.side, setup.side, setup.batch)}</td>
                        <td class="num">{params}</td>
                        <td class="num">{flops}</td>
                        <td class="num">{rate}</td>
                        <td class="num">{acc}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="layers compare" data-testid="compare-table">
                <thead><tr><th>"network"</th><th>"configuration"</th><th>"parameters"</th><th>"FLOPs per image"</th><th>"images/s"</th><th>"test accuracy"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="hint">"Train each network for at least one epoch to fill in its speed and accuracy (the latest run of each counts)."</p>
        }
    }
}
