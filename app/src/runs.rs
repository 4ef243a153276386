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
/// A keep being written: `<name>.ckpt.<random>.partial`, its own for each writer (two tabs, or a
/// double-clicked "start", never write into one file), moved over `<name>.ckpt` once whole.
const PARTIAL: &str = ".partial";

use crate::js_error;

/// The origin's storage, from the page or the engine's worker.
pub(crate) fn storage() -> Result<web_sys::StorageManager, String> {
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
pub struct Writer(pub(crate) web_sys::FileSystemWritableFileStream);

impl Writer {
    pub async fn write(&self, bytes: &[u8]) -> Result<(), JsValue> {
        JsFuture::from(self.0.write_with_u8_array(bytes)?).await.map(|_| ())
    }

    /// Writes bytes that are already the browser's (a download's chunk), with no copy into wasm.
    pub async fn write_js(&self, bytes: &Uint8Array) -> Result<(), JsValue> {
        JsFuture::from(self.0.write_with_buffer_source(bytes)?).await.map(|_| ())
    }
}

/// Keeps run `name` as `fill` writes it (`bytes` in all, for a full quota's message), replacing
/// what was kept before, whole or not at all: written to a temporary file, then moved over the
/// old one. A checkpoint is written tensor by tensor (`CheckpointStream`), never whole in memory.
/// A keep cut short (a closed tab) leaves its temporary file behind; [`prune`] deletes it.
pub async fn save_with(name: &str, bytes: f64, fill: impl AsyncFnOnce(&Writer) -> Result<(), JsValue>) -> Result<(), String> {
    let dir = directory().await?;
    let partial = format!("{name}{EXTENSION}.{:08x}{PARTIAL}", (js_sys::Math::random() * 4294967296.0) as u32);
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
    let mut names: Vec<String> = entries().await?.iter().filter_map(|key| key.strip_suffix(EXTENSION)).map(str::to_string).collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    Ok(names)
}

/// Keeps cut short (a tab closed while it wrote): each temporary file, with the run it was for.
pub async fn partials() -> Result<Vec<(String, String)>, String> {
    let run_of = |key: &str| Some(key.strip_suffix(PARTIAL)?.rsplit_once('.')?.0.strip_suffix(EXTENSION)?.to_string());
    Ok(entries().await?.into_iter().filter_map(|key| Some((run_of(&key)?, key))).collect())
}

/// Every file in the runs' directory.
async fn entries() -> Result<Vec<String>, String> {
    keys(&directory().await?).await
}

/// The names of the files in `dir`.
pub(crate) async fn keys(dir: &FileSystemDirectoryHandle) -> Result<Vec<String>, String> {
    let iterator = dir.keys();
    let mut names = Vec::new();
    loop {
        let next = JsFuture::from(iterator.next().map_err(|e| js_error("listing saved runs", e))?)
            .await
            .map_err(|e| js_error("listing saved runs", e))?;
        if Reflect::get(&next, &"done".into()).is_ok_and(|d| d.is_truthy()) {
            break;
        }
        names.extend(Reflect::get(&next, &"value".into()).ok().and_then(|v| v.as_string()));
    }
    Ok(names)
}

/// The file run `name` is kept in: the browser reads it from its storage as it is needed.
pub async fn file(name: &str) -> Result<web_sys::File, String> {
    let dir = directory().await?;
    let what = format!("reading saved run {name}");
    let handle: FileSystemFileHandle =
        JsFuture::from(dir.get_file_handle(&format!("{name}{EXTENSION}"))).await.map_err(|e| js_error(&what, e))?.unchecked_into();
    Ok(JsFuture::from(handle.get_file()).await.map_err(|e| js_error(&what, e))?.unchecked_into())
}

async fn bytes(blob: &web_sys::Blob, what: &str) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(blob.array_buffer()).await.map_err(|e| js_error(&format!("reading {what}"), e))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The checkpoint kept as `name`, read a tensor at a time (`Checkpoint::from_pieces`): never the
/// whole file in memory beside its tensors.
pub async fn read(name: &str) -> Result<cnnscope::train::Checkpoint, String> {
    read_checkpoint(&file(name).await?, &format!("saved run {name}")).await
}

/// The checkpoint in `file` (`what`, for messages), read a tensor at a time.
pub async fn read_checkpoint(file: &web_sys::File, what: &str) -> Result<cnnscope::train::Checkpoint, String> {
    let (start, size) = header_of(file, what).await?;
    let slice = |from: u64, to: u64| file.slice_with_f64_and_f64(from as f64, to as f64).map_err(|e| js_error(&format!("reading {what}"), e));
    cnnscope::train::Checkpoint::from_pieces(&start, size as u64, async |from, to| bytes(&slice(from, to)?, what).await, |e| format!("{what}: {e}")).await
}

/// The start of the checkpoint kept as `name` that holds its header (not its tensors, which a
/// full-width run has hundreds of megabytes of), and the file's size in bytes.
pub async fn read_header(name: &str) -> Result<(Vec<u8>, f64), String> {
    header_of(&file(name).await?, &format!("saved run {name}")).await
}

/// The start of safetensors `file` that holds its header, and the file's size in bytes.
pub async fn header_of(file: &web_sys::File, what: &str) -> Result<(Vec<u8>, f64), String> {
    let slice = |end: f64| file.slice_with_f64_and_f64(0.0, end).map_err(|e| js_error(&format!("reading {what}"), e));
    let start = bytes(&slice(8.0)?, what).await?;
    let end = cnnscope::train::checkpoint::header_len(&start).ok_or_else(|| format!("{what} is shorter than a header"))?;
    Ok((bytes(&slice(end as f64)?, what).await?, file.size()))
}

/// All of `file` (`what`, for messages), set aside at once or refused with its size.
pub async fn read_whole(file: &web_sys::File, what: &str) -> Result<Vec<u8>, String> {
    let size = file.size() as usize;
    let mut whole = Vec::new();
    whole.try_reserve_exact(size).map_err(|_| format!("{what} is {} MiB, more than this tab can set aside", size >> 20))?;
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| js_error(&format!("reading {what}"), e))?;
    let array = Uint8Array::new(&buffer);
    whole.resize(array.length() as usize, 0);
    array.copy_to(&mut whole);
    Ok(whole)
}

/// Forgets run `name`.
pub async fn remove(name: &str) -> Result<(), String> {
    let dir = directory().await?;
    JsFuture::from(dir.remove_entry(&format!("{name}{EXTENSION}"))).await.map_err(|e| js_error(&format!("deleting saved run {name}"), e))?;
    Ok(())
}

/// Deletes what no tab needs: the keeps cut short of runs no tab has open, and, with `keep`, all
/// but the newest `keep` runs; spares the runs in `open` (open in some tab, the one on screen
/// included) whatever their age, and a keep one of them may be writing. `open` is `None` where the
/// browser cannot say which runs are open (no Web Locks, or its query failed): then every run
/// counts as open, and nothing is deleted. Returns what it deleted.
pub async fn prune(keep: Option<usize>, open: Option<&[String]>) -> Result<Vec<String>, String> {
    let mut deleted = Vec::new();
    let Some(open) = open else {
        return match keep {
            Some(_) => Err("this browser cannot say which runs other tabs have open, so no run was deleted".into()),
            None => Ok(deleted),
        };
    };
    let dir = directory().await?;
    for (run, file) in partials().await? {
        if !open.contains(&run) {
            JsFuture::from(dir.remove_entry(&file)).await.map_err(|e| js_error(&format!("deleting {file}, a keep cut short"), e))?;
            deleted.push(format!("a keep of {run} cut short"));
        }
    }
    for name in names().await?.into_iter().skip(keep.unwrap_or(usize::MAX)) {
        if !open.contains(&name) {
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
