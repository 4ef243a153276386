//! Training with d2l's semantics: the whole step (gather and resize the batch, forward, loss,
//! backward, update) in one command buffer; loss and accuracy accumulate on the GPU and are read
//! once per reporting interval.

mod evaluate;
mod optimizer;
mod recipe;
mod trainer;

pub use evaluate::Evaluator;
pub use optimizer::Optimizer;
pub use recipe::{Recipe, sgd};
pub use trainer::{Trainer, TrainConfig};

/// Loss and accuracy over some examples, as read from the GPU's running sums.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub loss_sum: f64,
    pub correct: f64,
    pub examples: f64,
}

impl Stats {
    fn from_gpu(sums: &[f32]) -> Stats {
        Stats { loss_sum: sums[0] as f64, correct: sums[1] as f64, examples: sums[2] as f64 }
    }

    /// Mean cross-entropy per example.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.examples.max(1.0)
    }

    pub fn accuracy(&self) -> f64 {
        self.correct / self.examples.max(1.0)
    }

    pub fn add(&mut self, other: Stats) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.examples += other.examples;
    }
}
