//! Why the network learns or doesn't, layer by layer (`cnnscope::train::layer_stats`): the
//! latest statistics as a table, the share of dead ReLU units as a layer × time heatmap, and the
//! engine's hints in plain language.

use leptos::html::Canvas;
use leptos::prelude::*;

use crate::protocol::LayerHistory;
use crate::page::view::use_view;

#[component]
pub fn LayerStats() -> impl IntoView {
    let view = use_view();
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let history = view.layers.get();
        if let Some(canvas) = canvas.get() {
            draw_heatmap(&canvas, &history);
        }
    });
    let table = move || {
        view.layers.with(|h| {
            h.latest.as_ref().map(|(step, layers)| {
                let rows = layers
                    .iter()
                    .map(|l| {
                        let dead = l.dead.map(|d| format!("{:.1}%", 100.0 * d)).unwrap_or_else(|| "—".into());
                        view! {
                            <tr>
                                <td>{l.name.clone()}</td>
                                <td class="num">{format!("{:.4}", l.mean)}</td>
                                <td class="num">{format!("{:.4}", l.std)}</td>
                                <td class="num">{dead}</td>
                                <td class="num">{format!("{:.2e}", l.grad_norm)}</td>
                                <td class="num">{format!("{:.2e}", l.update_ratio)}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <p class="hint">{format!("Layer by layer after step {step}: the output's mean and spread, ReLU units off for every image of the batch, the gradient's size, and how far the step moved the weights (about 1e-3 of their size is healthy).")}</p>
                    <div class="scroll" tabindex="0" role="region" aria-label="per-layer statistics"><table class="layers" data-testid="layer-stats">
                        <thead><tr><th scope="col">"layer"</th><th scope="col">"mean"</th><th scope="col">"std"</th><th scope="col">"dead"</th><th scope="col">"‖gradient‖"</th><th scope="col">"update / weight"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table></div>
                }
            })
        })
    };
    view! {
        <div class="layer-stats">
            {move || view.layers.with(|h| h.hints.clone()).into_iter().map(|h| view! { <p class="error" data-testid="layer-hint">{h}</p> }).collect_view()}
            {table}
            <figure class="chart" hidden=move || view.layers.with(LayerHistory::is_empty)>
                <figcaption>"dead ReLU units, layer by layer (rows) over the run (columns): white none, red all"</figcaption>
                <canvas node_ref=canvas width="440" height="160" data-testid="dead-heatmap" role="img"
                    aria-label=move || view.layers.with(describe_heatmap)></canvas>
            </figure>
        </div>
    }
}

/// The heatmap in words: each layer's dead share at the first and the latest snapshot.
fn describe_heatmap(history: &LayerHistory) -> String {
    let names = history.relu_layers();
    let (Some((first_step, first)), Some((last_step, last))) = (history.dead.first(), history.dead.last()) else {
        return "dead ReLU units: none measured yet".to_string();
    };
    let layers = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let share = |v: &[f32]| v.get(i).map(|d| format!("{:.1}%", 100.0 * d)).unwrap_or_else(|| "—".into());
            format!("{name} {} → {}", share(first), share(last))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("dead ReLU units over {} snapshots, step {first_step} → step {last_step}: {layers}", history.dead.len())
}

/// Rows: the layers with a ReLU, top first; columns: the snapshots; colour: the dead share.
fn draw_heatmap(canvas: &web_sys::HtmlCanvasElement, history: &LayerHistory) {
    let Some(ctx) = crate::page::canvas::context(canvas) else {
        return;
    };
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    ctx.clear_rect(0.0, 0.0, w, h);
    let names = history.relu_layers();
    if names.is_empty() || history.dead.is_empty() {
        return;
    }
    let left = 56.0;
    let (cell_w, cell_h) = ((w - left) / history.dead.len() as f64, h / names.len() as f64);
    ctx.set_font("10px system-ui, sans-serif");
    for (row, name) in names.iter().enumerate() {
        ctx.set_fill_style_str("#5b6475");
        let _ = ctx.fill_text(name, 2.0, row as f64 * cell_h + cell_h / 2.0 + 3.0);
        for (col, (_, dead)) in history.dead.iter().enumerate() {
            let dead = dead.get(row).copied().unwrap_or(0.0) as f64;
            let fade = (255.0 * (1.0 - dead)).round() as u8;
            ctx.set_fill_style_str(&format!("rgb(255, {fade}, {fade})"));
            ctx.fill_rect(left + col as f64 * cell_w, row as f64 * cell_h, cell_w.ceil(), cell_h - 1.0);
        }
    }
}
