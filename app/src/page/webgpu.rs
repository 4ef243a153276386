//! Start-up: is there WebGPU at all? (The worker opens the adapter and says which it got.)

use wasm_bindgen::JsValue;

pub fn browser_has_webgpu() -> bool {
    let navigator = web_sys::window().map(|w| JsValue::from(w.navigator()));
    navigator.is_some_and(|n| js_sys::Reflect::get(&n, &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined()))
}

/// How to turn WebGPU on in the browser `user_agent` names, for a page that trains on the CPU
/// engine without it (or found no usable adapter): right for each browser and system.
pub fn advice(user_agent: &str) -> String {
    let linux = user_agent.contains("Linux") && !user_agent.contains("Android");
    let mac = user_agent.contains("Mac OS X") && !user_agent.contains("iPhone") && !user_agent.contains("iPad");
    let windows = user_agent.contains("Windows");
    let text = if user_agent.contains("Firefox/") {
        if windows {
            "Firefox has WebGPU on Windows from version 141: update Firefox, and the graphics driver if the GPU is blocklisted."
        } else if linux {
            "Firefox on Linux keeps WebGPU behind two settings: in about:config set dom.webgpu.enabled and gfx.webgpu.ignore-blocklist to true, then reload (it needs a Vulkan driver)."
        } else if mac {
            "Firefox on macOS has WebGPU from version 145 on Apple silicon; elsewhere set dom.webgpu.enabled to true in about:config, then reload."
        } else {
            "In Firefox, set dom.webgpu.enabled to true in about:config, then reload."
        }
    } else if user_agent.contains("Edg/") || user_agent.contains("Chrome/") || user_agent.contains("Chromium/") {
        if linux {
            "Chrome on Linux needs WebGPU switched on: open chrome://flags/#enable-unsafe-webgpu (or start it with --enable-unsafe-webgpu) with a Vulkan driver installed, then reload."
        } else {
            "Chrome and Edge have WebGPU from version 113: update the browser and the graphics driver; a blocklisted GPU can be allowed at chrome://flags/#enable-unsafe-webgpu."
        }
    } else if user_agent.contains("Safari/") {
        "Safari has WebGPU from version 26; in older versions turn it on under Develop → Feature Flags → WebGPU, then reload."
    } else {
        "WebGPU is in Chrome and Edge 113+, Safari 26+ and Firefox 141+ on Windows."
    };
    format!("To train on your GPU instead: {text}")
}

/// [`advice`] for this browser.
pub fn advice_here() -> String {
    advice(&web_sys::window().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default())
}
