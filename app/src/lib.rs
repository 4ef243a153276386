//! cnnscope in the browser: pick one of the four classic CNNs, train it on Fashion-MNIST on your
//! GPU through WebGPU, and watch every layer. The page (`app` and its cards) holds no GPU objects:
//! the engine runs in a Web Worker (`worker`), and the two talk through `protocol`. A library so
//! its logic is testable in the browser (`wasm-pack test`, tests/browser.rs); `main.rs` mounts the
//! page and `bin/cnnscope-worker.rs` starts the worker.

// Two sides that talk through one protocol: the page's cards, and the worker that runs the engine.
pub mod page;
pub mod protocol;
pub mod worker;
// Both sides use these.
pub mod incoming;
pub mod lock;
pub mod runs;
pub mod setup;
pub mod site;

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
    leptos::mount::mount_to_body(page::app::App);
}

/// Panics on purpose: the end-to-end test calls it (`wasmBindings.crash_test()`) to see that a
/// bug shows its notice instead of a blank page. Nothing in the page calls it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn crash_test() {
    panic!("crash_test() was called: this is what a bug in cnnscope looks like");
}

/// Destroys the engine's GPU device, as a driver reset or the OS's watchdog would: the end-to-end
/// test calls it (`wasmBindings.lose_device_test()`) mid-run to see the run survive. Nothing in
/// the page calls it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn lose_device_test() {
    page::bridge::send(protocol::Command::LoseDevice);
}

/// Panics in the engine's worker on purpose: the end-to-end test calls it
/// (`wasmBindings.worker_crash_test()`) to see that a bug there shows the page's notice too.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_crash_test() {
    page::bridge::send(protocol::Command::Panic { abort: false });
}

/// Ends the engine's worker as a failed allocation does (an abort: no panic, no hook): the
/// end-to-end test calls it (`wasmBindings.worker_abort_test()`) to see the page say so, with what
/// was kept, instead of waiting for a worker that is gone.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_abort_test() {
    page::bridge::send(protocol::Command::Panic { abort: true });
}

/// Puts a notice at the top of the page: what happened, that the page must be reloaded, and how
/// to report it. Plain DOM calls: after a panic the reactive system cannot be trusted. The first
/// notice stays: a panic in the worker is followed by its abort, which says less.
pub(crate) fn crash_notice(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    if document.query_selector("[data-testid=crash]").ok().flatten().is_some() {
        return;
    }
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
