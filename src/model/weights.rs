//! Weights files: safetensors with PyTorch's `state_dict` keys and layouts, so a file moves freely
//! between cnnscope and the d2l PyTorch modules. Loading checks everything before changing anything.

use std::collections::{BTreeSet, HashMap};

use safetensors::{Dtype, SafeTensors};

use crate::error::{EngineError, Result};
use crate::net::ParamSpec;

/// Serialises `values` (one per spec, in order) as f32 safetensors.
pub fn to_safetensors(specs: &[ParamSpec], values: &[Vec<f32>], metadata: Option<HashMap<String, String>>) -> Result<Vec<u8>> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = specs
        .iter()
        .zip(values)
        .map(|(spec, v)| {
            let view = safetensors::tensor::TensorView::new(Dtype::F32, spec.shape.clone(), bytemuck::cast_slice(v.as_slice()))
                .map_err(|e| EngineError::Weights(format!("{}: {e}", spec.name)))?;
            Ok((spec.name.clone(), view))
        })
        .collect::<Result<_>>()?;
    safetensors::serialize(views, metadata).map_err(|e| EngineError::Weights(e.to_string()))
}

/// Reads the tensors `specs` names from a safetensors file, refusing missing or extra keys, other
/// dtypes and other shapes, with the reason.
pub fn from_safetensors(specs: &[ParamSpec], bytes: &[u8]) -> Result<Vec<Vec<f32>>> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| EngineError::Weights(format!("not a valid safetensors file ({e})")))?;
    let expected: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let present: BTreeSet<&str> = file.names().into_iter().collect();
    let missing: Vec<&str> = expected.difference(&present).copied().collect();
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
    specs
        .iter()
        .map(|spec| {
            let t = file.tensor(&spec.name).map_err(|e| EngineError::Weights(format!("{}: {e}", spec.name)))?;
            if t.dtype() != Dtype::F32 {
                return Err(EngineError::Weights(format!("{} is {:?}, expected F32", spec.name, t.dtype())));
            }
            if t.shape() != spec.shape.as_slice() {
                return Err(EngineError::Weights(format!("{} has shape {:?}, this network needs {:?}", spec.name, t.shape(), spec.shape)));
            }
            Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        })
        .collect()
}
