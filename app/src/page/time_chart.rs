//! Where a training step's time goes, layer by layer: one bar per layer, its forward pass and its
//! backward pass side by side, from a step the worker timed part by part (`Trainer::timed_step`:
//! the run's second step, and whenever asked) with the GPU's timestamps where the adapter offers
//! `timestamp-query`, else by round trips, which the chart's note says. On a software adapter the
//! convolutions' backward passes usually dominate; on a GPU, small layers show the cost of a
//! dispatch.

use leptos::prelude::*;

use crate::protocol::{Clock, Command, LayerTime};
use crate::page::view::use_view;

#[component]
pub fn TimeChart() -> impl IntoView {
    let view = use_view();
    let measure = move |_| crate::page::bridge::send(Command::TimeStep { run: view.run.get_untracked() });
    move || {
        view.timing.get().map(|(step, layers, clock)| {
            let how = match clock {
                Clock::GpuTimestamps => "Timed by the GPU's own clock (timestamp queries) around each part, in one submission.",
                Clock::RoundTrips => "Each part is submitted and waited for on its own (this adapter offers no timestamp queries), so the smallest read high by a submission's round trip.",
                Clock::CpuTasks => "Each part timed as the CPU engine runs it.",
            };
            let total: f64 = layers.iter().map(LayerTime::total).sum();
            let widest = layers.iter().map(LayerTime::total).fold(1e-12, f64::max);
            let bar = |secs: f64, class: &'static str| {
                let width = format!("width: {:.2}%", 100.0 * secs / widest);
                view! { <span class=class style=width></span> }
            };
            let rows = layers
                .into_iter()
                .map(|l| {
                    let share = format!("{:.1} ms · {:.0}%", 1e3 * l.total(), 100.0 * l.total() / total.max(1e-12));
                    let title = if l.other > 0.0 {
                        format!("{}: {:.2} ms", l.name, 1e3 * l.other)
                    } else {
                        format!("{}: forward {:.2} ms, backward {:.2} ms", l.name, 1e3 * l.forward, 1e3 * l.backward)
                    };
                    // The bar's split between forward and backward, for screen readers too.
                    let split = if l.other > 0.0 { String::new() } else { format!(": forward {:.2} ms, backward {:.2} ms", 1e3 * l.forward, 1e3 * l.backward) };
                    view! {
                        <div class="time-row" data-testid="time-row" title=title>
                            <span class="time-name">{l.name.clone()}</span>
                            <span class="time-bar" aria-hidden="true">{bar(l.forward, "fwd")}{bar(l.backward, "bwd")}{bar(l.other, "other")}</span>
                            <span class="time-value">{share}<span class="visually-hidden">{split}</span></span>
                        </div>
                    }
                })
                .collect_view();
            view! {
                <div class="time-chart" data-testid="time-chart">
                    <p>
                        {format!("Where step {step}'s {:.0} ms went, layer by layer: ", 1e3 * total)}
                        <span class="legend fwd">"forward"</span>" "<span class="legend bwd">"backward"</span>" "
                        <button class="small" data-testid="time-step" on:click=measure>"time the next step"</button>
                    </p>
                    {rows}
                    <p class="hint" data-testid="time-clock">{how}</p>
                </div>
            }
        })
    }
}
