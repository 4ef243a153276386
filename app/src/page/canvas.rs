//! Every 2D canvas of the page, drawn on the CPU (`willReadFrequently`): a GPU-raster canvas
//! waits on the browser's GPU process, which is busy with training (with SwiftShader, on the very
//! cores that run the page), and made main-thread tasks of 70–80 ms that had 15 ms of script.

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

pub fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"willReadFrequently".into(), &true.into()).ok()?;
    canvas.get_context_with_context_options("2d", &options).ok().flatten()?.dyn_into().ok()
}
