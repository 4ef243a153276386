//! cnnscope in the browser: pick one of the four classic CNNs, train it on Fashion-MNIST on your
//! GPU through WebGPU, and watch every layer.

mod app;
mod charts;
mod dataset;
mod drawing;
mod feature_maps;
mod layer_table;
mod results;
mod session;
mod setup;
mod webgpu;
mod weights_io;

fn main() {
    console_error_panic_hook_light();
    leptos::mount::mount_to_body(app::App);
}

/// Panics reach the browser console with their message instead of "unreachable".
fn console_error_panic_hook_light() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("cnnscope panicked: {info}").into());
    }));
}
