//! The page: adapter, data, network, training, inside the network, results, comparison, kept
//! runs — top to bottom, one component per card. The engine runs in a Web Worker (`bridge`).

use leptos::prelude::*;

use crate::protocol::Adapter;
use crate::page::view::View;

#[component]
pub fn App() -> impl IntoView {
    let has_webgpu = crate::page::webgpu::browser_has_webgpu();
    let view = View::new();
    provide_context(view);
    follow_the_address(view);
    // Without WebGPU the CPU engine trains: the worker is started either way.
    crate::page::bridge::spawn(view);
    let choice = crate::page::share::device_choice(&crate::page::share::current_search()).unwrap_or_else(|e| {
        view.link_error.set(Some(e));
        cnnscope::Choice::Auto
    });
    crate::page::bridge::send(crate::protocol::Command::OpenEngine { choice, webgpu: has_webgpu });
    keep_when_leaving(view);
    crate::page::data_card::load_from_server();
    let opened = Memo::new(move |_| view.adapter.with(|a| a.as_ref().map(|r| r.as_ref().map(|_| ()).map_err(Clone::clone))));
    view! {
        <header>
            <h1>"cnnscope"</h1>
            <p class="tagline">"Train AlexNet, VGG-11, NiN and GoogLeNet on Fashion-MNIST on your GPU, and look inside every layer."</p>
        </header>
        <main>
        // The page's one live region: state changes and results, said politely (`View::announce`),
        // never a step's progress. In place from the start, so screen readers follow it.
        <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">{move || view.announcement.get()}</div>
        // Keyed on whether an engine is open, not on which: switching engine updates the cards
        // in place instead of mounting them again.
        {move || match opened.get() {
            None => view! { <p class="hint">"Opening the engine…"</p> }.into_any(),
            Some(Err(e)) => view! {
                <section class="card error" data-testid="gpu-error">
                    <h2>"This browser has WebGPU, but it offered no usable GPU"</h2>
                    <p>"The GPU may be blocklisted or WebGPU switched off. " {crate::page::webgpu::advice_here()}</p>
                    <details><summary>"details"</summary><p class="hint">{e}</p></details>
                </section>
            }.into_any(),
            Some(Ok(())) => view! { <Workbench has_webgpu=has_webgpu /> }.into_any(),
        }}
        </main>
    }
}

/// The knobs start from the address's setup (`share`), and the address follows the knobs, so a
/// link or a reload reproduces them.
fn follow_the_address(view: View) {
    match crate::page::share::setup_from_query(&crate::page::share::current_search()) {
        Ok(Some(setup)) => view.setup.set(setup),
        Ok(None) => {}
        Err(e) => view.link_error.set(Some(e)),
    }
    Effect::new(move |_| {
        let query = crate::page::share::query_with(&crate::page::share::current_search(), &view.setup.get());
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
        }
    });
}

/// The cards, each mounted in a task of its own: all eight at once took one 60–110 ms task in
/// the e2e's Chromium (a frame and any input wait for it), one at a time none over 50 ms.
#[component]
fn Workbench(has_webgpu: bool) -> impl IntoView {
    // The knobs' network, built once, and the engine's one fit check of it, for the network card
    // and the start button.
    let view = expect_context::<View>();
    let network = crate::page::network_card::network();
    let capacity = Memo::new(move |_| view.adapter.with(|a| a.as_ref().and_then(|r| r.as_ref().ok()).map(|a| a.capacity)));
    let fit = crate::page::network_card::fit(capacity, network);
    let mounted = RwSignal::new(1usize);
    Effect::new(move |_| {
        let n = mounted.get();
        if n < 8 {
            leptos::prelude::set_timeout(move || mounted.set(n + 1), std::time::Duration::ZERO);
        }
    });
    let after = move |k: usize| move || mounted.get() > k;
    view! {
        {move || view.adapter.get().and_then(Result::ok).map(|adapter| view! { <AdapterCard adapter=adapter has_webgpu=has_webgpu /> })}
        <Show when=after(1)><crate::page::data_card::DataCard /></Show>
        <Show when=after(2)><crate::page::network_card::NetworkCard network=network fit=fit /></Show>
        <Show when=after(3)><crate::page::training_card::TrainingCard fit=fit /></Show>
        <Show when=after(4)>
            <section class="card" data-testid="inside">
                <h2>"5 · Inside the network"</h2>
                <crate::page::feature_maps::FeatureMaps />
            </section>
        </Show>
        <Show when=after(5)>
            <section class="card" data-testid="results">
                <h2>"6 · Results"</h2>
                <crate::page::results::Results />
            </section>
        </Show>
        <Show when=after(6)>
            <section class="card" data-testid="compare">
                <h2>"7 · The four networks compared"</h2>
                <crate::page::compare::Compare />
            </section>
        </Show>
        // Last on the page: the list grows as runs are kept, and nothing below it moves.
        <Show when=after(7)>
            <section class="card" data-testid="kept">
                <h2>"8 · Runs kept in this browser"</h2>
                <crate::page::saved_runs::SavedRuns />
            </section>
        </Show>
    }
}

/// Card 1: the engine that runs and why, the switch between engines, and the adapter's limits.
#[component]
fn AdapterCard(adapter: Adapter, has_webgpu: bool) -> impl IntoView {
    use cnnscope::Choice;
    let switch = move |ev: leptos::ev::Event| {
        let Ok(choice) = event_target_value(&ev).parse::<Choice>() else { return };
        let query = crate::page::share::query_with_device(&crate::page::share::current_search(), choice);
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
        }
        crate::page::bridge::send(crate::protocol::Command::OpenEngine { choice, webgpu: has_webgpu });
    };
    let chosen = adapter.choice.name();
    let option = move |value: &'static str, label: &'static str, enabled: bool| {
        view! { <option value=value selected=value == chosen disabled=!enabled>{label}</option> }
    };
    view! {
        <section class="card" data-testid="adapter">
            <h2>"1 · Engine"</h2>
            <p data-testid="engine" data-engine=adapter.engine.clone()>
                <strong>{if adapter.engine == "cpu" { "CPU engine" } else { "WGSL engine on WebGPU" }}</strong>
                ": " {adapter.reason.clone()}
            </p>
            // Where there is no WebGPU, or no adapter that is a GPU: how to get one, for this browser.
            {(adapter.engine == "cpu" && (!has_webgpu || adapter.reason.starts_with("no usable GPU adapter")))
                .then(|| view! { <p class="hint" data-testid="webgpu-advice">{crate::page::webgpu::advice_here()}</p> })}
            <label>"engine "
                <select data-testid="engine-choice" on:change=switch>
                    {option("auto", "auto: the GPU where it is one, else the CPU", true)}
                    {option("gpu", "WGSL kernels on WebGPU", has_webgpu)}
                    {option("cpu", "CPU engine", true)}
                </select>
            </label>
            <p class="adapter-name">
                {if adapter.name.is_empty() { "WebGPU adapter".to_string() } else { adapter.name.clone() }}
                <span class="tag">{adapter.device_type.clone()}</span>
                <span class="tag">{adapter.backend.clone()}</span>
                {adapter.software.then(|| view! { <span class="tag warn" data-testid="software-tag">"software / fallback adapter: slow"</span> })}
            </p>
            {(!adapter.driver.is_empty()).then(|| view! { <p class="hint">{adapter.driver.clone()}</p> })}
            <dl class="limits">
                {adapter.limits.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            </dl>
            {has_webgpu.then(|| view! { <SelfCheck/> })}
        </section>
    }
}

/// The adapter's self-check (`cnnscope::check`): a button that runs it, its progress, its verdict,
/// and the whole report to copy into a bug report. No GPU in any test machine has run these
/// kernels; this is how a user's GPU shows it runs them right.
#[component]
fn SelfCheck() -> impl IntoView {
    let view = crate::page::view::use_view();
    let run = move |_| {
        view.check.set(None);
        view.checking.set(Some((0, 0)));
        crate::page::bridge::send(crate::protocol::Command::CheckAdapter);
    };
    view! {
        <div class="self-check">
            <button data-testid="check-adapter" disabled=move || view.checking.get().is_some() on:click=run>
                "check this GPU's kernels against the CPU engine"
            </button>
            {move || view.checking.get().map(|(done, total)| view! {
                <span class="hint" data-testid="check-progress">{format!(" checking: {done} of {total}")}</span>
            })}
            {move || view.check.get().map(|check| match check {
                Ok(c) => view! {
                    <p class=if c.passed { "hint" } else { "error" } data-testid="check-verdict">{c.verdict}</p>
                    <details data-testid="check-report">
                        <summary>"the report, case by case (copy it into a bug report)"</summary>
                        <pre tabindex="0">{c.report}</pre>
                    </details>
                }.into_any(),
                Err(e) => view! { <p class="error" data-testid="check-verdict">{e}</p> }.into_any(),
            })}
        </div>
    }
}

/// A reload or a closed tab loses seconds, not minutes: a training run is kept every few seconds
/// anyway (the worker's `session`), and at once when the page is hidden — the last moment a worker
/// is sure to still run (a closed lid, another tab, a phone's other app). While a run trains, the
/// browser asks before the page is closed or reloaded, as document editors do.
fn keep_when_leaving(view: View) {
    let hidden = || web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden());
    // A dropped handle leaves its listener in place: both stay for the page's whole life.
    let _ = window_event_listener_untyped("visibilitychange", move |_| {
        if hidden() {
            crate::page::bridge::send(crate::protocol::Command::Keep);
        }
    });
    let _ = window_event_listener(leptos::ev::beforeunload, move |ev| {
        if view.status.get_untracked() == crate::protocol::Status::Running {
            crate::page::bridge::send(crate::protocol::Command::Keep);
            ev.prevent_default();
            ev.set_return_value("");
        }
    });
}
