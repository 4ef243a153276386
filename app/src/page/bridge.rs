//! The page's side of the engine's Web Worker: spawns it (trunk builds `cnnscope-worker` beside the
//! page, and app/cnnscope-worker_loader.js starts it), sends it `Command`s, and applies its
//! `Event`s to the `View`.

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
}

/// Starts the engine's worker; its events update `view`.
pub fn spawn(view: View) {
    let bridge = Engine::spawner().callback(move |event| view.apply(event)).with_loader(true).as_module(false).spawn(WORKER_SCRIPT);
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
