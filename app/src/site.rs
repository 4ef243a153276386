//! The one rule for everything the page fetches by address (`?data=`, `?weights=`, and any
//! parameter to come), held by the page when it reads the address and by the worker when it
//! fetches: a file is fetched only from the page's own site. Another site's files would be trained
//! on, or opened, as if they were the user's.
//!
//! A page with no site of its own — opened from a file (`file://`), or itself a `data:` document —
//! has an opaque origin, which the URL standard spells "null" for every such page and every
//! `data:` URL alike (Firefox; Chromium spells a file's "file://"). Neither matches anything, not
//! even itself: such a page fetches nothing by address (the file buttons still open files), where
//! comparing the two strings would let `?weights=data:…` through as "on this site" in Firefox and
//! `?weights=file:///…` in Chromium.

/// Whether a file at origin `there` is on the site of a page at origin `here` (both as
/// `URL.origin` spells them).
pub fn same_site(here: &str, there: &str) -> bool {
    here == there && !no_site(here)
}

/// Whether `origin` is no site: an opaque origin ("null"), or a file's as Chromium spells it.
fn no_site(origin: &str) -> bool {
    origin == "null" || origin.starts_with("file:")
}

/// `path` (the address's `key=path`) resolved against the page at `page`, as an absolute URL,
/// when it is on the page's own site; else why it is refused.
pub fn on_this_site(key: &str, path: &str, page: &str) -> Result<String, String> {
    let url = web_sys::Url::new_with_base(path, page).map_err(|_| format!("the address asks for {key}={path}, which is not a path on this site"))?;
    let here = web_sys::Url::new(page).map(|u| u.origin()).unwrap_or_default();
    if no_site(&here) {
        return Err(format!(
            "the address asks for {key}={path}, but this page was opened from a file, not a site: it fetches nothing by address (serve it, e.g. with `trunk serve`, or open files with the file buttons)"
        ));
    }
    match same_site(&here, &url.origin()) {
        true => Ok(url.href()),
        false => Err(format!("the address asks for {key}={path}, which is on another site: only files from this site are opened")),
    }
}
