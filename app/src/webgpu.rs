//! Start-up: is there WebGPU, and which adapter do we get?

use std::rc::Rc;

use cnnscope::Gpu;
use wasm_bindgen::JsValue;

/// What start-up found.
#[derive(Clone)]
pub enum GpuState {
    Opening,
    Ready(Rc<Gpu>),
    /// The browser has no `navigator.gpu`.
    NoWebGpu,
    /// WebGPU exists but gave no usable adapter or device.
    Failed(String),
}

pub fn browser_has_webgpu() -> bool {
    let navigator = web_sys::window().map(|w| JsValue::from(w.navigator()));
    navigator.is_some_and(|n| js_sys::Reflect::get(&n, &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined()))
}

pub async fn open() -> GpuState {
    if !browser_has_webgpu() {
        return GpuState::NoWebGpu;
    }
    match Gpu::new().await {
        Ok(gpu) => GpuState::Ready(Rc::new(gpu)),
        Err(e) => GpuState::Failed(e.to_string()),
    }
}

/// The limits that decide how big a network and batch can be, as (name, value).
pub fn key_limits(gpu: &Gpu) -> Vec<(&'static str, String)> {
    let l = &gpu.limits;
    let mib = |b: u64| format!("{} MiB", b >> 20);
    vec![
        ("largest buffer binding", mib(gpu.max_binding_bytes())),
        ("largest buffer", mib(l.max_buffer_size)),
        ("workgroup memory", format!("{} KiB", l.max_compute_workgroup_storage_size >> 10)),
        ("invocations per workgroup", l.max_compute_invocations_per_workgroup.to_string()),
        ("storage buffers per shader", l.max_storage_buffers_per_shader_stage.to_string()),
    ]
}
