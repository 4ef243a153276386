//! Per-layer statistics: why a network learns or doesn't, layer by layer. For every layer with
//! parameters, after a training step:
//! - the mean and (population) standard deviation of its output over the batch;
//! - for a layer that ends in a ReLU, the fraction of its units that were zero for every image of
//!   the batch ("dead": nothing flows back through them);
//! - the norm of its parameters' gradient;
//! - the ratio of the step's update norm to the parameters' norm (about 1e-3 is the usual
//!   healthy order; far below, the layer has stopped moving; far above, it is thrashing).
//!
//! Each tensor is summarised where it lives (`ops::tensor_stats`: one workgroup on the WGSL engine); only four numbers
//! per tensor come back. The CLI (`train --stats`) and the app show the same figures and hints.

use crate::engine::error::Result;
use crate::engine::device::Device;
use crate::model::{Graph, Parameters};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};
use crate::train::optimizer::OptimizerState;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerStats {
    pub name: String,
    pub mean: f64,
    pub std: f64,
    /// Fraction of units off for the whole batch; `None` for a layer without a ReLU.
    pub dead: Option<f64>,
    pub grad_norm: f64,
    pub weight_norm: f64,
    /// ‖update‖ / ‖parameters‖ of the last step.
    pub update_ratio: f64,
}

pub(crate) async fn measure(device: &Device, graph: &Graph, params: &Parameters, grads: &[Tensor], optimizer: &OptimizerState) -> Result<Vec<LayerStats>> {
    let layers = graph.weighted_layers();
    let slots: usize = layers.iter().map(|l| 1 + 3 * l.params.len()).sum();
    let out = Tensor::zeros(device, &[4 * slots.max(1)], DType::F32, "layer statistics")?;
    let mut rec = Recorder::new(device);
    let mut slot = 0;
    let mut rates = Vec::new();
    for layer in &layers {
        crate::ops::tensor_stats(&mut rec, layer.output, graph.batch, &out, slot)?;
        slot += 1;
        for p in layer.params.clone() {
            crate::ops::tensor_stats(&mut rec, &grads[p], 1, &out, slot)?;
            crate::ops::tensor_stats(&mut rec, &params.tensors[p], 1, &out, slot + 1)?;
            rates.push(optimizer.record_update(&mut rec, p, &grads[p], &out, slot + 2)?);
            slot += 3;
        }
    }
    rec.submit();
    let v: Vec<f64> = out.read_f32(device).await?.into_iter().map(f64::from).collect();
    let sums = |slot: usize| (v[4 * slot], v[4 * slot + 1], v[4 * slot + 2]);
    let mut slot = 0;
    let mut rates = rates.into_iter();
    Ok(layers
        .iter()
        .map(|layer| {
            let (sum, squares, dead) = sums(slot);
            let n = layer.output.len() as f64;
            let units = n / graph.batch as f64;
            let mean = sum / n;
            slot += 1;
            let (mut grad, mut weight, mut update) = (0.0, 0.0, 0.0);
            for _ in layer.params.clone() {
                let lr = rates.next().unwrap_or(0.0) as f64;
                grad += sums(slot).1;
                weight += sums(slot + 1).1;
                update += lr * lr * sums(slot + 2).1;
                slot += 3;
            }
            LayerStats {
                name: layer.name.to_string(),
                mean,
                std: (squares / n - mean * mean).max(0.0).sqrt(),
                dead: layer.relu.then_some(dead / units),
                grad_norm: grad.sqrt(),
                weight_norm: weight.sqrt(),
                update_ratio: update.sqrt() / weight.sqrt().max(f64::MIN_POSITIVE),
            }
        })
        .collect())
}

/// Plain-language hints for layers that stopped learning. A layer whose ReLUs are all off
/// explains every vanished gradient around it (nothing flows back through it, and the layers
/// after it see only zeros), so only the deepest such layer is named; otherwise the layers whose
/// gradient vanished are.
pub fn hints(stats: &[LayerStats]) -> Vec<String> {
    let dead: Vec<&str> = stats.iter().filter(|s| s.dead.is_some_and(|d| d >= 0.999)).map(|s| s.name.as_str()).collect();
    if let Some(deepest) = dead.last() {
        let others = match dead.len() - 1 {
            0 => String::new(),
            1 => format!("; {} is all off too", dead[0]),
            n => format!("; {n} earlier layers are all off too"),
        };
        return vec![format!("layer {deepest}'s ReLUs are off for every image: nothing before it learns{others} (a lower learning rate, another seed or a smaller width ratio helps)")];
    }
    let vanished: Vec<&str> = stats.iter().filter(|s| s.grad_norm < 1e-8).map(|s| s.name.as_str()).collect();
    match vanished.as_slice() {
        [] => Vec::new(),
        [one] => vec![format!("layer {one}'s gradient has vanished: its weights no longer change")],
        many => vec![format!("the gradient has vanished in layers {}: their weights no longer change", many.join(", "))],
    }
}

/// The statistics as a table, one layer a line (the CLI's `--stats`).
pub fn table(stats: &[LayerStats]) -> String {
    let mut out = format!("{:<12} {:>10} {:>10} {:>7} {:>11} {:>14}\n", "layer", "mean", "std", "dead", "‖grad‖", "update/weight");
    for s in stats {
        let dead = s.dead.map(|d| format!("{:.1}%", 100.0 * d)).unwrap_or_else(|| "—".into());
        out += &format!("{:<12} {:>10.4} {:>10.4} {:>7} {:>11.3e} {:>14.3e}\n", s.name, s.mean, s.std, dead, s.grad_norm, s.update_ratio);
    }
    for hint in hints(stats) {
        out += &format!("note: {hint}\n");
    }
    out
}
