//! Card 3: the network and its knobs, the layer table, and whether it fits the adapter.

use cnnscope::EngineError;
use cnnscope::net::{Arch, Net, Summary, minimum_side};
use leptos::prelude::*;

use crate::page::design_editor::DesignEditor;
use crate::page::layer_table::LayerTable;
use crate::protocol::Status;
use crate::setup::{Fit, KNOBS, Knob, Setup};
use crate::page::view::use_view;

/// The knobs' network, built once each time the network's knobs change: the layer table, the
/// design editor and the fit check all read this one. (A design with a mistake also searches
/// every side for the one it needs, 13 ms natively: built once per keystroke, not five times.)
pub fn network() -> Memo<Result<Net, EngineError>> {
    let setup = use_view().setup;
    let config = Memo::new(move |_| setup.with(Setup::config));
    Memo::new(move |_| Net::new(config.get()))
}

/// The engine's checks of the knobs' setup against what the engine lets a run take (`capacity`)
/// bytes: the memory it takes, or why it cannot train.
/// (`capacity` follows the engine: switching engine re-checks.)
pub fn fit(capacity: Memo<Option<cnnscope::engine::device::Capacity>>, network: Memo<Result<Net, EngineError>>) -> Memo<Result<Fit, String>> {
    let setup = use_view().setup;
    Memo::new(move |_| {
        network.with(|built| {
            let net = built.as_ref().map_err(ToString::to_string)?;
            let capacity = capacity.get().ok_or("the engine is not open")?;
            setup.with(|s| crate::setup::check_net(capacity, net, s))
        })
    })
}

#[component]
pub fn NetworkCard(network: Memo<Result<Net, EngineError>>, fit: Memo<Result<Fit, String>>) -> impl IntoView {
    let view = use_view();
    let setup = view.setup;
    view! {
        <section class="card" data-testid="model">
            <h2>"3 · Network"</h2>
            <SetupForm />
            {move || view.link_error.get().map(|e| view! { <p class="error" data-testid="link-error">{e}</p> })}
            <Show when=move || setup.with(|s| matches!(s.arch, Arch::Own(_)))>
                <DesignEditor network=network />
            </Show>
            {move || {
                let s = setup.get();
                network.with(|built| match built.as_ref().map_err(ToString::to_string).and_then(|net| Summary::new(net).map_err(|e| e.to_string())) {
                    Ok(summary) => {
                        let fit = fit.get();
                        let memory = fit.as_ref().map(|fit| format!(" · {}", fit.describe())).unwrap_or_default();
                        view! {
                            <p class="summary-line" data-testid="summary-line">{format!("{} · {} parameters · {:.1} MFLOPs per image{memory}",
                                summary.title, cnnscope::net::summary::grouped(summary.params), summary.flops as f64 / 1e6)}</p>
                            {fit.err().map(|w| view! { <p class="error" data-testid="fit-warning">{w}</p> })}
                            <LayerTable summary=summary />
                        }.into_any()
                    }
                    // A design's mistake is shown at its line, in the editor; the table shows the
                    // modules before it.
                    Err(_) if crate::page::design_editor::mistake(&s, built).is_some() => crate::page::design_editor::fitting_summary(&s)
                        .filter(|summary| !summary.rows.is_empty())
                        .map(|summary| view! {
                            <p class="hint" data-testid="fitting">"The modules before the mistake:"</p>
                            <LayerTable summary=summary />
                        })
                        .into_any(),
                    Err(e) => view! { <p class="error" data-testid="config-error">{e}</p> }.into_any(),
                })
            }}
        </section>
    }
}

/// The knobs: network, width, side, batch, optimiser, learning rate, epochs, seed.
#[component]
fn SetupForm() -> impl IntoView {
    let view = use_view();
    let setup = view.setup;
    let disabled = Signal::derive(move || view.running());
    let paused = move || view.status.get() == Status::Paused;
    // A learning rate set while the run is paused applies to it when it resumes (the way on from
    // a diverged run's kept checkpoint); the worker says so.
    Effect::new(move |_| {
        let lr = setup.with(|s| s.lr);
        if view.status.get_untracked() == Status::Paused {
            crate::page::bridge::send(crate::protocol::Command::SetLr { lr });
        }
    });
    // Each knob parses its text; what it cannot use is said beside it and the setup keeps its
    // last good value (the whole setup is then checked by the engine above the layer table).
    // During a run the knobs are locked, except the learning rate while it is paused.
    let knob = move |knob: &'static Knob| {
        let error = RwSignal::new(None::<String>);
        let locked = move || disabled.get() && !(knob.key == "lr" && paused());
        view! {
            <label>{knob.label}
                <input type="text" inputmode="decimal" size="6" data-knob=knob.label disabled=locked prop:value=move || (knob.get)(&setup.get())
                    on:change=move |ev| {
                        let mut s = setup.get_untracked();
                        match (knob.set)(&mut s, &event_target_value(&ev)) {
                            Ok(()) => { error.set(None); setup.set(s); }
                            Err(e) => error.set(Some(e)),
                        }
                    } />
                {move || error.get().map(|e| view! { <span class="knob-error" data-testid="knob-error">{e}</span> })}
            </label>
        }
    };
    let [ratio, side, batch, lr, epochs, seed] = &KNOBS;
    view! {
        <div class="controls setup">
            <label>"network"
                // "Own network" opens the current net as a design to edit, knobs kept.
                <select data-testid="net" disabled=disabled on:change=move |ev| {
                    match event_target_value(&ev).parse::<Arch>() {
                        Ok(arch) => setup.set(Setup::for_net(arch)),
                        Err(_) => setup.update(|s| *s = s.clone().as_own()),
                    }
                }>
                    {Arch::ALL.into_iter().map(|a| {
                        let (id, name) = (a.id(), a.to_string());
                        view! { <option value=id selected=move || setup.with(|s| s.arch == a)>{name}</option> }
                    }).collect_view()}
                    <option value="own" selected=move || setup.with(|s| matches!(s.arch, Arch::Own(_)))>"Own network"</option>
                </select>
            </label>
            {knob(ratio)}
            {knob(side)}
            {knob(batch)}
            <label>"optimiser"
                <select disabled=disabled on:change=move |ev| { let adam = event_target_value(&ev) == "adam"; setup.update(|s| s.adam = adam); }>
                    <option value="adam" selected=move || setup.get().adam>"Adam"</option>
                    <option value="sgd" selected=move || !setup.get().adam>"SGD"</option>
                </select>
            </label>
            {knob(lr)}
            {knob(epochs)}
            {knob(seed)}
            // AlexNet's fourth idea: see the gap between train and test accuracy shrink.
            <label class="check" title="flip, crop and jitter each training image (AlexNet's augmentation)">
                <input type="checkbox" data-testid="augment" disabled=disabled prop:checked=move || setup.get().augment
                    on:change=move |ev| { let on = event_target_checked(&ev); setup.update(|s| s.augment = on); } />
                "augment"
            </label>
        </div>
        <p class="hint">{move || {
            let s = setup.get();
            match (&s.arch, minimum_side(&s.config())) {
                (Arch::Own(_), usize::MAX) => String::new(),
                (Arch::Own(_), min) => format!("This design admits sides from {min} up. "),
                (arch, min) => format!("{arch} admits sides from {min} up; width ÷1 is the paper's network. "),
            }
        }}
            // The address holds the setup (`share`): this link is it, to copy or bookmark.
            <a data-testid="share-link" href=move || setup.with(|s| crate::page::share::query_with(&crate::page::share::current_search(), s))>"link to this setup"</a>
        </p>
    }
}
