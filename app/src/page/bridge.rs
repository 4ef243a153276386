//! The page's side of the engine's Web Worker: spawns it (trunk builds `cnnscope-worker` beside the
//! page, and app/cnnscope-worker_loader.js starts it), sends it `Command`s, and applies its
//! `Event`s to the `View`. A worker that dies without a word (an abort: a failed allocation is
//! no panic) is reported by its loader on a channel of its own, and the page says so.

use std::cell::RefCell;

use gloo_worker::{Spawnable, WorkerBridge};

use crate::worker::Engine;
use crate::protocol::Command;
use crate::page::view::View;

/// The worker's script: app/cnnscope-worker_loader.js, which trunk copies beside the worker it
/// builds (`data-type="worker"` in index.html).
const WORKER_SCRIPT: &str = "./cnnscope-worker_loader.js";

thread_local! {
    static BRIDGE: RefCell<Option<WorkerBridge<Engine>>> = const { RefCell::new(None) };
    /// Where the worker's loader says that its wasm trapped (app/cnnscope-worker_loader.js).
    static CRASHES: RefCell<Option<web_sys::BroadcastChannel>> = const { RefCell::new(None) };
}

/// Starts the engine's worker; its events update `view`.
pub fn spawn(view: View) {
    // A channel of this page's own: a broadcast reaches every tab, and only this tab's worker
    // knows its name.
    let channel = format!("cnnscope-worker-{:08x}", (js_sys::Math::random() * 4294967296.0) as u32);
    let script = format!("{WORKER_SCRIPT}?crash={channel}");
    if let Ok(crashes) = web_sys::BroadcastChannel::new(&channel) {
        let told = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            view.worker_crashed(&e.data().as_string().unwrap_or_else(|| "it stopped".into()));
        });
        crashes.set_onmessage(Some(wasm_bindgen::JsCast::unchecked_ref(told.as_ref())));
        told.forget();
        CRASHES.with(|c| *c.borrow_mut() = Some(crashes));
    }
    let bridge = Engine::spawner().callback(move |event| view.apply(event)).with_loader(true).as_module(false).spawn(&script);
    BRIDGE.with(|b| *b.borrow_mut() = Some(bridge));
}

/// Sends `command` to the engine (nothing happens before `spawn`).
pub fn send(command: Command) {
    BRIDGE.with(|b| {
        if let Some(bridge) = &*b.borrow() {
            bridge.send(command);
        }
    });
}
