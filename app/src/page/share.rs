//! A setup in the page's address, so a link (or a reload) reproduces it:
//! `?net=nin&ratio=8&side=96&batch=64&optimizer=adam&lr=0.001&epochs=5&seed=0` opens with those
//! knobs, and the address follows the knobs as they change. An own network is `?net=own&design=…`,
//! the design's text itself. `?weights=<path on this site>` also
//! opens a weights file or checkpoint (the worker fetches it). Other parameters (`limit`, `data`)
//! are kept as they are.

use cnnscope::net::Arch;

use crate::setup::{KNOBS, Setup};

/// The page's query string (`?…`).
pub fn current_search() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// The address's parameters as (key, value), values decoded.
fn pairs(search: &str) -> Vec<(String, String)> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let decode = |s: &str| js_sys::decode_uri_component(&s.replace('+', " ")).ok().and_then(|d| d.as_string()).unwrap_or_else(|| s.to_string());
            (decode(k), decode(v))
        })
        .collect()
}

/// `?device=auto|gpu|cpu`: the engine the page asks its worker for (auto when absent).
pub fn device_choice(search: &str) -> Result<cnnscope::Choice, String> {
    match pairs(search).into_iter().find(|(k, _)| k == "device") {
        None => Ok(cnnscope::Choice::Auto),
        Some((_, v)) => v.parse().map_err(|e| format!("the address asks for device={v}: {e}")),
    }
}

/// The address with `?device=` set to `choice` (the other parameters as they are).
pub fn query_with_device(search: &str, choice: cnnscope::Choice) -> String {
    let encode = |s: &str| js_sys::encode_uri_component(s).as_string().unwrap_or_default();
    let mut parts: Vec<String> = pairs(search).into_iter().filter(|(k, _)| k != "device").map(|(k, v)| format!("{}={}", encode(&k), encode(&v))).collect();
    parts.push(format!("device={}", choice.name()));
    format!("?{}", parts.join("&"))
}

const NET: &str = "net";
const OPTIMIZER: &str = "optimizer";
const AUGMENT: &str = "augment";
const DESIGN: &str = "design";

fn is_setup_key(key: &str) -> bool {
    [NET, OPTIMIZER, AUGMENT, DESIGN].contains(&key) || KNOBS.iter().any(|k| k.key == key)
}

/// The setup the address gives (`None` when it gives none): the network's quick recipe with the
/// knobs the address sets. A value a knob would refuse is refused with the knob's own message.
pub fn setup_from_query(search: &str) -> Result<Option<Setup>, String> {
    let pairs = pairs(search);
    if !pairs.iter().any(|(k, _)| is_setup_key(k)) {
        return Ok(None);
    }
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let refused = |key: &str, value: &str, why: String| format!("the address asks for {key}={value}: {why}");
    // An own network's design is checked where it is edited, its mistakes shown at their line.
    let arch = match (value(NET), value(DESIGN)) {
        (Some("own"), Some(design)) => Arch::Own(design.into()),
        (Some("own"), None) => return Err(refused(NET, "own", "the address gives no design=".into())),
        (Some(v), _) => v.parse::<Arch>().map_err(|e| refused(NET, v, e))?,
        (None, _) => Arch::AlexNet,
    };
    let mut setup = Setup::for_net(arch);
    for knob in &KNOBS {
        if let Some(v) = value(knob.key) {
            (knob.set)(&mut setup, v).map_err(|e| refused(knob.key, v, e))?;
        }
    }
    match value(OPTIMIZER) {
        Some("adam") => setup.adam = true,
        Some("sgd") => setup.adam = false,
        Some(v) => return Err(refused(OPTIMIZER, v, "choose adam or sgd".into())),
        None => {}
    }
    match value(AUGMENT) {
        Some("true") => setup.augment = true,
        Some("false") | None => {}
        Some(v) => return Err(refused(AUGMENT, v, "say true or false".into())),
    }
    Ok(Some(setup))
}

/// `search` with the setup's parameters set to `setup` (the others kept, in their order).
pub fn query_with(search: &str, setup: &Setup) -> String {
    let encode = |s: &str| js_sys::encode_uri_component(s).as_string().unwrap_or_default();
    let mut parts: Vec<String> = pairs(search).into_iter().filter(|(k, _)| !is_setup_key(k)).map(|(k, v)| format!("{}={}", encode(&k), encode(&v))).collect();
    parts.push(format!("{NET}={}", setup.arch.id()));
    if let Arch::Own(design) = &setup.arch {
        parts.push(format!("{DESIGN}={}", encode(design)));
    }
    parts.extend(KNOBS.iter().map(|k| format!("{}={}", k.key, encode(&(k.get)(setup)))));
    parts.push(format!("{OPTIMIZER}={}", if setup.adam { "adam" } else { "sgd" }));
    parts.push(format!("{AUGMENT}={}", setup.augment));
    format!("?{}", parts.join("&"))
}

/// The value of the address's parameter `key`, decoded.
pub fn param(search: &str, key: &str) -> Option<String> {
    pairs(search).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `?weights=`: a weights file or checkpoint on this site to open, as an absolute URL.
pub fn weights_url(search: &str, page: &str) -> Option<Result<String, String>> {
    let path = param(search, "weights")?;
    Some(crate::site::on_this_site("weights", &path, page))
}
