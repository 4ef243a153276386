//! Why this prediction (`cnnscope::model::explain`): the image with its saliency map (which
//! pixels move the class score) and with Grad-CAM (where the last convolutional layer looked),
//! for the predicted class or the one the user clicked.

use cnnscope::data::CLASS_NAMES;
use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::Clamped;
use web_sys::ImageData;

use crate::protocol::Explanation;
use crate::page::view::use_view;

#[component]
pub fn ExplanationView() -> impl IntoView {
    let view = use_view();
    move || {
        view.explanation.get().map(|e| match e {
            Err(e) => view! { <p class="error">{e}</p> }.into_any(),
            Ok(x) => render(x).into_any(),
        })
    }
}

fn render(x: Explanation) -> impl IntoView {
    let class = CLASS_NAMES.get(x.class).copied().unwrap_or("?");
    let cam = upsample(&x.cam, x.cam_h, x.cam_w, x.side);
    let (saliency_canvas, cam_canvas) = (NodeRef::<Canvas>::new(), NodeRef::<Canvas>::new());
    let (input, saliency, side) = (x.input.clone(), x.saliency.clone(), x.side);
    let input_for_cam = x.input.clone();
    let (saliency_words, cam_words) = (describe_saliency(&x.saliency, x.side, class), describe_cam(&x, class));
    // Drawn in tasks of their own, as the feature maps.
    Effect::new(move |_| {
        if let Some(c) = saliency_canvas.get() {
            let (input, saliency) = (input.clone(), saliency.clone());
            set_timeout(move || overlay(&c, side, &input, &saliency), std::time::Duration::ZERO);
        }
    });
    Effect::new(move |_| {
        if let Some(c) = cam_canvas.get() {
            let (input, cam) = (input_for_cam.clone(), cam.clone());
            set_timeout(move || overlay(&c, side, &input, &cam), std::time::Duration::ZERO);
        }
    });
    view! {
        <div class="explanation" data-testid="explanation" data-class=class>
            <p>{format!("Why “{class}”: ")}<span class="hint">"click another class above to see why that one"</span></p>
            <div class="fmaps">
                <figure class="fmap">
                    <canvas node_ref=saliency_canvas class="fmap-canvas explain-canvas" width=side.to_string() height=side.to_string() role="img" aria-label=saliency_words></canvas>
                    <figcaption>"saliency: the pixels whose change moves the score most"</figcaption>
                </figure>
                {if x.cam_layer.is_empty() {
                    view! { <p class="hint">"No Grad-CAM: no layer of this network keeps positions (it needs a convolution)."</p> }.into_any()
                } else {
                    view! {
                        <figure class="fmap">
                            <canvas node_ref=cam_canvas class="fmap-canvas explain-canvas" width=side.to_string() height=side.to_string() role="img" aria-label=cam_words.clone()></canvas>
                            <figcaption>{format!("Grad-CAM on {} ({}×{}): where it looked", x.cam_layer, x.cam_h, x.cam_w)}</figcaption>
                        </figure>
                    }.into_any()
                }}
            </div>
        </div>
    }
}

/// The saliency map in words: where it is strongest, and how concentrated it is.
fn describe_saliency(saliency: &[f32], side: usize, class: &str) -> String {
    let total: f64 = saliency.iter().map(|&v| v as f64).sum();
    let Some((at, peak)) = saliency.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
        return format!("saliency for “{class}”: empty");
    };
    let mut sorted: Vec<f32> = saliency.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let tenth = sorted.len().div_ceil(10);
    let share = sorted[..tenth].iter().map(|&v| v as f64).sum::<f64>() / total.max(1e-30);
    format!(
        "saliency for “{class}” over the {side}×{side} input, in red over the image: strongest at row {}, column {} ({peak:.3e}); the top tenth of the pixels holds {:.0}% of it",
        at / side.max(1),
        at % side.max(1),
        100.0 * share
    )
}

/// Grad-CAM in words: every cell of a small map (by rows, scaled to its maximum), or where a
/// large one peaks.
fn describe_cam(x: &Explanation, class: &str) -> String {
    let (h, w) = (x.cam_h, x.cam_w);
    let top = x.cam.iter().fold(0.0f32, |m, &v| m.max(v));
    let head = format!("Grad-CAM on {} ({h}×{w}) for “{class}”, in red over the image", x.cam_layer);
    if top <= 0.0 {
        return format!("{head}: zero everywhere");
    }
    if h * w <= 49 {
        let rows = x.cam.chunks(w.max(1)).map(|row| row.iter().map(|&v| format!("{:.2}", v / top)).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("; ");
        format!("{head}, each cell as a share of the largest, row by row: {rows}")
    } else {
        let at = x.cam.iter().position(|&v| v == top).unwrap_or(0);
        format!("{head}: strongest at row {}, column {}", at / w.max(1), at % w.max(1))
    }
}

/// `map` (h × w) stretched to side × side, bilinear with half-pixel centres.
fn upsample(map: &[f32], h: usize, w: usize, side: usize) -> Vec<f32> {
    let at = |y: usize, x: usize| map.get(y.min(h.saturating_sub(1)) * w + x.min(w.saturating_sub(1))).copied().unwrap_or(0.0);
    let source = |d: usize, n: usize| (((d as f32 + 0.5) * n as f32 / side as f32 - 0.5).max(0.0)).min(n.saturating_sub(1) as f32);
    (0..side * side)
        .map(|i| {
            let (sy, sx) = (source(i / side, h), source(i % side, w));
            let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
            let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1) * fx;
            let bottom = at(y0 + 1, x0) * (1.0 - fx) + at(y0 + 1, x0 + 1) * fx;
            top * (1.0 - fy) + bottom * fy
        })
        .collect()
}

/// The input in grey with `heat` (normalised to its maximum) in red over it.
fn overlay(canvas: &web_sys::HtmlCanvasElement, side: usize, input: &[f32], heat: &[f32]) {
    let top = heat.iter().fold(0.0f32, |m, &v| m.max(v)).max(1e-12);
    let rgba: Vec<u8> = input
        .iter()
        .zip(heat)
        .flat_map(|(&v, &h)| {
            let (grey, a) = (v.clamp(0.0, 1.0) * 255.0, (h / top).clamp(0.0, 1.0));
            [(grey * (1.0 - a) + 255.0 * a) as u8, (grey * (1.0 - a)) as u8, (grey * (1.0 - a)) as u8, 255]
        })
        .collect();
    let Some(ctx) = crate::page::canvas::context(canvas) else { return };
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), side as u32, side as u32) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}
