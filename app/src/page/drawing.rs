//! Your own image: draw on a 28×28 canvas, or pick a picture, which becomes a Fashion-MNIST-like
//! grey image (light object on a dark background) for the network to classify.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

pub const SIDE: u32 = 28;

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    crate::page::canvas::context(canvas)
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

/// Pictures above this many pixels are refused before the browser decodes them (a 20000×20000
/// PNG would take 1.6 GB as RGBA).
const MAX_PICTURE_PIXELS: f64 = 64e6;

/// The side of the canvas a picture is scaled into before its pixels are read: enough detail for
/// 28×28, and a bounded copy whatever the picture's size.
const READ_SIDE: f64 = 256.0;

/// A decoded picture as Fashion-MNIST pixels: drawn scaled into at most READ_SIDE² pixels, then
/// fitted, made grey and inverted if light by the engine (`cnnscope::data::picture`).
fn picture_pixels(image: &web_sys::HtmlImageElement) -> Result<Vec<u8>, String> {
    let (w, h) = (image.natural_width() as f64, image.natural_height() as f64);
    if w * h > MAX_PICTURE_PIXELS {
        return Err(format!("the picture is {w}×{h}, above {} megapixels: scale it down first", MAX_PICTURE_PIXELS / 1e6));
    }
    if w < 1.0 || h < 1.0 {
        return Err(format!("the picture has no pixels ({w}×{h})"));
    }
    let scale = (READ_SIDE / w.max(h)).min(1.0);
    let (dw, dh) = ((w * scale).round().max(1.0), (h * scale).round().max(1.0));
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let scratch: HtmlCanvasElement = document.create_element("canvas").map_err(|e| format!("{e:?}"))?.unchecked_into();
    scratch.set_width(dw as u32);
    scratch.set_height(dh as u32);
    let ctx = context(&scratch).ok_or("no 2D canvas")?;
    ctx.draw_image_with_html_image_element_and_dw_and_dh(image, 0.0, 0.0, dw, dh).map_err(|e| format!("{e:?}"))?;
    let rgba = ctx.get_image_data(0.0, 0.0, dw, dh).map_err(|e| format!("{e:?}"))?.data().0;
    cnnscope::data::picture::fashion_pixels(&rgba, dw as usize, dh as usize).map_err(|e| e.to_string())
}

/// Puts 28×28 grey pixels on the pad.
fn show(canvas: &HtmlCanvasElement, pixels: &[u8]) {
    let rgba: Vec<u8> = pixels.iter().flat_map(|&v| [v, v, v, 255]).collect();
    if let (Some(ctx), Ok(image)) = (context(canvas), web_sys::ImageData::new_with_u8_clamped_array_and_sh(wasm_bindgen::Clamped(&rgba), SIDE, SIDE)) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// A drawing pad; `on_image` gets the pixels when the user asks to classify them (or picks a
/// picture), `on_error` why a picked file could not be used.
#[component]
pub fn DrawingPad(on_image: Callback<Vec<u8>>, on_error: Callback<String>) -> impl IntoView {
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
        input.set_value("");
        let Some(c) = canvas.get_untracked() else { return };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&file) else { return };
        let Ok(image) = web_sys::HtmlImageElement::new() else { return };
        let name = file.name();
        let loaded = image.clone();
        let revoke = url.clone();
        let onload = Closure::once_into_js(move || {
            let _ = web_sys::Url::revoke_object_url(&revoke);
            match picture_pixels(&loaded) {
                Ok(p) => {
                    show(&c, &p);
                    on_image.run(p);
                }
                Err(e) => on_error.run(format!("{name}: {e}")),
            }
        });
        let name = file.name();
        let failed_url = url.clone();
        let onerror = Closure::once_into_js(move || {
            let _ = web_sys::Url::revoke_object_url(&failed_url);
            on_error.run(format!("{name}: this browser cannot decode it as a picture; pick a PNG, JPEG, GIF or WebP image"));
        });
        // Set before the picture can finish loading: JavaScript runs no event until we return.
        image.set_onload(Some(onload.unchecked_ref()));
        image.set_onerror(Some(onerror.unchecked_ref()));
        image.set_src(&url);
    };
    view! {
        <div class="drawing">
            // Freehand drawing is a path of movement (WCAG 2.1.1's exception): from the keyboard,
            // pick a picture or a test image instead.
            <canvas node_ref=canvas class="pad" data-testid="drawing-pad" width=SIDE.to_string() height=SIDE.to_string() role="img"
                aria-label="drawing pad, 28×28 pixels: draw with a mouse, pen or finger, then “classify drawing”; from the keyboard, pick a picture or a test image instead"
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
