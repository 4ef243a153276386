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
pub mod session;
pub mod setup;
pub mod webgpu;
pub mod weights_io;

/// Mounts the app on the page's body.
pub fn start() {
    // Panics reach the browser console with their message instead of "unreachable".
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("cnnscope panicked: {info}").into());
    }));
    leptos::mount::mount_to_body(app::App);
}
