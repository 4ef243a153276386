//! Fashion-MNIST in the worker: the four `.gz` files fetched from the page's origin (with
//! progress) or as the user picked them, parsed and checked by the engine, `?limit=` applied.

use cnnscope::data::{FILE_NAMES, FashionMnist};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::js_error;
use crate::protocol::DataSource;

/// Downloads one file, calling `progress(bytes so far, total if known)` as chunks arrive. Uses
/// the global `fetch`, a window's or a worker's.
pub async fn fetch(url: &str, progress: &dyn Fn(f64, Option<f64>)) -> Result<Vec<u8>, String> {
    let fetch: js_sys::Function = Reflect::get(&js_sys::global(), &"fetch".into()).map_err(|e| js_error(url, e))?.unchecked_into();
    let promise: js_sys::Promise = fetch.call1(&js_sys::global(), &url.into()).map_err(|e| js_error(url, e))?.unchecked_into();
    let response: web_sys::Response = JsFuture::from(promise).await.map_err(|e| js_error(url, e))?.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: the server answered {} {}", response.status(), response.status_text()));
    }
    let total = response.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<f64>().ok());
    let body = response.body().ok_or_else(|| format!("{url}: empty response"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| js_error(url, e))?;
        if Reflect::get(&chunk, &"done".into()).is_ok_and(|d| d.is_truthy()) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(|e| js_error(url, e))?.unchecked_into();
        bytes.extend(value.to_vec());
        progress(bytes.len() as f64, total);
    }
    Ok(bytes)
}

/// The dataset from `source`, its first `limit` images of each split; `progress(fraction of the
/// download)`.
pub async fn load(source: DataSource, limit: Option<usize>, progress: impl Fn(f64)) -> Result<FashionMnist, String> {
    let files: Vec<Vec<u8>> = match source {
        DataSource::Server(base) => {
            let mut files = Vec::new();
            for (i, name) in FILE_NAMES.iter().enumerate() {
                let report = |got: f64, total: Option<f64>| progress((i as f64 + total.map_or(0.5, |t| (got / t).min(1.0))) / 4.0);
                files.push(fetch(&format!("{base}{name}"), &report).await?);
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
