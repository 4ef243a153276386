//! Card 7: parameters, FLOPs per image, speed and accuracy of each network as configured by its
//! latest run (or its default recipe): does GoogLeNet get similar accuracy for less compute?

use cnnscope::net::{Arch, Summary};
use leptos::prelude::*;

use crate::page::charts::{AccuracyAgainstFlops, Dot};
use crate::setup::Setup;
use crate::page::view::use_view;

/// Each network's colour in the accuracy-against-compute picture.
fn color(arch: &Arch) -> &'static str {
    match arch {
        Arch::AlexNet => "#d9480f",
        Arch::Vgg11 => "#1c7ed6",
        Arch::Nin => "#2b8a3e",
        Arch::GoogLeNet => "#7048e8",
        Arch::Own(_) => "#495057",
    }
}

#[component]
pub fn Compare() -> impl IntoView {
    let view = use_view();
    let dots = Signal::derive(move || {
        view.finished
            .get()
            .iter()
            .filter_map(|(setup, accuracy)| {
                let summary = Summary::new(&setup.net().ok()?).ok()?;
                let augmented = if setup.augment { ", augmented" } else { "" };
                let label = format!("{} ÷{} ({} params{augmented})", setup.arch, setup.ratio, cnnscope::net::summary::si(summary.params as f64).replace(' ', ""));
                Some(Dot { label, color: color(&setup.arch), flops: summary.flops as f64, accuracy: *accuracy })
            })
            .collect::<Vec<_>>()
    });
    let table = move || {
        let runs = view.compared.get();
        // The four nets, then each own network that finished an epoch.
        let own = runs.iter().filter(|(s, _, _)| matches!(s.arch, Arch::Own(_))).map(|(s, _, _)| s.arch.clone());
        let rows = Arch::ALL
            .into_iter()
            .chain(own)
            .map(|arch| {
                let run = runs.iter().find(|(s, _, _)| s.arch == arch);
                let setup = run.map(|r| r.0.clone()).unwrap_or_else(|| Setup::for_net(arch.clone()));
                let summary = setup.net().ok().and_then(|n| Summary::new(&n).ok());
                let (params, flops) = summary.map(|s| (cnnscope::net::summary::grouped(s.params), cnnscope::net::summary::si(s.flops as f64))).unwrap_or_default();
                let (rate, acc) = run.map(|r| (format!("{:.1}", r.1), format!("{:.3}", r.2))).unwrap_or(("—".into(), "—".into()));
                view! {
                    <tr>
                        <td>{arch.to_string()}</td>
                        <td>{format!("÷{} · {}×{} · batch {}{}", setup.ratio, setup.side, setup.side, setup.batch, if setup.augment { " · augmented" } else { "" })}</td>
                        <td class="num">{params}</td>
                        <td class="num">{flops}</td>
                        <td class="num">{rate}</td>
                        <td class="num">{acc}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="scroll" tabindex="0" role="region" aria-label="the four networks compared"><table class="layers compare" data-testid="compare-table">
                <thead><tr><th scope="col">"network"</th><th scope="col">"configuration"</th><th scope="col">"parameters"</th><th scope="col">"FLOPs per image"</th><th scope="col">"images/s"</th><th scope="col">"test accuracy"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
            <p class="hint">"Train each network for at least one epoch to fill in its speed and accuracy (the latest run of each counts)."</p>
        }
    };
    view! {
        {table}
        <AccuracyAgainstFlops dots=dots />
    }
}
