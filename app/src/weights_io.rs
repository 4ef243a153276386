//! Weights in the page: download the model as `.safetensors` (PyTorch keys), load such a file back.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use cnnscope::Gpu;
use cnnscope::data::FashionMnist;
use cnnscope::model::weights::SavedNet;

use crate::session::Session;
use crate::setup::Setup;

/// Saves the session's parameters and hands them to the browser as a download.
pub async fn download(session: Rc<RefCell<Session>>) -> Result<String, String> {
    let (gpu, model, _) = session.borrow().snapshot();
    let bytes = model.save_weights(&gpu).await.map_err(|e| e.to_string())?;
    let c = model.net.config;
    offer(&format!("cnnscope-{}-r{}-s{}.safetensors", c.arch.id(), c.ratio, c.side), &bytes)
}

/// The whole run (weights, optimiser state, counters, curves) as a checkpoint download, which
/// `cnnscope train --resume` continues natively and this page opens again.
pub async fn download_checkpoint(session: Rc<RefCell<Session>>, view: crate::session::View) -> Result<String, String> {
    let bytes = Session::checkpoint(&session, view).await?;
    let checkpoint = cnnscope::train::Checkpoint::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let name = format!("{}-step{}.ckpt", session.borrow().name, checkpoint.state.steps);
    offer(&name, &bytes)
}

/// Hands `bytes` to the browser as a download named `name`.
fn offer(name: &str, bytes: &[u8]) -> Result<String, String> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a").map_err(|e| format!("{e:?}"))?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(format!("downloaded {name} ({} KiB)", bytes.len() / 1024))
}

/// What a picked file held.
pub enum Loaded {
    /// Weights: a new session of the file's network holding them, and the bytes (for "continue").
    Weights(Session, Vec<u8>),
    /// A checkpoint: the run it holds, paused where it stopped.
    Run(Session),
}

/// Reads a picked file: a checkpoint becomes its run, paused; weights become a new session of
/// the file's network (its metadata sets the net, width and side; the other knobs stay). A file
/// that does not load is refused with the reason, and nothing changes.
pub async fn upload(gpu: Rc<Gpu>, data: &FashionMnist, setup: Setup, file: web_sys::File) -> Result<(Loaded, String), String> {
    let name = file.name();
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("{name}: {e:?}"))?;
    let bytes = Uint8Array::new(&buffer).to_vec();
    if cnnscope::train::checkpoint::is_checkpoint(&bytes) {
        let session = Session::from_checkpoint(gpu, data, &bytes).map_err(|e| format!("{name}: {e}"))?;
        let steps = session.trainer.steps;
        return Ok((Loaded::Run(session), format!("opened the run in {name}, paused at step {steps}: “resume” continues it")));
    }
    let saved = SavedNet::read(&bytes).map_err(|e| e.in_file(&name).to_string())?;
    let config = saved.config(setup.config());
    let setup = Setup { arch: config.arch, ratio: config.ratio, side: config.side, second_hidden: config.second_hidden, ..setup };
    let session = Session::new(gpu, data, setup, Some(&bytes)).map_err(|e| format!("{name}: {e}"))?;
    let title = cnnscope::net::Summary::new(&session.trainer.model.net).map(|s| s.title).unwrap_or_default();
    let message = format!("loaded {name} into {title}: “continue training loaded weights” trains it further, “new run from scratch” starts over");
    Ok((Loaded::Weights(session, bytes), message))
}
