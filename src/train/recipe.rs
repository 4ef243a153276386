//! Training recipes: d2l's published ones (DESIGN.md §2, the Dive-into-DL-PyTorch edition, all
//! Adam) and the scaled-down defaults cnnscope starts from.

use crate::engine::error::{EngineError, Result};
use crate::model::Init;
use crate::net::{Arch, NetConfig};
use crate::ops::{Adam, Sgd};
use crate::train::Optimizer;

#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub net: NetConfig,
    pub batch: usize,
    pub optimizer: Optimizer,
    pub init: Init,
    pub epochs: usize,
}

fn adam(lr: f32) -> Optimizer {
    Optimizer::Adam(Adam { lr, ..Adam::default() })
}

impl Recipe {
    /// The recipe d2l publishes an accuracy for: full width (VGG at ratio 8), native side, 5 epochs.
    pub fn d2l(arch: Arch) -> Recipe {
        let (ratio, batch, lr) = match arch {
            // An own network: as written, with AlexNet's and GoogLeNet's recipe.
            Arch::AlexNet | Arch::Own(_) => (1, 128, 1e-3),
            Arch::Vgg11 => (8, 64, 1e-3),
            Arch::Nin => (1, 128, 2e-3),
            Arch::GoogLeNet => (1, 128, 1e-3),
        };
        Recipe { net: NetConfig::new(arch, ratio), batch, optimizer: adam(lr), init: Init::Default, epochs: 5 }
    }

    /// cnnscope's default: d2l's optimiser and learning rate on a net scaled (width ÷8–16, smaller
    /// side) so that a CPU adapter trains an epoch in minutes and a laptop GPU in about one.
    pub fn quick(arch: Arch) -> Recipe {
        let d2l = Recipe::d2l(arch.clone());
        let (ratio, side) = match arch {
            Arch::Own(_) => (1, arch.native_side()),
            Arch::AlexNet => (8, 112),
            Arch::Vgg11 => (16, 64),
            Arch::Nin => (8, 112),
            Arch::GoogLeNet => (8, 64),
        };
        Recipe { net: NetConfig::new(arch, ratio).with_side(side), batch: 64, epochs: 1, ..d2l }
    }
}

/// SGD as d2l v2's recipes use it (no momentum).
pub fn sgd(lr: f32, momentum: f32, weight_decay: f32) -> Optimizer {
    Optimizer::Sgd(Sgd { lr, momentum, weight_decay })
}

/// How one run trains, beside its network: what a checkpoint keeps of the recipe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    pub batch: usize,
    pub optimizer: Optimizer,
    /// Seeds the shuffles and dropout masks (initialisation has its own, in [`Model::new`]).
    pub seed: u64,
    /// Flip, crop and jitter each training image ([`crate::engine::augment`]).
    pub augment: bool,
}

impl TrainConfig {
    /// Refuses a configuration no run can use, naming the knob.
    pub fn check(&self) -> Result<()> {
        check_batch(self.batch)?;
        self.optimizer.check()
    }
}

/// Refuses a batch of no images.
pub fn check_batch(batch: usize) -> Result<()> {
    if batch == 0 {
        return Err(EngineError::setting("batch size", "0 images per batch: it must be at least 1 (d2l uses 64–256)"));
    }
    Ok(())
}
