//! Test-set evaluation: forward passes without dropout over every example, loss and accuracy summed
//! on the device, read back once.

use crate::data::DeviceSplit;
use crate::engine::error::{EngineError, Result};
use crate::net::fit::Run;
use crate::engine::device::Device;
use crate::model::{Graph, Model};
use crate::net::CLASSES;
use crate::ops;
use crate::engine::recorder::Recorder;
use crate::engine::tensor::{DType, Tensor};
use crate::train::Stats;

/// Graphs for full batches and for the last partial one, with their buffers.
pub struct Evaluator {
    passes: Vec<Pass>,
    order: Tensor,
    stats: Tensor,
    count: usize,
}

struct Pass {
    graph: Graph,
    labels: Tensor,
    grad_scratch: Tensor,
}

impl Evaluator {
    /// Prepares to evaluate `model`'s network on all of `data` in batches of `batch`, or of the
    /// largest half, quarter, … of it that fits the adapter.
    pub fn new(device: &Device, model: &Model, data: &DeviceSplit, batch: usize) -> Result<Evaluator> {
        if batch == 0 {
            return Err(EngineError::setting("batch size", "0 images per batch: it must be at least 1"));
        }
        if data.count == 0 {
            return Err(EngineError::setting("test set", "there are no test images to evaluate on (is --limit 0?)"));
        }
        // The evaluation batch sets only the speed, not the result: halve it until it fits the
        // adapter (a training batch that fits may not fit as a 256-image evaluation batch).
        let mut batch = batch.min(data.count);
        while batch > 1 && crate::net::fit::check(device, &model.net, Run::Evaluation { batch }).is_err() {
            batch /= 2;
        }
        crate::net::fit::check(device, &model.net, Run::Evaluation { batch })?;
        let mut sizes = vec![batch];
        if data.count % batch != 0 {
            sizes.push(data.count % batch);
        }
        let passes = sizes
            .into_iter()
            .map(|b| {
                let graph = Graph::new(device, &model.net, b, false)?;
                let grad_scratch = Tensor::zeros(device, graph.logits().shape(), DType::F32, "evaluation gradient (unused)")?;
                Ok(Pass { labels: Tensor::zeros(device, &[b], DType::U32, "evaluation labels")?, graph, grad_scratch })
            })
            .collect::<Result<_>>()?;
        let order: Vec<u32> = (0..data.count as u32).collect();
        Ok(Evaluator {
            passes,
            order: Tensor::from_u32(device, &[data.count], &order, "evaluation order")?,
            stats: Tensor::zeros(device, &[3], DType::F32, "evaluation statistics")?,
            count: data.count,
        })
    }

    /// Records gathering and the forward pass of the batch starting at `first`, on the graph for
    /// its size; returns the recorder (not yet submitted) and which pass it used.
    fn record_forward<'g>(&mut self, device: &'g Device, model: &Model, data: &DeviceSplit, first: usize) -> Result<(Recorder<'g>, usize)> {
        let index = if self.count - first >= self.passes[0].graph.batch { 0 } else { self.passes.len() - 1 };
        let pass = &mut self.passes[index];
        let mut rec = Recorder::new(device);
        ops::gather_resize(&mut rec, &data.pixels, data.side, &data.labels, &self.order, first, pass.graph.input(), &pass.labels, None)?;
        pass.graph.forward(&mut rec, &model.params, false, 0)?;
        Ok((rec, index))
    }

    /// The predicted class of every example of `data`, in order (for a confusion matrix). Reads
    /// each batch's logits back: only for what a results view shows.
    pub async fn predict(&mut self, device: &Device, model: &Model, data: &DeviceSplit) -> Result<Vec<u8>> {
        let mut predictions = Vec::with_capacity(self.count);
        let mut first = 0;
        while first < self.count {
            let (rec, index) = self.record_forward(device, model, data, first)?;
            rec.submit();
            let logits = self.passes[index].graph.logits();
            let classes = logits.shape()[1];
            predictions.extend(logits.read_f32(device).await?.chunks_exact(classes).map(|row| argmax(row) as u8));
            first += self.passes[index].graph.batch;
        }
        Ok(predictions)
    }

    /// Whether `model` gives every example of the first batch the same logits: its output does not
    /// depend on its input, as when one layer's ReLUs are off for every image. One batch forward
    /// and one readback; false for a batch of one.
    pub async fn output_is_constant(&mut self, device: &Device, model: &Model, data: &DeviceSplit) -> Result<bool> {
        let (rec, index) = self.record_forward(device, model, data, 0)?;
        rec.submit();
        let logits = self.passes[index].graph.logits();
        let classes = logits.shape()[1];
        let values = logits.read_f32(device).await?;
        let first = &values[..classes];
        let scale = first.iter().fold(f32::MIN_POSITIVE, |m, v| m.max(v.abs()));
        Ok(values.len() > classes && values.chunks_exact(classes).all(|row| row.iter().zip(first).all(|(a, b)| (a - b).abs() <= 1e-6 * scale)))
    }

    /// Why training cannot progress, when the epoch that gave `train` shows it cannot: its figures
    /// are at chance (`Stats::at_chance`) and every example gets the same output. The CLI and the
    /// app print this, each with its own remedy. The readback happens only at chance.
    pub async fn dead_start(&mut self, device: &Device, model: &Model, data: &DeviceSplit, train: &Stats) -> Result<Option<String>> {
        if !train.at_chance(CLASSES) || !self.output_is_constant(device, model, data).await? {
            return Ok(None);
        }
        Ok(Some(format!(
            "the loss is still ln {CLASSES} (chance) and every image gets the same output: one layer's ReLUs are off \
             for every image, so no gradient reaches the layers before it. At narrow widths some starts are like that"
        )))
    }

    /// Loss and accuracy of `model` over every example of `data`.
    pub async fn run(&mut self, device: &Device, model: &Model, data: &DeviceSplit) -> Result<Stats> {
        self.stats.write_f32(device, &[0.0; 3])?;
        let mut first = 0;
        while first < self.count {
            let (mut rec, index) = self.record_forward(device, model, data, first)?;
            let pass = &self.passes[index];
            ops::softmax_cross_entropy(&mut rec, pass.graph.logits(), &pass.labels, &pass.grad_scratch, &self.stats, pass.graph.batch)?;
            rec.submit();
            first += pass.graph.batch;
        }
        Ok(Stats::from_sums(&self.stats.read_f32(device).await?))
    }
}

/// The class with the largest score, the first of equals (as PyTorch's and NumPy's `argmax`, so an
/// image whose logits tie, such as a dead network's zeros, gets the same class from cnnscope, its
/// ONNX export and PyTorch).
pub fn argmax(scores: &[f32]) -> usize {
    scores.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

#[cfg(test)]
mod tests {
    #[test]
    fn argmax_takes_the_first_of_equals() {
        assert_eq!(super::argmax(&[0.0; 10]), 0);
        assert_eq!(super::argmax(&[1.0, 3.0, 3.0, -2.0]), 1);
        assert_eq!(super::argmax(&[-5.0, -1.0]), 1);
    }
}
