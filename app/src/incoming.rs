//! Files on their way into the worker (a picked file, a `?weights=` download), kept in the
//! browser's storage, in a directory of their own, while the worker opens them: the worker then
//! reads a checkpoint a tensor at a time, never the whole file beside its tensors (nor, for a
//! picked file, the copies a message makes of it). The worker deletes each once opened; one a
//! closed tab left behind is deleted by [`prune`] an hour later.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions, FileSystemGetFileOptions};

use crate::js_error;
use crate::runs::{Writer, keys, storage};

const INCOMING: &str = "incoming";
/// No file takes an hour to open: one older was left by a tab closed while it opened.
const LEFT_AFTER_MS: f64 = 3_600_000.0;

async fn directory() -> Result<FileSystemDirectoryHandle, String> {
    let root: FileSystemDirectoryHandle =
        JsFuture::from(storage()?.get_directory()).await.map_err(|e| js_error("browser storage is not available", e))?.unchecked_into();
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    let dir = JsFuture::from(root.get_directory_handle_with_options(INCOMING, &options)).await;
    Ok(dir.map_err(|e| js_error("browser storage is not available", e))?.unchecked_into())
}

/// Keeps what `fill` writes as a new incoming file; returns its name. On failure (a full
/// quota, storage that is not there) nothing is left behind.
pub async fn store(fill: impl AsyncFnOnce(&Writer) -> Result<(), JsValue>) -> Result<String, String> {
    let dir = directory().await?;
    let name = format!("{:08x}{:08x}", (js_sys::Math::random() * 4294967296.0) as u32, js_sys::Date::now() as u32);
    let written = async {
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let file: FileSystemFileHandle = JsFuture::from(dir.get_file_handle_with_options(&name, &options)).await?.unchecked_into();
        let writer = Writer(JsFuture::from(file.create_writable()).await?.unchecked_into());
        if let Err(e) = fill(&writer).await {
            let _ = JsFuture::from(writer.0.abort()).await;
            return Err(e);
        }
        JsFuture::from(writer.0.close()).await.map(drop)
    }
    .await;
    match written {
        Ok(()) => Ok(name),
        Err(e) => {
            let _ = JsFuture::from(dir.remove_entry(&name)).await;
            Err(js_error("keeping the file in the browser's storage", e))
        }
    }
}

/// A picked file (`blob`), copied into the browser's storage by the browser itself.
pub async fn store_blob(blob: &web_sys::Blob) -> Result<String, String> {
    store(async |writer| JsFuture::from(writer.0.write_with_blob(blob)?).await.map(drop)).await
}

/// The incoming file `name`.
pub async fn file(name: &str) -> Result<web_sys::File, String> {
    let dir = directory().await?;
    let handle: FileSystemFileHandle = JsFuture::from(dir.get_file_handle(name)).await.map_err(|e| js_error("reading the file", e))?.unchecked_into();
    Ok(JsFuture::from(handle.get_file()).await.map_err(|e| js_error("reading the file", e))?.unchecked_into())
}

/// Deletes the incoming file `name`.
pub async fn remove(name: &str) {
    if let Ok(dir) = directory().await {
        let _ = JsFuture::from(dir.remove_entry(name)).await;
    }
}

/// Deletes incoming files left by a tab closed while it opened them; returns how many.
pub async fn prune() -> Result<usize, String> {
    let dir = directory().await?;
    let mut left = 0;
    for name in keys(&dir).await? {
        let Ok(file) = self::file(&name).await else { continue };
        if js_sys::Date::now() - file.last_modified() > LEFT_AFTER_MS {
            let _ = JsFuture::from(dir.remove_entry(&name)).await;
            left += 1;
        }
    }
    Ok(left)
}
