//! Runs kept in the browser: each a checkpoint file (the engine's format, the same the CLI reads
//! and writes) in the origin-private file system (OPFS), under `runs/<name>.ckpt`. OPFS is
//! promise-based, holds binary files without encoding, and is in every browser with WebGPU. The
//! engine's worker saves and reads runs; the page lists and deletes them.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions, FileSystemGetFileOptions};

const DIRECTORY: &str = "runs";
const EXTENSION: &str = ".ckpt";

use crate::js_error;

/// The origin's storage, from the page or the engine's worker.
fn storage() -> Result<web_sys::StorageManager, String> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).map_err(|e| js_error("browser storage is not available", e))?;
    let storage = Reflect::get(&navigator, &"storage".into()).map_err(|e| js_error("browser storage is not available", e))?;
    if storage.is_undefined() {
        return Err("browser storage is not available here".into());
    }
    Ok(storage.unchecked_into())
}

async fn directory() -> Result<FileSystemDirectoryHandle, String> {
    let storage = storage()?;
    let root: FileSystemDirectoryHandle =
        JsFuture::from(storage.get_directory()).await.map_err(|e| js_error("browser storage is not available", e))?.unchecked_into();
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    let runs = JsFuture::from(root.get_directory_handle_with_options(DIRECTORY, &options))
        .await
        .map_err(|e| js_error("browser storage is not available", e))?;
    Ok(runs.unchecked_into())
}

/// Bytes the browser will still let this page store, if it says.
async fn free_bytes() -> Option<f64> {
    let storage = storage().ok()?;
    let estimate: web_sys::StorageEstimate = JsFuture::from(storage.estimate().ok()?).await.ok()?.unchecked_into();
    Some(estimate.get_quota()? - estimate.get_usage().unwrap_or(0.0))
}

/// Keeps `bytes` as run `name`, replacing what was kept before, whole or not at all.
pub async fn save(name: &str, bytes: &[u8]) -> Result<(), String> {
    save_with(name, bytes.len() as f64, async |file| file.write(bytes).await).await
}

/// An OPFS file being written, piece by piece.
pub struct Writer(web_sys::FileSystemWritableFileStream);

impl Writer {
    pub async fn write(&self, bytes: &[u8]) -> Result<(), JsValue> {
        JsFuture::from(self.0.write_with_u8_array(bytes)?).await.map(|_| ())
    }
}

/// Keeps run `name` as `fill` writes it (`bytes` in all, for a full quota's message), replacing
/// what was kept before, whole or not at all: written to a temporary file, then moved over the
/// old one. A checkpoint is written tensor by tensor (`CheckpointStream`), never whole in memory.
pub async fn save_with(name: &str, bytes: f64, fill: impl AsyncFnOnce(&Writer) -> Result<(), JsValue>) -> Result<(), String> {
    let dir = directory().await?;
    let partial = format!("{name}{EXTENSION}.partial");
    let written = async {
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let file: FileSystemFileHandle = JsFuture::from(dir.get_file_handle_with_options(&partial, &options)).await?.unchecked_into();
        let writer = Writer(JsFuture::from(file.create_writable()).await?.unchecked_into());
        let filled = fill(&writer).await;
        if filled.is_err() {
            let _ = JsFuture::from(writer.0.abort()).await;
        }
        filled?;
        JsFuture::from(writer.0.close()).await?;
        // `move` is newer than OPFS itself: where it is missing, copy the file (as a blob, which
        // the browser streams from disk).
        match Reflect::get(&file, &"move".into()).ok().filter(|f| f.is_function()) {
            Some(rename) => {
                let rename: js_sys::Function = rename.unchecked_into();
                JsFuture::from(js_sys::Promise::from(rename.call1(&file, &format!("{name}{EXTENSION}").into())?)).await?;
            }
            None => {
                let written: web_sys::File = JsFuture::from(file.get_file()).await?.unchecked_into();
                let target: FileSystemFileHandle =
                    JsFuture::from(dir.get_file_handle_with_options(&format!("{name}{EXTENSION}"), &options)).await?.unchecked_into();
                let stream: web_sys::FileSystemWritableFileStream = JsFuture::from(target.create_writable()).await?.unchecked_into();
                JsFuture::from(stream.write_with_blob(&written)?).await?;
                JsFuture::from(stream.close()).await?;
                JsFuture::from(dir.remove_entry(&partial)).await?;
            }
        }
        Ok::<_, JsValue>(())
    }
    .await;
    if let Err(e) = written {
        let _ = JsFuture::from(dir.remove_entry(&partial)).await;
        let quota = Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string()).is_some_and(|n| n == "QuotaExceededError");
        let mib = |b: f64| format!("{:.1} MiB", b / (1 << 20) as f64);
        return Err(match (quota, free_bytes().await) {
            (true, Some(free)) => format!(
                "saving the run needs {} of browser storage, but only {} is left: delete saved runs to make room (training goes on)",
                mib(bytes),
                mib(free.max(0.0))
            ),
            _ => js_error("saving the run in the browser failed (training goes on)", e),
        });
    }
    Ok(())
}

/// The names of the kept runs, newest first (names start with the time they began).
pub async fn names() -> Result<Vec<String>, String> {
    let dir = directory().await?;
    let iterator = dir.keys();
    let mut names = Vec::new();
    loop {
        let next = JsFuture::from(iterator.next().map_err(|e| js_error("listing saved runs", e))?)
            .await
            .map_err(|e| js_error("listing saved runs", e))?;
        if Reflect::get(&next, &"done".into()).is_ok_and(|d| d.is_truthy()) {
            break;
        }
        let key = Reflect::get(&next, &"value".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
        if let Some(name) = key.strip_suffix(EXTENSION) {
            names.push(name.to_string());
        }
    }
    names.sort_unstable_by(|a, b| b.cmp(a));
    Ok(names)
}

async fn file(name: &str) -> Result<web_sys::File, String> {
    let dir = directory().await?;
    let what = format!("reading saved run {name}");
    let handle: FileSystemFileHandle =
        JsFuture::from(dir.get_file_handle(&format!("{name}{EXTENSION}"))).await.map_err(|e| js_error(&what, e))?.unchecked_into();
    Ok(JsFuture::from(handle.get_file()).await.map_err(|e| js_error(&what, e))?.unchecked_into())
}

async fn bytes(blob: &web_sys::Blob, name: &str) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(blob.array_buffer()).await.map_err(|e| js_error(&format!("reading saved run {name}"), e))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The checkpoint kept as `name`, read a tensor at a time (`Checkpoint::from_pieces`): never the
/// whole file in memory beside its tensors.
pub async fn read(name: &str) -> Result<cnnscope::train::Checkpoint, String> {
    let file = file(name).await?;
    let (start, size) = read_header(name).await?;
    let slice = |from: u64, to: u64| file.slice_with_f64_and_f64(from as f64, to as f64).map_err(|e| js_error(&format!("reading saved run {name}"), e));
    cnnscope::train::Checkpoint::from_pieces(&start, size as u64, async |from, to| bytes(&slice(from, to)?, name).await, |e| format!("saved run {name}: {e}")).await
}

/// The start of the checkpoint kept as `name` that holds its header (not its tensors, which a
/// full-width run has hundreds of megabytes of), and the file's size in bytes.
pub async fn read_header(name: &str) -> Result<(Vec<u8>, f64), String> {
    let file = file(name).await?;
    let slice = |end: f64| file.slice_with_f64_and_f64(0.0, end).map_err(|e| js_error(&format!("reading saved run {name}"), e));
    let start = bytes(&slice(8.0)?, name).await?;
    let end = cnnscope::train::checkpoint::header_len(&start).ok_or_else(|| format!("saved run {name} is shorter than a header"))?;
    Ok((bytes(&slice(end as f64)?, name).await?, file.size()))
}

/// Forgets run `name`.
pub async fn remove(name: &str) -> Result<(), String> {
    let dir = directory().await?;
    JsFuture::from(dir.remove_entry(&format!("{name}{EXTENSION}"))).await.map_err(|e| js_error(&format!("deleting saved run {name}"), e))?;
    Ok(())
}

/// Keeps the newest `keep` runs and those in `spare` (the run on screen, runs open in any tab),
/// and deletes the rest, oldest first; returns what it deleted.
pub async fn prune(keep: usize, spare: &[String]) -> Result<Vec<String>, String> {
    let mut deleted = Vec::new();
    for name in names().await?.into_iter().skip(keep) {
        if !spare.contains(&name) {
            remove(&name).await?;
            deleted.push(name);
        }
    }
    Ok(deleted)
}

/// A new run's name: the time it began (so names sort by age), a random part (two tabs starting in
/// the same millisecond get two runs), and its network, e.g. `2026-11-30T07-51-12-345-3fa2-alexnet`.
pub fn new_name(arch: &str) -> String {
    let iso = js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default();
    let stamp: String = iso.chars().take(23).map(|c| if c == ':' || c == '.' { '-' } else { c }).collect();
    let random = (js_sys::Math::random() * 65536.0) as u32 & 0xffff;
    format!("{stamp}-{random:04x}-{arch}")
}
