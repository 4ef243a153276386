//! Weights files: safetensors with PyTorch's `state_dict` keys and layouts, so a file moves freely
//! between cnnscope and the d2l PyTorch modules. Loading checks everything before changing anything.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeSet, HashMap};

use safetensors::{Dtype, SafeTensors};

use crate::engine::error::{EngineError, Result};
use crate::net::{Arch, NetConfig, ParamSpec};

/// The metadata entry that makes a weights file a checkpoint (`crate::train::checkpoint` writes
/// and reads it; a weights reader only needs to know it is there).
pub const METADATA_KEY: &str = "cnnscope.checkpoint";

/// Whether `bytes` are a checkpoint (a weights file with training state), from its header alone:
/// the whole file, or only its start up to the header's end will do (a 1.2 GB checkpoint in the
/// browser's storage is told from its first bytes; safetensors' own reader wants every byte).
pub fn is_checkpoint(bytes: &[u8]) -> bool {
    header_metadata(bytes).is_ok_and(|m| m.is_some_and(|m| m.contains_key(METADATA_KEY)))
}

/// The bytes at the start of a safetensors file that hold its header (the 8-byte length and the
/// JSON), given at least its first 8 bytes.
pub fn header_len(start: &[u8]) -> Option<usize> {
    let len = u64::from_le_bytes(start.get(..8)?.try_into().ok()?);
    usize::try_from(len).ok()?.checked_add(8)
}

/// The `__metadata__` of the safetensors header at the start of a file (its first [`header_len`]
/// bytes will do), or why there is none to read.
pub fn header_metadata(start: &[u8]) -> std::result::Result<Option<HashMap<String, String>>, String> {
    #[derive(serde::Deserialize)]
    struct Json {
        #[serde(rename = "__metadata__")]
        metadata: Option<HashMap<String, String>>,
    }
    let json = header_len(start).and_then(|end| start.get(8..end)).ok_or("the file is shorter than its header")?;
    let json: Json = serde_json::from_slice(json).map_err(|e| format!("not a valid safetensors header ({e})"))?;
    Ok(json.metadata)
}

/// Serialises `values` (one per spec, in order) as f32 safetensors.
pub fn to_safetensors<V: AsRef<[f32]>>(specs: &[ParamSpec], values: &[V], metadata: Option<HashMap<String, String>>) -> Result<Vec<u8>> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = specs
        .iter()
        .zip(values)
        .map(|(spec, v)| {
            let view = safetensors::tensor::TensorView::new(Dtype::F32, spec.shape.clone(), bytemuck::cast_slice(v.as_ref()))
                .map_err(|e| EngineError::Weights(format!("{}: {e}", spec.name)))?;
            Ok((spec.name.clone(), view))
        })
        .collect::<Result<_>>()?;
    let mut bytes = safetensors::serialize(views, metadata).map_err(|e| EngineError::Weights(e.to_string()))?;
    canonical_header(&mut bytes)?;
    Ok(bytes)
}

/// Rewrites the file's JSON header with its keys sorted: safetensors writes the metadata (and the
/// tensors' entries) in a hash map's order, which changes from one save to the next, so the same
/// run saved twice gave different bytes. Sorted, a file is a function of its contents. The sorted
/// header has the same characters, so its length, padding and the data offsets stay.
fn canonical_header(bytes: &mut [u8]) -> Result<()> {
    let bad = || EngineError::Weights("safetensors wrote a header it cannot read back".into());
    let len = bytes.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).ok_or_else(bad)? as usize;
    let header = bytes.get_mut(8..8usize.saturating_add(len)).ok_or_else(bad)?;
    let parsed: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_slice(header).map_err(|_| bad())?;
    let sorted: std::collections::BTreeMap<String, std::collections::BTreeMap<String, serde_json::Value>> = parsed
        .into_iter()
        .map(|(k, v)| serde_json::from_value(v).map(|entry| (k, entry)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad())?;
    let text = serde_json::to_vec(&sorted).map_err(|_| bad())?;
    if text.len() > header.len() {
        return Err(bad());
    }
    let (json, padding) = header.split_at_mut(text.len());
    json.copy_from_slice(&text);
    padding.fill(b' ');
    Ok(())
}

/// The metadata that names a file's network (`SavedNet` reads it back).
pub fn net_metadata(c: &NetConfig) -> HashMap<String, String> {
    let mut meta: HashMap<String, String> =
        [("net", c.arch.id().to_string()), ("ratio", c.ratio.to_string()), ("side", c.side.to_string()), ("second_hidden", c.second_hidden.to_string())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    if let Arch::Own(design) = &c.arch {
        meta.insert(DESIGN.to_string(), design.to_string());
    }
    meta
}

/// The metadata key of an own network's description (`net` is then `own`).
const DESIGN: &str = "design";

/// Reads the parameters `specs` names from a weights file (or a checkpoint, whose optimiser
/// buffers are not parameters and are passed over), refusing missing or extra keys, other dtypes
/// and other shapes, with the reason.
pub fn from_safetensors(specs: &[ParamSpec], bytes: &[u8]) -> Result<Vec<Vec<f32>>> {
    read(specs, bytes, is_checkpoint(bytes))
}

/// Reads exactly the tensors `specs` names: no other key may be present.
pub fn from_safetensors_exact(specs: &[ParamSpec], bytes: &[u8]) -> Result<Vec<Vec<f32>>> {
    read(specs, bytes, false)
}

fn read(specs: &[ParamSpec], bytes: &[u8], skip_optimizer: bool) -> Result<Vec<Vec<f32>>> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| EngineError::Weights(format!("not a valid safetensors file ({e})")))?;
    if let Some(key) = duplicate_key(bytes) {
        return Err(EngineError::Weights(format!("its header names {key} twice: which one is meant is unclear")));
    }
    let present: BTreeSet<&str> = file.names().into_iter().filter(|n| !(skip_optimizer && n.starts_with("optimizer."))).collect();
    check_names(specs, &present)?;
    specs
        .iter()
        .map(|spec| {
            let t = file.tensor(&spec.name).map_err(|e| EngineError::Weights(format!("{}: {e}", spec.name)))?;
            values(spec, t.dtype(), t.shape(), t.data())
        })
        .collect()
}

/// Refuses a file whose tensor names are not exactly `specs`', listing what is missing and what
/// is unexpected.
pub(crate) fn check_names(specs: &[ParamSpec], present: &BTreeSet<&str>) -> Result<()> {
    let expected: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let missing: Vec<&str> = expected.difference(present).copied().collect();
    let extra: Vec<&str> = present.difference(&expected).copied().collect();
    if !missing.is_empty() || !extra.is_empty() {
        let list = |keys: &[&str]| {
            let shown: Vec<&str> = keys.iter().take(4).copied().collect();
            let more = if keys.len() > 4 { format!(" and {} more", keys.len() - 4) } else { String::new() };
            format!("{}{more}", shown.join(", "))
        };
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", list(&missing)));
        }
        if !extra.is_empty() {
            parts.push(format!("unexpected {}", list(&extra)));
        }
        return Err(EngineError::Weights(format!("it does not fit this network ({})", parts.join("; "))));
    }
    Ok(())
}

/// One tensor's values, if it is the f32 tensor of `spec`'s shape.
pub(crate) fn values(spec: &ParamSpec, dtype: Dtype, shape: &[usize], data: &[u8]) -> Result<Vec<f32>> {
    if dtype != Dtype::F32 {
        return Err(EngineError::Weights(format!("{} is {dtype:?}, expected F32", spec.name)));
    }
    if shape != spec.shape.as_slice() {
        return Err(EngineError::Weights(format!("{} has shape {shape:?}, this network needs {:?}", spec.name, spec.shape)));
    }
    // An exact-size iterator, so the Vec is allocated once at its size: a `filter_map` has no
    // lower bound, and its Vec doubles (VGG-11's 411 MB weight asked for 512 MB, copying as it grew).
    Ok(data.chunks_exact(4).map(|b| <[u8; 4]>::try_from(b).map_or(0.0, f32::from_le_bytes)).collect())
}

/// The network a weights file says it holds: the metadata `cnnscope train --save` and the app
/// write (`net`, `ratio`, `side`, `second_hidden`), each field where present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedNet {
    pub arch: Option<Arch>,
    pub ratio: Option<usize>,
    pub side: Option<usize>,
    pub second_hidden: Option<bool>,
}

impl SavedNet {
    /// Reads the metadata; a value that is there but unreadable is an error, not a guess.
    pub fn read(bytes: &[u8]) -> Result<SavedNet> {
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| EngineError::Weights(format!("not a valid safetensors file ({e})")))?;
        metadata.metadata().as_ref().map(SavedNet::from_metadata).transpose().map(Option::unwrap_or_default)
    }

    /// The fields of a file's metadata entries.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<SavedNet> {
        fn field<T: std::str::FromStr>(meta: &HashMap<String, String>, key: &str) -> Result<Option<T>> {
            meta.get(key)
                .map(|v| v.parse().map_err(|_| EngineError::Weights(format!("its metadata gives {key} = {v:?}, which cnnscope cannot read"))))
                .transpose()
        }
        let arch = match (meta.get("net").map(String::as_str), meta.get(DESIGN)) {
            (Some("own"), Some(design)) => Some(Arch::Own(design.as_str().into())),
            (Some("own"), None) => return Err(EngineError::Weights("its metadata says net = own but gives no design".into())),
            _ => field(meta, "net")?,
        };
        Ok(SavedNet { arch, ratio: field(meta, "ratio")?, side: field(meta, "side")?, second_hidden: field(meta, "second_hidden")? })
    }

    /// The file's network, each missing field taken from `defaults` (and the architecture from
    /// `arch` when the file does not name one).
    pub fn config(&self, defaults: NetConfig) -> NetConfig {
        NetConfig {
            arch: self.arch.clone().unwrap_or(defaults.arch),
            ratio: self.ratio.unwrap_or(defaults.ratio),
            side: self.side.unwrap_or(defaults.side),
            second_hidden: self.second_hidden.unwrap_or(defaults.second_hidden),
        }
    }
}

/// A key the header's JSON object holds more than once. safetensors (through serde's maps) keeps
/// the last silently; a file like that was not written by a well-behaved tool. Only called on a
/// file `SafeTensors::deserialize` accepted, so the header is there and is JSON.
pub(crate) fn duplicate_key(bytes: &[u8]) -> Option<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, serde::de::IgnoredAny)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visitor)
        }
    }
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = bytes.get(8..8usize.checked_add(len)?)?;
    let Keys(mut keys) = serde_json::from_slice(header).ok()?;
    keys.sort_unstable();
    keys.windows(2).find_map(|w| match w {
        [a, b] if a == b => Some(a.clone()),
        _ => None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The same tensors and metadata saved twice give the same bytes (each save's hash maps order
    /// their keys anew), and the file reads back whole.
    #[test]
    fn a_file_is_a_function_of_its_contents() {
        let specs: Vec<ParamSpec> = ["b.weight", "a.weight", "c.bias"].iter().map(|n| ParamSpec { name: n.to_string(), shape: vec![2, 3] }).collect();
        let values: Vec<Vec<f32>> = (0..3).map(|i| (0..6).map(|j| (i * 6 + j) as f32).collect()).collect();
        let metadata = || Some((0..12).map(|i| (format!("key{i}"), format!("value {i}"))).collect::<HashMap<_, _>>());
        let first = to_safetensors(&specs, &values, metadata()).unwrap();
        for _ in 0..5 {
            assert!(to_safetensors(&specs, &values, metadata()).unwrap() == first, "the same contents, other bytes");
        }
        let read = SafeTensors::deserialize(&first).unwrap();
        assert_eq!(read.tensor("a.weight").unwrap().data(), bytemuck::cast_slice::<f32, u8>(&values[1]));
        let (_, meta) = SafeTensors::read_metadata(&first).unwrap();
        assert_eq!(meta.metadata().as_ref().unwrap().get("key7").map(String::as_str), Some("value 7"));
    }

    /// A checkpoint is told from its header alone: the page reads a kept or picked file's first
    /// bytes, never all of it, to decide how to open it. (safetensors' `read_metadata` wanted the
    /// whole file, and a 1.2 GB checkpoint's start read as weights.)
    #[test]
    fn a_checkpoint_is_told_from_its_header() {
        let specs = vec![ParamSpec { name: "w".into(), shape: vec![2, 3] }];
        let values = vec![vec![1.0f32; 6]];
        let checkpoint = to_safetensors(&specs, &values, Some(HashMap::from([(METADATA_KEY.to_string(), "{}".to_string())]))).unwrap();
        let weights = to_safetensors(&specs, &values, Some(HashMap::from([("other".to_string(), "x".to_string())]))).unwrap();
        let end = 8 + u64::from_le_bytes(checkpoint[..8].try_into().unwrap()) as usize;
        assert!(is_checkpoint(&checkpoint) && is_checkpoint(&checkpoint[..end]), "the whole file, and its header alone");
        assert!(!is_checkpoint(&checkpoint[..end - 1]), "a header cut short");
        assert!(!is_checkpoint(&weights) && !is_checkpoint(b"not a file"));
    }
}
