//! The engine's Web Worker entry point (see worker/mod.rs): trunk builds it beside the page.

use gloo_worker::Registrable;

fn main() {
    cnnscope_app::worker::Engine::registrar().register();
}
