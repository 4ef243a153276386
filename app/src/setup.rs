//! The knobs a user sets before training: network, scale, batch, optimiser, epochs, seed. Defaults
//! are each net's quick recipe (`cnnscope::train::Recipe::quick`) and seed 0.

use cnnscope::Gpu;
use cnnscope::net::{Arch, Net, NetConfig, Summary};
use cnnscope::ops::{Adam, Sgd};
use cnnscope::train::{Optimizer, Recipe};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    pub arch: Arch,
    pub ratio: usize,
    pub side: usize,
    pub second_hidden: bool,
    pub batch: usize,
    pub adam: bool,
    pub lr: f32,
    pub epochs: usize,
    /// Draws the initial weights and the batch order: the same seed trains the same way.
    pub seed: u64,
}

impl Setup {
    pub fn for_net(arch: Arch) -> Setup {
        let r = Recipe::quick(arch);
        Setup {
            arch,
            ratio: r.net.ratio,
            side: r.net.side,
            second_hidden: true,
            batch: r.batch,
            adam: matches!(r.optimizer, Optimizer::Adam(_)),
            lr: r.optimizer.lr(),
            epochs: r.epochs,
            seed: 0,
        }
    }

    pub fn config(&self) -> NetConfig {
        NetConfig { arch: self.arch, ratio: self.ratio, side: self.side, second_hidden: self.second_hidden }
    }

    pub fn net(&self) -> Result<Net, String> {
        Net::new(self.config()).map_err(|e| e.to_string())
    }

    pub fn optimizer(&self) -> Optimizer {
        if self.adam {
            Optimizer::Adam(Adam { lr: self.lr, ..Adam::default() })
        } else {
            Optimizer::Sgd(Sgd { lr: self.lr, momentum: 0.0, weight_decay: 0.0 })
        }
    }
}

/// Why this configuration will not fit the adapter, with what to lower; None when it fits.
pub fn fit_warning(gpu: &Gpu, summary: &Summary, batch: usize) -> Option<String> {
    let limit = gpu.max_binding_bytes();
    // u64 throughout: wasm32's usize overflows at 4 GiB, well within what a user can type.
    let largest = summary.rows.iter().map(|r| r.output.elements()).max().unwrap_or(0).max(summary.input.elements()) as u64;
    let bytes = largest.saturating_mul(batch as u64).saturating_mul(4);
    if bytes > limit {
        let max_batch = (limit / (largest * 4)).max(1);
        return Some(format!(
            "the largest activation needs {} MiB at batch {batch}, but this GPU binds at most {} MiB: lower the batch to {max_batch} or less, or the side or width",
            bytes >> 20,
            limit >> 20
        ));
    }
    None
}

/// GPU memory a training run needs: activations and their gradients for a batch, parameters with
/// their gradients and two optimiser moments.
pub fn training_bytes(summary: &Summary, batch: usize) -> u64 {
    let activations: u64 = summary.rows.iter().filter(|r| r.depth > 0 || r.kind != "Sequential").map(|r| r.output.elements() as u64).sum();
    (2 * 4 * activations).saturating_mul(batch as u64).saturating_add(16 * summary.params as u64)
}
