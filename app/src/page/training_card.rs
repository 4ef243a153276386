//! Card 4: start, pause, resume, stop; progress, curves and epoch lines; weights and checkpoints
//! to download or open.

use js_sys::Uint8Array;
use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::page::bridge::send;
use crate::page::charts::Chart;
use crate::protocol::{Command, Control, Download, Incoming, Status};
use crate::page::view::use_view;

#[component]
pub fn TrainingCard(fit: Memo<Result<crate::setup::Fit, String>>) -> impl IntoView {
    let view = use_view();
    let data_ready = move || view.data.with(|d| matches!(d, Some(Ok(_))));
    let has_run = move || view.run.get() > 0;
    let running = move || view.running();
    let start = move |from_loaded: bool| {
        view.message.set(None);
        view.expect_new_run();
        send(Command::Start { setup: view.setup.get_untracked(), from_loaded });
    };
    let control = move |control: Control| send(Command::Control { run: view.run.get_untracked(), control });
    // The knobs' setup has its kernels compiled while the user is still choosing (on a software
    // adapter they are most of the wait for a first step): a second after the knobs last moved,
    // while no run is going. The worker drops the work for a setup the knobs have left.
    let prepare_after = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |_| {
        let setup = view.setup.get();
        if let Some(pending) = prepare_after.try_update_value(Option::take).flatten() {
            pending.clear();
        }
        if data_ready() && fit.with(Result::is_ok) && !running() {
            let send_it = move || send(Command::Prepare { setup });
            prepare_after.set_value(set_timeout_with_handle(send_it, std::time::Duration::from_secs(1)).ok());
        }
    });
    // `?weights=`: once the data is in, the worker fetches and opens the file (`share`).
    let page = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
    let from_address = StoredValue::new(crate::page::share::weights_url(&crate::page::share::current_search(), &page));
    Effect::new(move |_| {
        if !data_ready() {
            return;
        }
        match from_address.try_update_value(Option::take).flatten() {
            Some(Ok(url)) => send(Command::OpenUrl { url, setup: view.setup.get_untracked() }),
            Some(Err(e)) => view.message.set(Some(Err(e))),
            None => {}
        }
    });
    let upload = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        input.set_value("");
        if !data_ready() {
            view.message.set(Some(Err("the dataset is not loaded yet".into())));
            return;
        }
        // The worker decides: a checkpoint opens its run; weights make a new model whose network
        // (the file's metadata) sets the knobs. A file that does not load changes nothing.
        // The file goes to the worker through the browser's storage, which the browser copies it
        // into itself: a checkpoint of 1.5 GB is never whole in the page's memory, nor in the
        // worker's beside its tensors. Where that storage is not there or full, as bytes.
        leptos::task::spawn_local(async move {
            let name = file.name();
            let setup = view.setup.get_untracked();
            if let Ok(stored) = crate::incoming::store_blob(&file).await {
                return send(Command::OpenFile { name, file: Incoming::Stored(stored), setup });
            }
            match JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => send(Command::OpenFile { name, file: Incoming::Bytes(Uint8Array::new(&buffer).to_vec()), setup }),
                Err(e) => view.message.set(Some(Err(crate::js_error(&name, e)))),
            }
        });
    };
    let on_cpu = move || view.adapter.with(|a| matches!(a, Some(Ok(a)) if a.engine == "cpu"));
    view! {
        <section class="card" data-testid="training">
            <h2>"4 · Training"</h2>
            <div class="controls">
                <button data-testid="start" on:click=move |_| start(false)
                    disabled=move || !data_ready() || fit.with(Result::is_err)>
                    {move || if running() { "restart" } else if view.weights_only.get() { "new run from scratch" } else { "start training" }}
                </button>
                {move || (view.weights_only.get() && !running()).then(|| view! {
                    <button data-testid="continue" on:click=move |_| start(true)>"continue training loaded weights"</button>
                })}
                <button data-testid="pause" disabled=move || !running() on:click=move |_| {
                    control(if view.status.get_untracked() == Status::Paused { Control::Run } else { Control::Pause })
                }>{move || if view.status.get() == Status::Paused { "resume" } else { "pause" }}</button>
                <button data-testid="stop" disabled=move || !running() on:click=move |_| control(Control::Stop)>"stop"</button>
                <span class="status" data-testid="status">{move || match view.status.get() {
                    Status::Idle => "idle".to_string(),
                    Status::Running => "training".to_string(),
                    Status::Paused => "paused".to_string(),
                    Status::Finished => "finished".to_string(),
                    Status::Failed(e) => format!("failed: {e}"),
                    Status::DeviceLost(reason) => format!("the GPU device was lost ({reason}): opening a new one…"),
                }}</span>
            </div>
            // Before the first step: its kernels compiling, then how long the first step took.
            {move || match (view.first_step.get(), view.preparing.get()) {
                (Some((secs, kernels)), _) => Some(view! {
                    <p class="hint" data-testid="first-step" data-secs=format!("{secs:.3}")>{match kernels {
                        _ if on_cpu() => format!("first step {secs:.1} s after start (the CPU engine compiles nothing)"),
                        0 => format!("first step {secs:.1} s after start (its kernels were compiled before start)"),
                        n => format!("first step {secs:.1} s after start ({n} kernels compiled for it)"),
                    }}</p>
                }.into_any()),
                (None, Some((done, total))) => Some(view! {
                    <div class="progress" data-testid="preparing">
                        <progress max=total.to_string() prop:value=done.to_string() aria-label="kernels compiled"></progress>
                        <span>{format!("preparing kernels {done}/{total}: compiled once, then training starts")}</span>
                    </div>
                }.into_any()),
                (None, None) => None,
            }}
            // Kernels compiled ahead for the knobs as they are, while no run is going.
            {move || view.prepared.get().filter(|(setup, ..)| !running() && view.setup.with(|s| s == setup)).map(|(_, done, total)| view! {
                <p class="hint" data-testid="kernels-ahead">{if done == total {
                    "kernels ready for these knobs: the first step starts at once".to_string()
                } else {
                    format!("compiling this network's kernels ahead: {done}/{total} (start now and the first step waits for the rest)")
                }}</p>
            })}
            {move || {
                let p = view.progress.get();
                (p.batches > 0).then(|| view! {
                    <div class="progress">
                        <progress max=p.batches.to_string() prop:value=p.batch.to_string() aria-label="batches of this epoch"></progress>
                        <span data-testid="progress-text" data-steps=p.steps.to_string()>{format!("epoch {}/{} · batch {}/{} · {:.1} images/s · ETA {}",
                            p.epoch, p.epochs, p.batch, p.batches, p.images_per_sec, eta(p.eta_secs))}</span>
                    </div>
                })
            }}
            <div class="charts">
                <Chart title="loss" x_label="steps" series=view.loss_series() />
                <Chart title="accuracy" x_label="epochs" series=view.accuracy_series() y_range=(0.0, 1.0) />
            </div>
            <div class="controls weights">
                <button data-testid="download-weights" disabled=move || !has_run() on:click=move |_| send(Command::Download(Download::Weights))>"download weights (.safetensors)"</button>
                <button data-testid="download-checkpoint" disabled=move || !has_run() on:click=move |_| send(Command::Download(Download::Checkpoint))>"download checkpoint"</button>
                <button data-testid="download-onnx" disabled=move || !has_run() on:click=move |_| send(Command::Download(Download::Onnx))>"download ONNX model"</button>
                <label class="file">"load weights or a checkpoint"
                    <input data-testid="upload-weights" type="file" accept=".safetensors,.ckpt"
                        disabled=move || view.status.get() == Status::Running on:change=upload />
                </label>
                {move || view.message.get().map(|m| match m {
                    Ok(text) => view! { <span class="hint" data-testid="weights-message">{text}</span> }.into_any(),
                    Err(e) => view! { <span class="error" data-testid="weights-message">{e}</span> }.into_any(),
                })}
            </div>
            {move || view.saved.get().map(|m| match m {
                Ok(text) => view! { <p class="hint" data-testid="saved">{text}</p> }.into_any(),
                Err(e) => view! { <p class="error" data-testid="saved">{e}</p> }.into_any(),
            })}
            <pre class="epochs" data-testid="epoch-lines">{move || view.epoch_lines.get().join("\n")}</pre>
            <crate::page::layer_stats_view::LayerStats />
            <crate::page::time_chart::TimeChart />
            <div hidden data-testid="loss-values">{move || view.loss.get().iter().map(|(_, l)| format!("{l:.5}")).collect::<Vec<_>>().join(" ")}</div>
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
