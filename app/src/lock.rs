//! One tab owns a run at a time. The worker holds a Web Lock (`navigator.locks`, shared by every tab
//! of the origin) named after each run it has open; a tab that asks to open a kept run whose lock
//! another tab holds is told so instead of training a second copy that would overwrite the first.
//! A lock goes when its run leaves the page, and with the tab (the browser drops a closed tab's
//! locks). The page asks which runs are open anywhere before it prunes the kept ones
//! (`runs::prune`). Where a browser cannot lock (no Web Locks, or a request or query that fails),
//! every kept run counts as taken, not free: none is opened as itself, none is deleted. Every
//! browser with the storage runs are kept in (OPFS) has Web Locks, so this is the rule for a
//! browser that breaks, not one a user meets.

use std::cell::RefCell;

use futures_channel::oneshot;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

thread_local! {
    /// The runs whose locks this worker holds, each with the function that lets its lock go.
    static HELD: RefCell<Vec<(String, Function)>> = const { RefCell::new(Vec::new()) };
}

fn lock_name(run: &str) -> String {
    format!("cnnscope-run:{run}")
}

/// The browser's Web Locks (`navigator.locks`), where it has them.
fn locks() -> Option<Object> {
    let locks = Reflect::get(&js_sys::global(), &"navigator".into()).and_then(|n| Reflect::get(&n, &"locks".into())).ok()?;
    locks.is_object().then(|| locks.unchecked_into())
}

/// Takes run `run`'s lock if no tab holds it: `Some(true)` when this worker holds it now,
/// `Some(false)` when another tab does, `None` when this browser cannot lock.
pub async fn acquire(run: &str) -> Option<bool> {
    if HELD.with(|h| h.borrow().iter().any(|(name, _)| name == run)) {
        return Some(true);
    }
    let locks = locks()?;
    let request = Reflect::get(&locks, &"request".into()).ok()?.dyn_into::<Function>().ok()?;
    let (sender, receiver) = oneshot::channel::<bool>();
    let sender = RefCell::new(Some(sender));
    let name = run.to_string();
    // Called once, with the lock or (`ifAvailable`, held elsewhere) null; the lock is kept until
    // the promise it returns settles, which `release` does.
    let granted = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got = !lock.is_null();
        if got {
            let mut release = None;
            let held = Promise::new(&mut |resolve, _| release = Some(resolve));
            if let Some(release) = release {
                HELD.with(|h| h.borrow_mut().push((name, release)));
            }
            if let Some(sender) = sender.take() {
                let _ = sender.send(true);
            }
            return held.into();
        }
        if let Some(sender) = sender.take() {
            let _ = sender.send(false);
        }
        JsValue::NULL
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &true.into());
    request.call3(&locks, &lock_name(run).into(), &options, &granted).ok()?;
    receiver.await.ok()
}

/// [`acquire`], asked again for up to two seconds: a tab that was just reloaded or closed holds its
/// locks until its old worker is gone, so a run opened right after a reload would otherwise be
/// "open in another tab" — the tab it was open in.
pub async fn acquire_soon(run: &str) -> Option<bool> {
    for _ in 0..8 {
        if acquire(run).await != Some(false) {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(250).await;
    }
    acquire(run).await
}

/// Lets go of every lock but `run`'s: the run on screen is the one this tab owns.
pub fn keep_only(run: &str) {
    let_go(|name| name != run);
}

/// Lets go of `run`'s lock (a run that was about to open, and did not).
pub fn release(run: &str) {
    let_go(|name| name == run);
}

/// Lets go of the locks of the runs `leaving` picks.
fn let_go(leaving: impl Fn(&str) -> bool) {
    let released: Vec<Function> = HELD.with(|h| {
        let mut held = h.borrow_mut();
        let (gone, kept): (Vec<_>, Vec<_>) = held.drain(..).partition(|(name, _)| leaving(name));
        *held = kept;
        gone.into_iter().map(|(_, release)| release).collect()
    });
    for release in released {
        let _ = release.call0(&JsValue::NULL);
    }
}

/// The runs open in some tab of this browser (this one included): those whose locks are held.
/// `None` when this browser cannot say (no Web Locks, or its query failed).
pub async fn open_anywhere() -> Option<Vec<String>> {
    let locks = locks()?;
    let query = Reflect::get(&locks, &"query".into()).ok()?.dyn_into::<Function>().ok()?;
    let snapshot = query.call0(&locks).ok()?.dyn_into::<Promise>().ok()?;
    let snapshot = wasm_bindgen_futures::JsFuture::from(snapshot).await.ok()?;
    let held = Reflect::get(&snapshot, &"held".into()).ok().filter(|h| h.is_object())?;
    let held = js_sys::Array::from(&held);
    Some(
        held.iter()
            .filter_map(|lock| Reflect::get(&lock, &"name".into()).ok()?.as_string())
            .filter_map(|name| name.strip_prefix(&lock_name("")).map(str::to_string))
            .collect(),
    )
}
