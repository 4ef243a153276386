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
                    <canvas node_ref=saliency_canvas class="fmap-canvas explain-canvas" width=side.to_string() height=side.to_string()></canvas>
                    <figcaption>"saliency: the pixels whose change moves the score most"</figcaption>
                </figure>
                {if x.cam_layer.is_empty() {
                    view! { <p class="hint">"No Grad-CAM: no layer of this network keeps positions (it needs a convolution)."</p> }.into_any()
                } else {
                    view! {
                        <figure class="fmap">
                            <canvas node_ref=cam_canvas class="fmap-canvas explain-canvas" width=side.to_string() height=side.to_string()></canvas>
                            <figcaption>{format!("Grad-CAM on {} ({}×{}): where it looked", x.cam_layer, x.cam_h, x.cam_w)}</figcaption>
                        </figure>
                    }.into_any()
                }}
            </div>
        </div>
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
