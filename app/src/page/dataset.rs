//! Where the page's Fashion-MNIST comes from: the page's own origin (`?data=`, `?limit=`), or
//! the four files the user picks. The worker fetches and parses them (`engine::data`).

use cnnscope::data::FILE_NAMES;
use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;

use crate::js_error;
use crate::protocol::PickedFile;
use crate::page::share::current_search;

/// `?limit=N`: use only the first N training and N test images (quick demonstrations, tests),
/// whichever way the files arrive.
pub fn limit() -> Result<Option<usize>, String> {
    parse_limit(&current_search())
}

/// The `limit` parameter of a query string; a value that is not a whole number ≥ 1 is refused.
pub fn parse_limit(search: &str) -> Result<Option<usize>, String> {
    let Some(value) = search.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("limit=")) else { return Ok(None) };
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(format!("the address asks for ?limit={value}, which is not a whole number of images (1 or more): fix it or remove it")),
    }
}

/// Where the files are served, as an absolute URL: `data/fashion-mnist/` beside the page, or
/// `?data=<dir>/` on the page's own site ([`crate::site::on_this_site`]).
pub fn data_url(search: &str, page: &str) -> Result<String, String> {
    let dir = crate::page::share::param(search, "data").map_or_else(|| "data/fashion-mnist".to_string(), |d| d.trim_end_matches('/').to_string());
    crate::site::on_this_site("data", &format!("{dir}/"), page)
}

/// [`data_url`] for this page.
pub fn base_url() -> Result<String, String> {
    let page = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
    data_url(&current_search(), &page)
}

/// The four files the user picked (matched by name), read.
pub async fn read_picked(list: web_sys::FileList) -> Result<Vec<PickedFile>, String> {
    let mut found = Vec::new();
    for i in 0..list.length() {
        let Some(file) = list.get(i) else { continue };
        if !FILE_NAMES.contains(&file.name().as_str()) {
            continue;
        }
        let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| js_error(&file.name(), e))?;
        found.push(PickedFile { name: file.name(), bytes: Uint8Array::new(&buffer).to_vec() });
    }
    let missing: Vec<&str> = FILE_NAMES.iter().filter(|n| !found.iter().any(|f| f.name == **n)).copied().collect();
    if !missing.is_empty() {
        return Err(format!("pick all four files; missing {}", missing.join(", ")));
    }
    Ok(found)
}
