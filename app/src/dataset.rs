//! Loading Fashion-MNIST in the page: the four `.gz` files from the page's own origin (with
//! progress), or from files the user picks; parsed and checked by the engine.

use cnnscope::data::{FILE_NAMES, FashionMnist};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::js_error;

/// `?limit=N`: use only the first N training and N test images (quick demonstrations, tests),
/// whichever way the files arrive.
pub fn limit() -> Result<Option<usize>, String> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    parse_limit(&search)
}

/// The `limit` parameter of a query string; a value that is not a whole number ≥ 1 is refused.
pub fn parse_limit(search: &str) -> Result<Option<usize>, String> {
    let Some(value) = search.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("limit=")) else { return Ok(None) };
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(format!("the address asks for ?limit={value}, which is not a whole number of images (1 or more): fix it or remove it")),
    }
}

/// The data with `?limit=` applied.
fn limited(data: FashionMnist) -> Result<FashionMnist, String> {
    Ok(match limit()? {
        Some(n) => FashionMnist { train: data.train.truncated(n), test: data.test.truncated(n) },
        None => data,
    })
}

/// Where the files are served: `data/fashion-mnist/` beside the page, or `?data=<dir>/`.
pub fn base_url() -> String {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("data="))
        .map(|dir| format!("{}/", dir.trim_end_matches('/')))
        .unwrap_or_else(|| "data/fashion-mnist/".to_string())
}

/// Downloads one file, calling `progress(bytes so far, total if known)` as chunks arrive.
async fn fetch(url: &str, progress: &dyn Fn(f64, Option<f64>)) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| js_error(url, e))?
        .unchecked_into();
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

/// Fetches and parses the four files; `progress(fraction of all four)`.
pub async fn load_from_server(progress: impl Fn(f64)) -> Result<FashionMnist, String> {
    limit()?;
    let base = base_url();
    let mut files = Vec::new();
    for (i, name) in FILE_NAMES.iter().enumerate() {
        let report = |got: f64, total: Option<f64>| progress((i as f64 + total.map_or(0.5, |t| (got / t).min(1.0))) / 4.0);
        files.push(fetch(&format!("{base}{name}"), &report).await?);
    }
    progress(1.0);
    limited(FashionMnist::from_files([&files[0], &files[1], &files[2], &files[3]]).map_err(|e| e.to_string())?)
}

/// Parses the four files the user picked (matched by name).
pub async fn load_from_files(list: web_sys::FileList) -> Result<FashionMnist, String> {
    let mut found: [Option<Vec<u8>>; 4] = Default::default();
    for i in 0..list.length() {
        let Some(file) = list.get(i) else { continue };
        let Some(slot) = FILE_NAMES.iter().position(|n| *n == file.name()) else { continue };
        let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| js_error(&file.name(), e))?;
        found[slot] = Some(Uint8Array::new(&buffer).to_vec());
    }
    let missing: Vec<&str> = FILE_NAMES.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        return Err(format!("pick all four files; missing {}", missing.join(", ")));
    }
    let [a, b, c, d] = found.map(Option::unwrap_or_default);
    limited(FashionMnist::from_files([&a, &b, &c, &d]).map_err(|e| e.to_string())?)
}
