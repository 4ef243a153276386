//! Weights in the page: download the model as `.safetensors` (PyTorch keys), load such a file back.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::session::Session;

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

/// Loads a picked file into the session's model; a file that does not fit is refused with the
/// reason and the model keeps its parameters.
pub async fn upload(session: Rc<RefCell<Session>>, file: web_sys::File) -> Result<String, String> {
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("{}: {e:?}", file.name()))?;
    let bytes = Uint8Array::new(&buffer).to_vec();
    let (gpu, model, _) = session.borrow().snapshot();
    model.load_weights(&gpu, &bytes).map_err(|e| format!("{}: {e}", file.name()))?;
    Ok(format!("loaded {} into {}", file.name(), cnnscope::net::Summary::new(&model.net).map(|s| s.title).unwrap_or_default()))
}
