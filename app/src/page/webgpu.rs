//! Start-up: is there WebGPU at all? (The worker opens the adapter and says which it got.)

use wasm_bindgen::JsValue;

pub fn browser_has_webgpu() -> bool {
    let navigator = web_sys::window().map(|w| JsValue::from(w.navigator()));
    navigator.is_some_and(|n| js_sys::Reflect::get(&n, &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined()))
}
