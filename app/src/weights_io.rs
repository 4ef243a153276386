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
    let name = format!("cnnscope-{}-r{}-s{}.safetensors", c.arch.id(), c.ratio, c.side);
    let parts = Array::of1(&Uint8Array::from(bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a").map_err(|e| format!("{e:?}"))?.unchecked_into();
    a.set_href(&url);
    a.set_download(&name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(format!("downloaded {name} ({} KiB)", bytes.len() / 1024))
}

/// A new session of the file's network (its metadata sets the net, width and side; the other
/// knobs stay) holding the picked file's weights, with the file's bytes (for "continue") and a
/// message. A file that does not load is refused with the reason, and nothing changes.
pub async fn upload(gpu: Rc<Gpu>, data: &FashionMnist, setup: Setup, file: web_sys::File) -> Result<(Session, Vec<u8>, String), String> {
    let name = file.name();
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("{name}: {e:?}"))?;
    let bytes = Uint8Array::new(&buffer).to_vec();
    let saved = SavedNet::read(&bytes).map_err(|e| e.in_file(&name).to_string())?;
    let config = saved.config(setup.config());
    let setup = Setup { arch: config.arch, ratio: config.ratio, side: config.side, second_hidden: config.second_hidden, ..setup };
    let session = Session::new(gpu, data, setup, Some(&bytes)).map_err(|e| format!("{name}: {e}"))?;
    let title = cnnscope::net::Summary::new(&session.trainer.model.net).map(|s| s.title).unwrap_or_default();
    Ok((session, bytes, format!("loaded {name} into {title}: “continue training loaded weights” trains it further, “new run from scratch” starts over")))
}
