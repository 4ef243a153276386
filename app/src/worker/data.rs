//! Fashion-MNIST in the worker: the four `.gz` files fetched from the page's origin (with
//! progress) or as the user picked them, parsed and checked by the engine, `?limit=` applied.

use cnnscope::data::{FILE_NAMES, FashionMnist};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::js_error;
use crate::protocol::DataSource;

/// The most one Fashion-MNIST file may download: the largest, the training images, is 26 MB.
pub const MAX_DATA_FILE: f64 = 64.0 * 1024.0 * 1024.0;
/// The most a weights file or checkpoint may download: half of wasm32's 4 GiB, so that opening it
/// (the file and its tensors) still fits the worker.
pub const MAX_RUN_FILE: f64 = 2048.0 * 1024.0 * 1024.0;

/// Downloads one file of at most `max_bytes`, calling `progress(bytes so far, total if known)` as
/// chunks arrive, with the global `fetch` (a window's or a worker's). The page's one rule for what
/// it fetches (`site`) holds here too: only from this origin, and no redirects (one on this site could
/// lead to another); a larger file is refused as soon as its size shows, before it is kept whole.
pub async fn fetch(url: &str, max_bytes: f64, progress: &dyn Fn(f64, Option<f64>)) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let no_room = |needed: usize| format!("{url}: the tab could not set aside {} MiB for it: open it from your disk with the file button instead, or use the command line", needed >> 20);
    fetch_with(url, max_bytes, async |chunk: Uint8Array, total: Option<f64>| {
        if bytes.is_empty()
            && let Some(total) = total
        {
            make_room(&mut bytes, total as usize, max_bytes as usize).map_err(no_room)?;
        }
        make_room(&mut bytes, chunk.length() as usize, max_bytes as usize).map_err(no_room)?;
        bytes.extend(chunk.to_vec());
        progress(bytes.len() as f64, total);
        Ok(())
    })
    .await?;
    Ok(bytes)
}

/// [`fetch`] into the browser's storage as it arrives (`incoming`), for the worker to open from
/// there: a checkpoint is never whole in the worker. `Err(None)` where that storage failed (not
/// there, or full): the caller fetches into memory instead.
pub async fn fetch_stored(url: &str, max_bytes: f64) -> Result<String, Option<String>> {
    let mut failed = None;
    let stored = crate::incoming::store(async |file| {
        let written = fetch_with(url, max_bytes, async |chunk: Uint8Array, _| file.write_js(&chunk).await.map_err(|e| js_error(url, e))).await;
        written.map_err(|e| {
            failed = Some(e.clone());
            wasm_bindgen::JsValue::from_str(&e)
        })
    })
    .await;
    stored.map_err(|_| failed)
}

/// Downloads one file of at most `max_bytes` for [`fetch`] and [`fetch_stored`], handing `take`
/// each chunk as it arrives with the file's size when the server says it.
async fn fetch_with(url: &str, max_bytes: f64, mut take: impl AsyncFnMut(Uint8Array, Option<f64>) -> Result<(), String>) -> Result<(), String> {
    let here = Reflect::get(&js_sys::global(), &"location".into()).and_then(|l| Reflect::get(&l, &"origin".into())).ok().and_then(|o| o.as_string());
    let there = web_sys::Url::new(url).map(|u| u.origin()).ok();
    if !here.zip(there).is_some_and(|(here, there)| crate::site::same_site(&here, &there)) {
        return Err(format!("{url}: is not on this site: only files from this site are fetched"));
    }
    let init = js_sys::Object::new();
    Reflect::set(&init, &"redirect".into(), &"error".into()).map_err(|e| js_error(url, e))?;
    let fetch: js_sys::Function = Reflect::get(&js_sys::global(), &"fetch".into()).map_err(|e| js_error(url, e))?.unchecked_into();
    let promise: js_sys::Promise = fetch.call2(&js_sys::global(), &url.into(), &init).map_err(|e| js_error(url, e))?.unchecked_into();
    let response: web_sys::Response = JsFuture::from(promise).await.map_err(|e| js_error(url, e))?.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: the server answered {} {}", response.status(), response.status_text()));
    }
    let too_big = || format!("{url}: is more than the {} MiB this page downloads for it", max_bytes / (1024.0 * 1024.0));
    let total = response.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<f64>().ok());
    if total.is_some_and(|t| t > max_bytes) {
        return Err(too_big());
    }
    let body = response.body().ok_or_else(|| format!("{url}: empty response"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut received = 0.0;
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| js_error(url, e))?;
        if Reflect::get(&chunk, &"done".into()).is_ok_and(|d| d.is_truthy()) {
            return Ok(());
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(|e| js_error(url, e))?.unchecked_into();
        received += f64::from(value.length());
        if received > max_bytes {
            let _ = reader.cancel();
            return Err(too_big());
        }
        if let Err(e) = take(value, total).await {
            let _ = reader.cancel();
            return Err(e);
        }
    }
}

/// Sets aside room for `more` bytes after `bytes`, never past `limit` in all: doubling as a `Vec`
/// grows, except where doubling would pass the limit (or wasm32's largest block, 2^31 − 1 bytes,
/// where a doubling `Vec` aborts the worker with "capacity overflow" once past 1 GiB), where it
/// takes what is needed exactly. Fails with the bytes it needed in all.
pub fn make_room(bytes: &mut Vec<u8>, more: usize, limit: usize) -> Result<(), usize> {
    let needed = bytes.len().checked_add(more).ok_or(usize::MAX)?;
    if needed <= bytes.capacity() {
        return Ok(());
    }
    let target = grown(bytes.capacity(), needed, limit).ok_or(needed)?;
    bytes.try_reserve_exact(target - bytes.len()).map_err(|_| needed)
}

/// The capacity [`make_room`] asks for: twice the current one, capped at `limit` and at the
/// largest block the target can address, and never less than `needed`; `None` past those.
pub fn grown(capacity: usize, needed: usize, limit: usize) -> Option<usize> {
    let largest = (isize::MAX as usize).min(limit);
    (needed <= largest).then(|| capacity.saturating_mul(2).clamp(needed, largest))
}

/// The dataset from `source`, its first `limit` images of each split; `progress(fraction of the
/// download)`.
pub async fn load(source: DataSource, limit: Option<usize>, progress: impl Fn(f64)) -> Result<FashionMnist, String> {
    let files: Vec<Vec<u8>> = match source {
        DataSource::Server(base) => {
            let mut files = Vec::new();
            for (i, name) in FILE_NAMES.iter().enumerate() {
                let report = |got: f64, total: Option<f64>| progress((i as f64 + total.map_or(0.5, |t| (got / t).min(1.0))) / 4.0);
                files.push(fetch(&format!("{base}{name}"), MAX_DATA_FILE, &report).await?);
            }
            progress(1.0);
            files
        }
        DataSource::Files(picked) => FILE_NAMES
            .iter()
            .map(|name| picked.iter().find(|f| f.name == *name).map(|f| f.bytes.clone()).ok_or_else(|| format!("{name} was not picked")))
            .collect::<Result<_, _>>()?,
    };
    let [a, b, c, d] = [&files[0], &files[1], &files[2], &files[3]];
    let data = FashionMnist::from_files([a, b, c, d]).map_err(|e| e.to_string())?;
    Ok(match limit {
        Some(n) => FashionMnist { train: data.train.truncated(n), test: data.test.truncated(n) },
        None => data,
    })
}
