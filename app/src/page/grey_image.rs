//! A Fashion-MNIST image drawn as the dataset's pages show it: dark garment on a light ground.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::Clamped;

/// `pixels` (rows × cols grey values, light object on dark) on a canvas, inverted for display;
/// `label` says what it shows (its text alternative).
#[component]
pub fn GreyImage(pixels: Vec<u8>, rows: usize, cols: usize, #[prop(into)] label: String) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let Some(canvas) = canvas.get() else { return };
        let rgba: Vec<u8> = pixels.iter().flat_map(|&p| [255 - p, 255 - p, 255 - p, 255]).collect();
        let ctx = crate::page::canvas::context(&canvas);
        if let (Some(ctx), Ok(image)) = (ctx, web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), cols as u32, rows as u32)) {
            let _ = ctx.put_image_data(&image, 0.0, 0.0);
        }
    });
    view! { <canvas node_ref=canvas width=cols.to_string() height=rows.to_string() role="img" aria-label=label></canvas> }
}
