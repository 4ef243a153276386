//! Files the page hands to the browser as downloads (weights, checkpoints from the worker).

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;

/// Offers `bytes` as a download named `name`; says what it did.
pub fn offer(name: &str, bytes: &[u8]) -> Result<String, String> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    offer_blob(name, &blob)
}

/// Offers `blob` as a download named `name`: a run kept in the browser's storage goes from there to
/// the browser's downloads as it is, never through wasm memory.
pub fn offer_blob(name: &str, blob: &web_sys::Blob) -> Result<String, String> {
    let url = web_sys::Url::create_object_url_with_blob(blob).map_err(|e| format!("{e:?}"))?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a").map_err(|e| format!("{e:?}"))?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Revoked a minute later, not at once: Firefox and Safari start reading the file after
    // `click()` returns, and cancel a download whose address is already gone.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(format!("downloaded {name} ({} KiB)", blob.size() as u64 / 1024))
}

/// Offers run `run`, as kept in the browser, as a download named `name`.
pub async fn offer_kept(run: &str, name: &str) -> Result<String, String> {
    let file = crate::runs::file(run).await?;
    offer_blob(name, &file)
}
