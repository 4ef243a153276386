//! Inside the network: one test image through every layer, each layer's channels drawn as a grid
//! of small grey images (normalised per layer), and the predicted class probabilities.

use std::rc::Rc;

use cnnscope::data::CLASS_NAMES;
use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::Clamped;
use web_sys::ImageData;

use crate::page::bridge::send;
use crate::protocol::{Command, Image, Inspection, LayerOutput};
use crate::page::view::{View, use_view};

/// Channels drawn per layer.
const MAX_CHANNELS: usize = 32;

/// Sends `image` through the network (card 5 shows the answer); `by_user`: the user asked for it,
/// and the live region says the answer (not for the refresh after every epoch). `view` is passed,
/// not looked up: a picture's `onload` runs outside the reactive owner.
fn ask(view: View, image: Image, by_user: bool) {
    view.inspections_asked.update_untracked(|q| q.push_back(by_user));
    view.inspecting.set(true);
    view.explanation.set(None);
    view.inspected.set(Some(image.clone()));
    send(Command::Inspect(image));
}

/// Looks inside the network with test image `index`, as if typed into card 5's "test image #",
/// and takes the focus there (so a keyboard user goes on from the answer): the mistakes gallery
/// calls it.
pub fn inspect_test_image(view: View, index: usize) {
    view.test_image.set(index);
    if view.run.get_untracked() > 0 {
        ask(view, Image::Test(index), true);
    }
    let input = web_sys::window().and_then(|w| w.document()).and_then(|d| d.query_selector("[data-testid=image-index]").ok().flatten());
    if let Some(input) = input.and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok()) {
        let _ = input.focus();
    }
}

#[component]
pub fn FeatureMaps() -> impl IntoView {
    let view = use_view();
    let index = view.test_image;
    // What the user typed or picked that cannot be used is said here, beside the controls: a
    // result still on its way for an earlier image must not replace it.
    let input_error = RwSignal::new(None::<String>);

    let run = move |by_user: bool| {
        if view.run.get_untracked() > 0 {
            ask(view, Image::Test(index.get_untracked()), by_user);
        }
    };
    let classify_own = Callback::new(move |pixels: Vec<u8>| {
        input_error.set(None);
        ask(view, Image::Pixels(pixels), true)
    });
    // Refresh when a run takes over and after every epoch.
    Effect::new(move |_| {
        view.model_changed.track();
        run(false);
    });
    let error = move |e: String| input_error.set(Some(e));
    view! {
        <div class="controls">
            <label>"test image #"
                <input type="text" inputmode="numeric" size="6" prop:value=move || index.get().to_string()
                    data-testid="image-index"
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        match text.trim().parse() {
                            Ok(i) => { input_error.set(None); index.set(i); run(true); }
                            Err(_) => error(format!("«{}» is not an image number: give a whole number from 0", text.trim())),
                        }
                    } />
            </label>
            <button on:click=move |_| {
                let count = view.data.with_untracked(|d| d.as_ref().and_then(|d| d.as_ref().ok()).map(|d| d.test)).unwrap_or(1);
                index.set((js_sys::Math::random() * count as f64) as usize);
                run(true);
            }>"random image"</button>
            <button data-testid="refresh-maps" on:click=move |_| run(true)>"refresh"</button>
            <span class="hint">{move || if view.inspecting.get() { "running the image through the network…" } else { "" }}</span>
        </div>
        <crate::page::drawing::DrawingPad on_image=classify_own on_error=Callback::new(error) />
        {move || input_error.get().map(|e| view! { <p class="error" data-testid="input-error">{e}</p> })}
        {move || match view.inspection.get() {
            None => view! { <p class="hint">"Start training (or load weights) to look inside the network."</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
            Some(Ok(inspection)) => view! {
                {render(inspection)}
                <crate::page::explanation_view::ExplanationView />
            }.into_any(),
        }}
    }
}

fn render(inspection: Inspection) -> impl IntoView {
    let view = use_view();
    let best = inspection.predicted();
    let headline = inspection.headline(None);
    let bars = inspection
        .probs
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let class = if i == best { "bar best" } else { "bar" };
            // A class clicked: why that class for this image.
            let why = move |_| {
                if let Some(image) = view.inspected.get_untracked() {
                    view.explanation.set(None);
                    send(Command::Explain { image, class: i });
                }
            };
            // A button: a click, Enter or Space explains the class.
            view! {
                <button type="button" class="prob" data-class=CLASS_NAMES[i] title="why this class?" on:click=why>
                    <span class="name">{CLASS_NAMES[i]}{if Some(i) == inspection.label { " ✓" } else { "" }}</span>
                    <span class=class style=format!("width: {:.1}%", 100.0 * p) aria-hidden="true"></span>
                    <span class="value">{format!("{:.1}%", 100.0 * p)}</span>
                </button>
            }
        })
        .collect_view();
    let all = Rc::new(inspection.layers);
    let layers = (0..all.len())
        .map(|i| {
            let layers = all.clone();
            let canvas = NodeRef::<Canvas>::new();
            let l = &layers[i];
            let caption = format!("{} · {} · {}", l.name, l.kind, l.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×"));
            let shown = if l.shape.len() == 3 && l.shape[0] > MAX_CHANNELS { format!(" (first {MAX_CHANNELS} channels)") } else { String::new() };
            let described = describe_layer(l);
            // Each layer is drawn in a task of its own: all of them at once, with the worker and
            // a software GPU busy on the other core, made one main-thread task of 80 ms.
            Effect::new(move |_| {
                if let Some(canvas) = canvas.get() {
                    let layers = layers.clone();
                    set_timeout(move || draw_layer(&canvas, &layers[i]), std::time::Duration::ZERO);
                }
            });
            view! {
                <figure class="fmap">
                    <canvas node_ref=canvas class="fmap-canvas" role="img" aria-label=described></canvas>
                    <figcaption>{caption}{shown}</figcaption>
                </figure>
            }
        })
        .collect_view();
    view! {
        <div class="prediction" data-testid="prediction">
            <p>{headline}</p>
            <p class="visually-hidden">"Class probabilities; each is a button that shows why the network might see that class."</p>
            {bars}
        </div>
        <div class="fmaps">{layers}</div>
    }
}

/// A layer's output in words, for the canvas that draws it: what is drawn, the range the grey
/// levels span, and the channels (or units) that respond most to this image.
pub fn describe_layer(layer: &LayerOutput) -> String {
    let dims = layer.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
    let head = format!("{} ({}, {dims})", layer.name, layer.kind);
    let range = |values: &[f32]| values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let mean = |values: &[f32]| values.iter().map(|&v| v as f64).sum::<f64>() / values.len().max(1) as f64;
    match layer.shape.as_slice() {
        [c, h, w] if h * w > 0 => {
            let shown = (*c).min(MAX_CHANNELS);
            let values = &layer.values[..(shown * h * w).min(layer.values.len())];
            let channels: Vec<&[f32]> = values.chunks(h * w).collect();
            if channels.is_empty() {
                return format!("{head}: no values");
            }
            let (lo, hi) = range(values);
            let mut by_mean: Vec<(usize, f64)> = channels.iter().map(|ch| mean(ch)).enumerate().collect();
            by_mean.sort_by(|a, b| b.1.total_cmp(&a.1));
            let strongest = by_mean.iter().take(3).map(|(i, m)| format!("{i} (mean {m:.3})")).collect::<Vec<_>>().join(", ");
            let quiet = channels.iter().filter(|ch| range(ch).1 - range(ch).0 <= 0.0).count();
            let flat = match quiet {
                0 => String::new(),
                1 => "; 1 channel uniform".to_string(),
                n => format!("; {n} channels uniform"),
            };
            format!("{head}: {shown} of {c} channels drawn as {h}×{w} grey images, from black {lo:.3} to white {hi:.3}; strongest channels {strongest}{flat}")
        }
        [n] => {
            let values = &layer.values[..(*n).min(layer.values.len())];
            let (lo, hi) = range(values);
            let top = values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, v)| format!("; largest: unit {i} ({v:.3})")).unwrap_or_default();
            format!("{head}: {n} values drawn as grey squares row by row, from black {lo:.3} to white {hi:.3}, mean {:.3}{top}", mean(values))
        }
        _ => format!("{head}: not drawn"),
    }
}

/// Tiles a layer's channels (or a flat vector as one row) into the canvas, grey levels scaled to
/// the layer's own range.
fn draw_layer(canvas: &web_sys::HtmlCanvasElement, layer: &LayerOutput) {
    let (channels, h, w) = match layer.shape.as_slice() {
        [c, h, w] => ((*c).min(MAX_CHANNELS), *h, *w),
        // A feature vector is drawn as a near-square block, read row by row.
        [n] => {
            let w = (*n as f64).sqrt().ceil() as usize;
            (1, n.div_ceil(w), w)
        }
        _ => return,
    };
    let cols = (channels as f64).sqrt().ceil() as usize;
    let rows = channels.div_ceil(cols);
    let (cw, ch) = (cols * (w + 1) - 1, rows * (h + 1) - 1);
    canvas.set_width(cw as u32);
    canvas.set_height(ch as u32);
    // Display size: small maps scaled up, big ones capped.
    let scale = (160.0 / cw.max(ch) as f64).clamp(1.0, 12.0);
    let _ = AsRef::<web_sys::HtmlElement>::as_ref(canvas).style().set_property("width", &format!("{}px", (cw as f64 * scale).round()));
    let count = (channels * h * w).min(layer.values.len());
    let values = &layer.values[..count];
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = (hi - lo).max(1e-12);
    let mut rgba = vec![255u8; cw * ch * 4];
    for c in 0..channels {
        let (ox, oy) = ((c % cols) * (w + 1), (c / cols) * (h + 1));
        for y in 0..h {
            for x in 0..w {
                let Some(&value) = values.get((c * h + y) * w + x) else { continue };
                let v = ((value - lo) / span * 255.0) as u8;
                let at = ((oy + y) * cw + ox + x) * 4;
                rgba[at..at + 3].copy_from_slice(&[v, v, v]);
            }
        }
    }
    let Some(ctx) = crate::page::canvas::context(canvas) else {
        return;
    };
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), cw as u32, ch as u32) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}
