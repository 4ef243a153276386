//! Training with d2l's semantics: the whole step (gather and resize the batch, forward, loss,
//! backward, update) recorded as one step and submitted together (on the WGSL engine one command
//! buffer, or a few where a watchdog needs shorter submissions; on the CPU engine its tasks in
//! order); loss and accuracy accumulate on the device and are read once per reporting interval.

pub mod checkpoint;
mod evaluate;
pub mod layer_stats;
mod optimizer;
mod recipe;
mod run;
mod trainer;

pub use checkpoint::{Checkpoint, RunState};
pub use evaluate::{Evaluator, argmax};
pub use layer_stats::LayerStats;
pub use optimizer::Optimizer;
pub use recipe::{Recipe, TrainConfig, check_batch, sgd};
pub use run::{Cadence, EpochEnd, Happened, Progress, Readback, Run};
pub use trainer::Trainer;

/// The longest a submission should run: GPU watchdogs reset a device whose submission takes
/// about 2 s (Windows), 10 s (Chrome); a quarter of the shortest leaves room for a slow frame.
pub const SUBMIT_BUDGET_SECS: f64 = 0.5;

/// d2l's per-epoch line, as the CLI prints it and the app lists it.
pub fn epoch_line(epoch: usize, train: &Stats, test: &Stats, secs: f64, train_secs: f64) -> String {
    format!(
        "epoch {epoch}, loss {:.4}, train acc {:.3}, test acc {:.3}, time {secs:.1} sec, {:.1} images/s",
        train.loss(),
        train.accuracy(),
        test.accuracy(),
        train.examples / train_secs.max(1e-9)
    )
}

/// Loss and accuracy over some examples, as read from the GPU's running sums.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub loss_sum: f64,
    pub correct: f64,
    pub examples: f64,
}

impl Stats {
    fn from_sums(sums: &[f32]) -> Stats {
        Stats { loss_sum: sums[0] as f64, correct: sums[1] as f64, examples: sums[2] as f64 }
    }

    /// Mean cross-entropy per example.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.examples.max(1.0)
    }

    pub fn accuracy(&self) -> f64 {
        self.correct / self.examples.max(1.0)
    }

    /// The sums added since `earlier` was read.
    pub fn since(&self, earlier: Stats) -> Stats {
        Stats { loss_sum: self.loss_sum - earlier.loss_sum, correct: self.correct - earlier.correct, examples: self.examples - earlier.examples }
    }

    /// Whether training has run away: the mean loss is not finite, or above 100 × ln(classes) ≈
    /// 230, where the true class gets e^-230 of the probability on average. A net that learns never
    /// comes near that (at chance it is ln 10 ≈ 2.3); `--lr 1e9` reaches 1.6e9 in an epoch.
    pub fn diverged(&self) -> bool {
        let loss = self.loss();
        !loss.is_finite() || loss > 100.0 * (crate::net::CLASSES as f64).ln()
    }

    /// Whether these are chance-level figures for `classes` classes: loss within 0.5% of
    /// ln(classes) and accuracy under 1.5× guessing. Early in training that is normal; when it
    /// lasts, `Evaluator::dead_start` tells whether the output ignores the input (at
    /// narrow widths, a layer whose ReLUs are all off for every image from the start: GoogLeNet
    /// ÷16 with seed 5, where PyTorch, started from the same weights, stays at chance too).
    pub fn at_chance(&self, classes: usize) -> bool {
        let chance_loss = (classes as f64).ln();
        (self.loss() - chance_loss).abs() < 0.005 * chance_loss && self.accuracy() < 1.5 / classes as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    fn stats(loss: f64, accuracy: f64) -> Stats {
        Stats { loss_sum: loss * 1000.0, correct: accuracy * 1000.0, examples: 1000.0 }
    }

    #[test]
    fn chance_level_is_told_from_slow_learning() {
        // The epoch lines of GoogLeNet ÷16, seed 5 (stuck) and seeds 0 and 3 (learning).
        assert!(stats(2.3032, 0.099).at_chance(10));
        assert!(!stats(1.4877, 0.376).at_chance(10));
        assert!(!stats(1.7327, 0.303).at_chance(10));
        // Close to ln 10 but already above chance accuracy: learning has begun.
        assert!(!stats(2.29, 0.2).at_chance(10));
        assert!(!stats(2.2, 0.1).at_chance(10));
    }

    #[test]
    fn a_runaway_loss_is_divergence() {
        assert!(stats(f64::NAN, 0.1).diverged());
        assert!(stats(f64::INFINITY, 0.1).diverged());
        assert!(stats(1.6e9, 0.1).diverged());
        assert!(!stats(2.3026, 0.1).diverged());
        assert!(!stats(40.0, 0.1).diverged());
    }
}
