//! Why this prediction, for one image and any class, from the engine's own backward passes:
//! - a **saliency map** (Simonyan et al., 2013): |∂ score / ∂ input| at every input pixel;
//! - **Grad-CAM** (Selvaraju et al., 2017) on the last convolutional layer or block with a
//!   spatial output: ReLU(Σ_c α_c A_c), with A the layer's output (after its ReLU) and α_c the
//!   mean over positions of ∂ score / ∂ z_c, z the layer's pre-activation (so zero where a unit
//!   was off).
//!
//! The score is the class's logit, in evaluation mode (no dropout).

use crate::engine::error::{EngineError, Result};
use crate::engine::device::Device;
use crate::model::{Graph, Model};
use crate::engine::recorder::Recorder;
use crate::engine::tensor::Tensor;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    pub class: usize,
    /// The network's input side: `input` and `saliency` are side × side.
    pub side: usize,
    pub input: Vec<f32>,
    pub saliency: Vec<f32>,
    /// The layer Grad-CAM looked at, and its map (cam_h × cam_w, not normalised); no layer and an
    /// empty map when none has positions (an own network of linear layers: saliency alone).
    pub cam_layer: String,
    pub cam_h: usize,
    pub cam_w: usize,
    pub cam: Vec<f32>,
}

/// Explains `class` for the image that `fill` puts into the graph's input ([1, 1, side, side]).
pub async fn explain(device: &Device, model: &Model, fill: impl FnOnce(&mut Recorder, &Tensor) -> Result<()>, class: usize) -> Result<Explanation> {
    let mut graph = Graph::new(device, &model.net, 1, true)?;
    let classes = graph.logits().shape()[1];
    if class >= classes {
        return Err(EngineError::shape("explanation", format!("there is no class {class}: the network has {classes}")));
    }
    graph.compute_input_gradient();
    let param_grads = model.params.zeros_like(device, "gradient (explanation)")?;
    let mut one_hot = vec![0.0f32; classes];
    one_hot[class] = 1.0;
    let mut rec = Recorder::new(device);
    fill(&mut rec, graph.input())?;
    graph.forward(&mut rec, &model.params, false, 0)?;
    graph.logits_grad().expect("a training graph").write_f32(device, &one_hot)?;
    graph.backward(&mut rec, &model.params, &param_grads)?;
    rec.submit();

    let side = graph.input().shape()[2];
    let input = graph.input().read_f32(device).await?;
    let saliency = graph.input_grad().expect("asked for").read_f32(device).await?.into_iter().map(f32::abs).collect();
    // The last layer with parameters whose output still has positions.
    let layer = graph.weighted_layers().into_iter().rfind(|l| l.output.shape().len() == 4);
    let Some(layer) = layer else {
        return Ok(Explanation { class, side, input, saliency, cam_layer: String::new(), cam_h: 0, cam_w: 0, cam: Vec::new() });
    };
    let (channels, cam_h, cam_w) = (layer.output.shape()[1], layer.output.shape()[2], layer.output.shape()[3]);
    let a = layer.output.read_f32(device).await?;
    let g = graph.grad_of(layer.name).expect("a training graph").read_f32(device).await?;
    let area = cam_h * cam_w;
    let mut cam = vec![0.0f32; area];
    for c in 0..channels {
        let plane = c * area..(c + 1) * area;
        let alpha = g[plane.clone()].iter().sum::<f32>() / area as f32;
        for (out, &v) in cam.iter_mut().zip(&a[plane]) {
            *out += alpha * v;
        }
    }
    cam.iter_mut().for_each(|v| *v = v.max(0.0));
    Ok(Explanation { class, side, input, saliency, cam_layer: layer.name.to_string(), cam_h, cam_w, cam })
}
