//! cnnscope in the browser: pick one of the four classic CNNs, train it on Fashion-MNIST on your
//! GPU through WebGPU, and watch every layer. A library so its logic is testable in the browser
//! (`wasm-pack test`, tests/browser.rs); `main.rs` only mounts the page.

pub mod app;
pub mod charts;
pub mod dataset;
pub mod drawing;
pub mod feature_maps;
pub mod grey_image;
pub mod layer_table;
pub mod results;
pub mod runs;
pub mod saved_runs;
pub mod session;
pub mod setup;
pub mod webgpu;
pub mod weights_io;

/// A JavaScript error (an exception or a rejected promise) as text, after `what` failed.
pub(crate) fn js_error(what: &str, e: wasm_bindgen::JsValue) -> String {
    let detail = e.as_string().or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()));
    format!("{what}: {}", detail.unwrap_or_else(|| format!("{e:?}")))
}

/// Mounts the app on the page's body.
pub fn start() {
    // A panic is a defect in cnnscope: say so on the page (never a blank or frozen page), with
    // the message to report, and in the console.
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("cnnscope {message}").into());
        crash_notice(&message);
    }));
    leptos::mount::mount_to_body(app::App);
}

/// Panics on purpose: the end-to-end test calls it (`wasmBindings.crash_test()`) to see that a
/// bug shows its notice instead of a blank page. Nothing in the page calls it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn crash_test() {
    panic!("crash_test() was called: this is what a bug in cnnscope looks like");
}

thread_local! {
    /// The device the page trains on, for `lose_device_test`.
    static CURRENT_GPU: std::cell::RefCell<Option<std::rc::Rc<cnnscope::Gpu>>> = const { std::cell::RefCell::new(None) };
}

/// Records the device the page trains on (the workbench calls it whenever it opens one).
pub fn set_current_gpu(gpu: std::rc::Rc<cnnscope::Gpu>) {
    CURRENT_GPU.with(|g| *g.borrow_mut() = Some(gpu));
}

/// Destroys the page's GPU device, as a driver reset or the OS's watchdog would: the end-to-end
/// test calls it (`wasmBindings.lose_device_test()`) mid-run to see the run survive. Nothing in
/// the page calls it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn lose_device_test() {
    CURRENT_GPU.with(|g| {
        if let Some(gpu) = g.borrow().as_ref() {
            gpu.destroy();
        }
    });
}

/// Puts a notice at the top of the page: what happened, that the page must be reloaded, and how
/// to report it. Plain DOM calls: after a panic the reactive system cannot be trusted.
fn crash_notice(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(notice) = document.create_element("section") else { return };
    notice.set_class_name("card error crash");
    let _ = notice.set_attribute("data-testid", "crash");
    let _ = notice.set_attribute("role", "alert");
    let text = format!(
        "cnnscope stopped because of a bug: {message}. Reload the page to go on. Please report it with this message, \
         your browser and your GPU (the adapter card) in the project's issue tracker."
    );
    notice.set_text_content(Some(&text));
    if let Some(body) = document.body() {
        let _ = body.prepend_with_node_1(&notice);
    }
}
