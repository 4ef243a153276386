//! Your own image: draw on a 28×28 canvas, or pick a picture, which becomes a Fashion-MNIST-like
//! grey image (light object on a dark background) for the network to classify.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

pub const SIDE: u32 = 28;

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into().ok())
}

fn clear(canvas: &HtmlCanvasElement) {
    if let Some(ctx) = context(canvas) {
        ctx.set_fill_style_str("black");
        ctx.fill_rect(0.0, 0.0, SIDE as f64, SIDE as f64);
    }
}

/// The canvas as 28×28 grey pixels (the red channel; the canvas is grey anyway).
pub fn pixels(canvas: &HtmlCanvasElement) -> Option<Vec<u8>> {
    let data = context(canvas)?.get_image_data(0.0, 0.0, SIDE as f64, SIDE as f64).ok()?.data();
    Some(data.chunks_exact(4).map(|p| p[0]).collect())
}

/// A drawing pad; `on_image` gets the pixels when the user asks to classify them.
#[component]
pub fn DrawingPad(on_image: Callback<Vec<u8>>) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let drawing = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(c) = canvas.get() {
            clear(&c);
        }
    });
    let paint = move |ev: leptos::ev::PointerEvent| {
        if !drawing.get_untracked() {
            return;
        }
        let Some(c) = canvas.get_untracked() else { return };
        let rect = c.get_bounding_client_rect();
        let x = (ev.client_x() as f64 - rect.left()) / rect.width() * SIDE as f64;
        let y = (ev.client_y() as f64 - rect.top()) / rect.height() * SIDE as f64;
        if let Some(ctx) = context(&c) {
            ctx.set_fill_style_str("white");
            ctx.begin_path();
            let _ = ctx.arc(x, y, 1.4, 0.0, std::f64::consts::TAU);
            ctx.fill();
        }
    };
    let classify = move || {
        if let Some(p) = canvas.get_untracked().and_then(|c| pixels(&c)) {
            on_image.run(p);
        }
    };
    let pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        let Some(c) = canvas.get_untracked() else { return };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&file) else { return };
        let Ok(image) = web_sys::HtmlImageElement::new() else { return };
        let loaded = image.clone();
        image.set_src(&url);
        let onload = Closure::once_into_js(move || {
            let Some(ctx) = context(&c) else { return };
            clear(&c);
            // Fit the picture into the square, keeping its aspect ratio.
            let (w, h) = (loaded.natural_width() as f64, loaded.natural_height() as f64);
            let scale = SIDE as f64 / w.max(h);
            let (dw, dh) = (w * scale, h * scale);
            let _ = ctx.draw_image_with_html_image_element_and_dw_and_dh(&loaded, (SIDE as f64 - dw) / 2.0, (SIDE as f64 - dh) / 2.0, dw, dh);
            let _ = web_sys::Url::revoke_object_url(&url);
            if let Some(image) = ctx.get_image_data(0.0, 0.0, SIDE as f64, SIDE as f64).ok() {
                let mut data = image.data().0;
                // Grey, and inverted when the background is light: Fashion-MNIST is light on dark.
                let grey: Vec<u8> = data.chunks_exact(4).map(|p| ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000) as u8).collect();
                let border: Vec<u8> = (0..SIDE as usize).flat_map(|i| [grey[i], grey[(SIDE as usize - 1) * SIDE as usize + i]]).collect();
                let light = border.iter().map(|&v| v as u32).sum::<u32>() / border.len() as u32 > 127;
                for (px, g) in data.chunks_exact_mut(4).zip(grey) {
                    let v = if light { 255 - g } else { g };
                    px.copy_from_slice(&[v, v, v, 255]);
                }
                if let Ok(out) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(wasm_bindgen::Clamped(&data), SIDE, SIDE) {
                    let _ = ctx.put_image_data(&out, 0.0, 0.0);
                }
            }
            if let Some(p) = pixels(&c) {
                on_image.run(p);
            }
        });
        // Set before the picture can finish loading: JavaScript runs no event until we return.
        image.set_onload(Some(onload.unchecked_ref()));
    };
    view! {
        <div class="drawing">
            <canvas node_ref=canvas class="pad" data-testid="drawing-pad" width=SIDE.to_string() height=SIDE.to_string()
                on:pointerdown=move |ev| { drawing.set(true); paint(ev); }
                on:pointermove=paint
                on:pointerup=move |_| { drawing.set(false); classify(); }
                on:pointerleave=move |_| drawing.set(false)></canvas>
            <div class="controls">
                <button on:click=move |_| { if let Some(c) = canvas.get_untracked() { clear(&c); } }>"clear"</button>
                <button data-testid="classify-drawing" on:click=move |_| classify()>"classify drawing"</button>
                <label class="file">"or a picture" <input type="file" accept="image/*" on:change=pick /></label>
            </div>
        </div>
    }
}
