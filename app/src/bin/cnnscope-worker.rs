//! The engine's Web Worker entry point (see engine/mod.rs): trunk builds it beside the page.

use gloo_worker::Registrable;

fn main() {
    cnnscope_app::engine::Engine::registrar().register();
}
