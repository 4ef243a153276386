//! One image through the model (evaluation mode): every layer's output and the class
//! probabilities, for the page's feature maps; and the whole test set classified.

use cnnscope::data::DeviceSplit;
use cnnscope::model::{Graph, Model};
use cnnscope::train::Evaluator;
use cnnscope::{DType, Device, Recorder, Tensor, ops};

use crate::protocol::{Evaluation, Explanation, Image, Inspection, LayerOutput};

/// Mistakes sent for the gallery.
const GALLERY: usize = 24;

/// Runs test image `index` through the model and reads every layer's output, the class
/// probabilities and its label.
pub async fn inspect(device: &Device, model: &Model, test: &DeviceSplit, index: usize) -> Result<Inspection, String> {
    let e = |e: cnnscope::EngineError| e.to_string();
    if index >= test.count {
        return Err(format!("there is no test image #{index}: the test set has {} images, #0 to #{}", test.count, test.count.saturating_sub(1)));
    }
    let mut graph = Graph::new(device, &model.net, 1, false).map_err(e)?;
    let order = Tensor::from_u32(device, &[1], &[index as u32], "inspected image").map_err(e)?;
    let label = Tensor::zeros(device, &[1], DType::U32, "inspected label").map_err(e)?;
    let probs = Tensor::zeros(device, graph.logits().shape(), DType::F32, "probabilities").map_err(e)?;
    let mut rec = Recorder::new(device);
    ops::gather_resize(&mut rec, &test.pixels, test.side, &test.labels, &order, 0, graph.input(), &label, None).map_err(e)?;
    graph.forward(&mut rec, &model.params, false, 0).map_err(e)?;
    ops::softmax(&mut rec, graph.logits(), &probs).map_err(e)?;
    rec.submit();

    let summary = cnnscope::net::Summary::new(&model.net).map_err(e)?;
    let mut layers = vec![LayerOutput {
        name: "input".into(),
        kind: "input".into(),
        shape: graph.input().shape()[1..].to_vec(),
        values: graph.input().read_f32(device).await.map_err(e)?,
    }];
    let mut seen: Vec<&Tensor> = Vec::new();
    for (name, tensor) in graph.outputs() {
        // A fused ReLU shares its layer's output; dropout is the identity when evaluating.
        let kind = summary.rows.iter().find(|r| r.name == name).map(|r| r.kind).ok_or_else(|| format!("layer {name} is not in the layer table"))?;
        if matches!(kind, "ReLU" | "Dropout" | "Flatten") || seen.iter().any(|t| t.same_memory(tensor)) {
            continue;
        }
        seen.push(tensor);
        layers.push(LayerOutput { name: name.to_string(), kind: kind.to_string(), shape: tensor.shape()[1..].to_vec(), values: tensor.read_f32(device).await.map_err(e)? });
    }
    let label = label.read_u32(device).await.map_err(e)?[0] as usize;
    Ok(Inspection { layers, probs: probs.read_f32(device).await.map_err(e)?, label: Some(label) })
}

/// Runs a 28×28 grey image of the user's own (drawn or picked) through the model.
pub async fn inspect_pixels(device: &Device, model: &Model, pixels: Vec<u8>) -> Result<Inspection, String> {
    let uploaded = one_image(device, pixels)?;
    let inspection = inspect(device, model, &uploaded, 0).await?;
    Ok(Inspection { label: None, ..inspection })
}

/// Classifies every test image; `test` holds the same images on the CPU (labels, gallery).
pub async fn evaluate(device: &Device, model: &Model, on_device: &DeviceSplit, test: &cnnscope::data::Split, batch: usize) -> Result<Evaluation, String> {
    let predictions = async {
        let mut evaluator = Evaluator::new(device, model, on_device, batch)?;
        evaluator.predict(device, model, on_device).await
    }
    .await
    .map_err(|e| e.to_string())?;
    let (rows, cols) = (test.images.rows, test.images.cols);
    let mistakes = predictions
        .iter()
        .zip(&test.labels)
        .enumerate()
        .filter(|(_, (p, l))| p != l)
        .take(GALLERY)
        .map(|(i, _)| (i, test.images.pixels[i * rows * cols..(i + 1) * rows * cols].to_vec()))
        .collect();
    Ok(Evaluation { predictions, labels: test.labels.clone(), rows, cols, mistakes })
}

/// Why `class` for `image` (a test image, or an own picture): saliency and Grad-CAM.
pub async fn explain(device: &Device, model: &Model, test: &DeviceSplit, image: &Image, class: usize) -> Result<Explanation, String> {
    let own;
    let (source, index) = match image {
        Image::Test(i) => (test, *i),
        Image::Pixels(pixels) => {
            own = one_image(device, pixels.clone())?;
            (&own, 0)
        }
    };
    if index >= source.count {
        return Err(format!("there is no test image #{index}: the test set has {} images", source.count));
    }
    let order = Tensor::from_u32(device, &[1], &[index as u32], "explained image").map_err(|e| e.to_string())?;
    let label = Tensor::zeros(device, &[1], DType::U32, "explained label").map_err(|e| e.to_string())?;
    let fill = |rec: &mut Recorder, input: &Tensor| ops::gather_resize(rec, &source.pixels, source.side, &source.labels, &order, 0, input, &label, None);
    cnnscope::model::explain::explain(device, model, fill, class).await.map_err(|e| e.to_string())
}

/// A 28×28 grey picture as a one-image split on the device.
fn one_image(device: &Device, pixels: Vec<u8>) -> Result<DeviceSplit, String> {
    const SIDE: usize = 28;
    if pixels.len() != SIDE * SIDE {
        return Err(format!("an own image has {} pixels, not {SIDE}×{SIDE}", pixels.len()));
    }
    let split = cnnscope::data::Split { images: cnnscope::data::Images { count: 1, rows: SIDE, cols: SIDE, pixels }, labels: vec![0] };
    split.upload(device).map_err(|e| e.to_string())
}
