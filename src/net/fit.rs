//! Whether a run fits the engine, decided from the network description before anything is
//! allocated: every tensor against the largest buffer a kernel may bind, and the whole run against
//! a memory budget. The engine's constructors ([`crate::model::Model::new`], the trainer, the
//! evaluator), the CLI and the app all go through this one check ([`check`]), so the host never builds (or
//! asks the device for) what the device could not hold.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::engine::device::{Capacity, Device};
use crate::engine::error::{EngineError, Result, human};
use crate::net::{Layer, Net, Shape};
use crate::ops::PoolKind;

/// GPU memory one run may take in all. WebGPU reports no memory size, so the budget is fixed:
/// 4 GiB holds every d2l recipe (the largest, AlexNet ÷1 at batch 128, needs ~1.6 GiB) and is a
/// share a browser tab on a laptop with shared graphics memory can still be given.
pub const MEMORY_BUDGET: u64 = 4 << 30;

/// The planned tensor of the training images ([`MemoryPlan::with_dataset`]).
const DATASET: &str = "the training images' buffer";
/// What the host holds while a run opens from its checkpoint ([`MemoryPlan::in_micro_batches`]).
const OPENING: &str = "a checkpoint being opened (its tensors, beside the run they become)";

/// What a run allocates besides the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// The parameters alone (a model to load weights into).
    Weights,
    /// Forward passes of `batch` images.
    Evaluation { batch: usize },
    /// Forward and backward passes of `batch` images, a gradient per parameter and the
    /// optimiser's `moments` buffers per parameter (SGD 1, Adam 2).
    Training { batch: usize, moments: usize },
}

/// One planned tensor: its name, the size of its buffer, how many such buffers the run keeps
/// (a parameter's gradient and moments, an activation's gradient), and its bytes per image when
/// it scales with the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub bytes: u64,
    pub buffers: u64,
    pub per_image: Option<u64>,
    /// Held beside the engine's tensors in the host's memory whatever the engine (a checkpoint
    /// being saved), so counted only where the engine's memory is the host's: the CPU engine.
    pub on_host: bool,
}

/// Every sizeable tensor a run allocates, computed in u64 (wasm32's usize is 32 bits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    pub run: Run,
    /// How a training step runs its batch (whole, unless [`fit_training`] split it).
    pub micro: MicroBatches,
    pub tensors: Vec<Planned>,
}

/// How a training step runs its batch: in micro-batches of `size` images (one of them smaller where
/// `size` does not divide the batch), their gradients added up before the optimiser takes one step
/// with the sum. The
/// loss is d2l's mean over the whole batch and there is no batch normalisation in these nets, so
/// the step is the whole batch's, up to the order of float additions; dropout masks and
/// augmentation are drawn per image of the whole batch, so they do not change either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MicroBatches {
    pub batch: usize,
    pub size: usize,
}

impl MicroBatches {
    /// The batch in one piece.
    pub fn whole(batch: usize) -> MicroBatches {
        MicroBatches { batch, size: batch }
    }

    /// The fewest micro-batches of `batch` with at most `largest` images each, as equal as one
    /// size allows (128 at most 119: two of 64).
    pub fn at_most(batch: usize, largest: usize) -> MicroBatches {
        let count = batch.div_ceil(largest.max(1)).max(1);
        MicroBatches { batch, size: batch.div_ceil(count) }
    }

    pub fn count(&self) -> usize {
        self.batch.div_ceil(self.size.max(1)).max(1)
    }

    /// Images in the smaller micro-batch (`size` where `size` divides the batch). Saturating: a
    /// plan may be asked of a batch of 0, which the trainer refuses (the fuzzer asks it).
    pub fn last(&self) -> usize {
        self.batch.saturating_sub((self.count() - 1).saturating_mul(self.size))
    }

    pub fn is_split(&self) -> bool {
        self.count() > 1
    }

    /// Each micro-batch's first row in the batch and its images, in the order they run: a smaller
    /// one first, so that the full-size graph holds the step's last activations.
    pub fn parts(&self) -> Vec<(usize, usize)> {
        let last = self.last();
        let mut parts = vec![(0, last)];
        parts.extend((1..self.count()).map(|i| (last + (i - 1) * self.size, self.size)));
        parts
    }

    /// "2 micro-batches of 64", "3 micro-batches of 43 (one of 42)".
    pub fn describe(&self) -> String {
        let (count, size, last) = (self.count(), self.size, self.last());
        match count {
            1 => format!("one batch of {size}"),
            _ if last == size => format!("{count} micro-batches of {size}"),
            _ => format!("{count} micro-batches of {size} (one of {last})"),
        }
    }
}

fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

impl MemoryPlan {
    pub fn new(net: &Net, run: Run) -> MemoryPlan {
        let batch = match run {
            Run::Weights => 0,
            Run::Evaluation { batch } | Run::Training { batch, .. } => batch,
        };
        MemoryPlan::in_micro_batches(net, run, MicroBatches::whole(batch))
    }

    /// A training step that runs its batch as `micro` says: the activations are allocated for one
    /// micro-batch (and once more for a smaller last one), and the parameters keep one gradient
    /// more, a micro-batch's, beside the step's sum.
    pub fn in_micro_batches(net: &Net, run: Run, micro: MicroBatches) -> MemoryPlan {
        let mut tensors = Vec::new();
        let copies = match run {
            Run::Weights | Run::Evaluation { .. } => 1,
            Run::Training { moments, .. } => 2 + moments as u64 + u64::from(micro.is_split()),
        };
        for spec in net.root.params("") {
            let bytes = spec.shape.iter().fold(4u64, |b, &d| mul(b, d as u64));
            tensors.push(Planned { name: format!("parameter {}", spec.name), bytes, buffers: copies, per_image: None, on_host: false });
        }
        if let Run::Training { moments, .. } = run {
            // A run is opened (resumed, reopened, moved to another engine) from its checkpoint's
            // tensors, the parameters and the optimiser's moments, held beside the run they
            // become. Saving holds one tensor at a time (`CheckpointStream`), and a downloaded
            // checkpoint is the kept file itself.
            let state = tensors.iter().fold(0u64, |sum, t| sum.saturating_add(t.bytes));
            let bytes = mul(state, 1 + moments as u64);
            tensors.push(Planned { name: OPENING.into(), bytes, buffers: 1, per_image: None, on_host: true });
        }
        let training = match run {
            Run::Weights => return MemoryPlan { run, micro, tensors },
            Run::Evaluation { .. } => false,
            Run::Training { .. } => true,
        };
        // An activation and, when training, its gradient; a max pool also keeps its argmax. A
        // smaller micro-batch has a graph, and so activations, of its own.
        let graphs = [(micro.size, ""), (micro.last(), " (the smaller micro-batch's)")];
        for (batch, whose) in graphs.into_iter().take(if micro.last() < micro.size { 2 } else { 1 }) {
            let mut activation = |name: String, shape: Shape, buffers: u64| {
                let per_image = mul(shape.elements() as u64, 4);
                let name = format!("{name}{whose}");
                tensors.push(Planned { name, bytes: mul(per_image, batch as u64), buffers: buffers + u64::from(training), per_image: Some(per_image), on_host: false });
            };
            activation("the input".into(), net.input_shape(), 1);
            let mut shape = net.input_shape();
            walk("", &net.root, &mut shape, &mut activation);
        }
        MemoryPlan { run, micro, tensors }
    }

    /// The run with the training images the engine holds (`bytes`, as uploaded).
    pub fn with_dataset(mut self, bytes: u64) -> MemoryPlan {
        self.tensors.push(Planned { name: DATASET.into(), bytes, buffers: 1, per_image: None, on_host: false });
        self
    }

    /// Bytes the engine allocates in all.
    pub fn total(&self) -> u64 {
        self.sum(|t| !t.on_host)
    }

    /// Bytes the run takes of what `capacity` counts: on the CPU engine also what the host holds
    /// beside the engine's tensors.
    pub fn total_for(&self, capacity: Capacity) -> u64 {
        match capacity {
            Capacity::Gpu { .. } => self.total(),
            Capacity::Cpu { .. } => self.sum(|_| true),
        }
    }

    fn sum(&self, counted: impl Fn(&Planned) -> bool) -> u64 {
        self.tensors.iter().filter(|t| counted(t)).fold(0, |sum, t| sum.saturating_add(mul(t.bytes, t.buffers)))
    }

    fn batch(&self) -> Option<u64> {
        match self.run {
            Run::Weights => None,
            Run::Evaluation { batch } | Run::Training { batch, .. } => Some(batch as u64),
        }
    }

    /// " at batch 128", or " at batch 128 in micro-batches of 1" for a split step.
    fn at_batch(&self) -> String {
        match self.batch() {
            Some(b) if self.micro.is_split() => format!(" at batch {b} in micro-batches of {}", self.micro.size),
            Some(b) => format!(" at batch {b}"),
            None => String::new(),
        }
    }

    /// Refuses the run when one tensor exceeds `max_binding` (the largest buffer a kernel may
    /// bind) or all of them exceed `budget`, naming the tensor, its size, the limit and what to
    /// lower; a batch that fits is computed when lowering the batch alone would do.
    pub fn check(&self, max_binding: u64, budget: u64) -> Result<()> {
        self.check_against(Some(max_binding), budget, "GPU memory", max_binding)
    }

    // With a binding limit (a GPU) the engine's tensors count; without (the CPU engine) all do.

    /// [`MemoryPlan::check`] against what a device lets one run take.
    pub fn check_capacity(&self, capacity: Capacity) -> Result<()> {
        match capacity {
            Capacity::Gpu { max_binding, host } => {
                self.check(max_binding, MEMORY_BUDGET)?;
                match host {
                    Some(budget) => self.check_host(budget),
                    None => Ok(()),
                }
            }
            // The CPU engine binds nothing: the whole run, with what the host holds beside its
            // tensors, against its budget of host memory.
            Capacity::Cpu { budget, max_tensor } => self.check_against(None, budget, "memory on the CPU engine", max_tensor),
        }
    }

    /// What the host holds of a GPU's run against the host's `budget`: opening its checkpoint file
    /// holds the file and its tensors at once, before they go to the GPU (the browser's worker
    /// aborts when it passes wasm32's 4 GiB). (Its copy of the dataset, 55 MB at most, is left
    /// out.)
    fn check_host(&self, budget: u64) -> Result<()> {
        let held = mul(self.sum(|t| t.on_host), 2);
        if held <= budget {
            return Ok(());
        }
        Err(EngineError::DoesNotFit {
            what: "opening the run (its checkpoint file and the parameters and optimiser's moments it holds)".into(),
            bytes: held,
            limit: format!("this browser tab's engine has at most {} of memory", human(budget)),
            advice: "raise the width ratio, lower the side, or train with SGD (one moment, not Adam's two)".into(),
        })
    }

    /// `binding`: a GPU's binding limit (its run counts the engine's tensors), or none (the CPU
    /// engine's counts the host's copies too); `max_binding`: the largest tensor either takes.
    fn check_against(&self, binding: Option<u64>, budget: u64, memory: &str, max_binding: u64) -> Result<()> {
        let what = match self.run {
            Run::Weights => "the weights",
            Run::Evaluation { .. } => "evaluation",
            Run::Training { .. } => "training",
        };
        let counted = |t: &&Planned| binding.is_none() || !t.on_host;
        // What the host holds beside the tensors (a checkpoint's file) is no kernel's tensor.
        for t in self.tensors.iter().filter(|t| !t.on_host) {
            if t.bytes <= max_binding {
                continue;
            }
            let advice = match (t.per_image, self.batch()) {
                (Some(per_image), Some(_)) if per_image <= max_binding => {
                    format!("lower the batch to {} or less, or lower the side or raise the width ratio", max_binding / per_image)
                }
                (Some(_), Some(_)) => "even one image does not fit: lower the side or raise the width ratio".to_string(),
                _ if t.name == DATASET => "train on fewer images (--limit), or let a buffer hold more".to_string(),
                _ => "lower the side (it sets the first linear layer's width) or raise the width ratio".to_string(),
            };
            let at_batch = if t.per_image.is_some() { self.at_batch() } else { String::new() };
            let limit = match binding {
                Some(_) => format!("this GPU binds at most {} per buffer", human(max_binding)),
                None => format!("the CPU engine was set to take at most {} per tensor", human(max_binding)),
            };
            return Err(EngineError::DoesNotFit {
                what: format!("{}{at_batch}", t.name),
                bytes: t.bytes,
                limit,
                advice,
            });
        }
        let total = self.sum(|t| counted(&t));
        if total > budget {
            let fixed = self.tensors.iter().filter(counted).filter(|t| t.per_image.is_none()).fold(0u64, |s, t| s.saturating_add(mul(t.bytes, t.buffers)));
            let per_image = self.tensors.iter().filter(counted).filter_map(|t| t.per_image.map(|p| mul(p, t.buffers))).fold(0u64, u64::saturating_add);
            let advice = match self.batch() {
                Some(_) if fixed < budget && per_image > 0 && (budget - fixed) / per_image > 0 => format!(
                    "lower the batch to {} or less, or lower the side or raise the width ratio",
                    (budget - fixed) / per_image
                ),
                _ => "lower the side or raise the width ratio".to_string(),
            };
            return Err(EngineError::DoesNotFit {
                what: format!("{what}{}", self.at_batch()),
                bytes: total,
                limit: format!("cnnscope gives one run at most {} of {memory}", human(budget)),
                advice,
            });
        }
        Ok(())
    }
}

/// Appends the activations `layer` allocates for an input of `shape` (updated to its output).
fn walk(name: &str, layer: &Layer, shape: &mut Shape, activation: &mut impl FnMut(String, Shape, u64)) {
    let Ok(output) = layer.output_shape(*shape) else { return };
    match layer {
        Layer::Sequential(children) => {
            for (child, layer) in children {
                let path = if name.is_empty() { child.clone() } else { format!("{name}.{child}") };
                walk(&path, layer, shape, activation);
            }
            return;
        }
        Layer::Conv(_) | Layer::Linear { .. } | Layer::GlobalAvgPool => activation(format!("{name}'s output"), output, 1),
        // Max pooling: the output and the argmax of every window.
        Layer::Pool(pool) => activation(format!("{name}'s output"), output, if pool.kind == PoolKind::Max { 2 } else { 1 }),
        Layer::Inception(block) => {
            activation(format!("{name}'s output"), output, 1);
            let Shape::Image { c, h, w } = *shape else { return };
            for (path, channels, copies) in [("p2_1", block.c2.0, 1), ("p3_1", block.c3.0, 1), ("p4_1", c, 2)] {
                activation(format!("{name}.{path}'s output"), Shape::Image { c: channels, h, w }, copies);
            }
        }
        // In place, or a view of the input.
        Layer::Relu | Layer::Dropout(_) | Layer::Flatten => {}
    }
    *shape = output;
}

/// The plan for training `net` at `batch` with an optimiser of `moments` (and `dataset` bytes of
/// training images on the engine) that fits `capacity` in the fewest micro-batches
/// ([`MicroBatches`]): the whole batch where it fits, as on any adapter with room; else the
/// largest micro-batch under the binding limit and the memory budget. Refused, with the reason
/// of a step in micro-batches of one image, where not even that fits.
pub fn fit_training(capacity: Capacity, net: &Net, batch: usize, moments: usize, dataset: u64) -> Result<MemoryPlan> {
    let run = Run::Training { batch, moments };
    let plan = |micro| MemoryPlan::in_micro_batches(net, run, micro).with_dataset(dataset);
    let mut tried = None;
    for count in 1..=batch.max(1) {
        let micro = MicroBatches::at_most(batch, batch.div_ceil(count));
        // Counts that give the same size as a smaller count were tried with it.
        if micro.count() != count {
            continue;
        }
        let candidate = plan(micro);
        match candidate.check_capacity(capacity) {
            Ok(()) => return Ok(candidate),
            Err(e) => tried = Some(e),
        }
    }
    Err(tried.unwrap_or_else(|| EngineError::setting("batch size", "0 images per batch: it must be at least 1")))
}

/// Whether `run` of `net` fits `device` (its [`Capacity`]); call before allocating.
pub fn check(device: &Device, net: &Net, run: Run) -> Result<MemoryPlan> {
    check_plan(device, MemoryPlan::new(net, run))
}

/// [`check`] for a plan with more in it ([`MemoryPlan::with_dataset`]).
pub fn check_plan(device: &Device, plan: MemoryPlan) -> Result<MemoryPlan> {
    plan.check_capacity(device.capacity())?;
    Ok(plan)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::net::{Arch, NetConfig};

    #[test]
    fn sizes_are_humane() {
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(12), "12 bytes");
    }

    #[test]
    fn a_batch_that_fits_is_offered() {
        let net = Net::new(NetConfig::new(Arch::AlexNet, 1)).unwrap();
        let plan = MemoryPlan::new(&net, Run::Training { batch: 128, moments: 2 });
        // d2l's AlexNet recipe fits the budget...
        plan.check(u64::MAX, MEMORY_BUDGET).unwrap();
        // ... but not a 128 MiB binding (lavapipe's): conv.0's output is 96×54×54 floats per image,
        // 1,119,744 bytes, so 119 images fit.
        let err = plan.check(128 << 20, MEMORY_BUDGET).unwrap_err().to_string();
        assert_eq!(
            err,
            "conv.0's output at batch 128 needs 136.7 MiB, but this GPU binds at most 128.0 MiB per buffer: \
             lower the batch to 119 or less, or lower the side or raise the width ratio"
        );
        let fits = MemoryPlan::new(&net, Run::Training { batch: 119, moments: 2 });
        fits.check(128 << 20, MEMORY_BUDGET).unwrap();
    }

    /// d2l's NiN recipe (batch 128, 224 px) on a 128 MiB binding (Firefox's, WebGPU's default):
    /// each of its first block's three 96×54×54 outputs needs 136.7 MiB at batch 128, so the step
    /// runs as two micro-batches of 64, with the gradients of one more held beside the step's.
    #[test]
    fn a_step_that_does_not_fit_one_binding_runs_in_micro_batches() {
        let net = Net::new(NetConfig::new(Arch::Nin, 1)).unwrap();
        let small = Capacity::Gpu { max_binding: 128 << 20, host: None };
        let plan = fit_training(small, &net, 128, 1, 0).unwrap();
        assert_eq!(plan.micro, MicroBatches { batch: 128, size: 64 });
        assert_eq!(plan.micro.describe(), "2 micro-batches of 64");
        assert_eq!(plan.micro.parts(), vec![(0, 64), (64, 64)]);
        let whole = MemoryPlan::new(&net, Run::Training { batch: 128, moments: 1 });
        let params: u64 = whole.tensors.iter().filter(|t| t.name.starts_with("parameter")).map(|t| t.bytes).sum();
        let activations = |p: &MemoryPlan| p.tensors.iter().filter(|t| t.per_image.is_some()).map(|t| t.bytes * t.buffers).sum::<u64>();
        assert_eq!(plan.total(), whole.total() - activations(&whole) / 2 + params, "half the activations, one more gradient");
        // Where the whole batch fits, it runs whole.
        let roomy = Capacity::Gpu { max_binding: 1 << 30, host: None };
        assert_eq!(fit_training(roomy, &net, 128, 1, 0).unwrap().micro, MicroBatches::whole(128));
        // Sizes that do not divide the batch: the first micro-batch is the smaller, on its own graph.
        let odd = fit_training(small, &net, 250, 1, 0).unwrap().micro;
        assert_eq!((odd.count(), odd.size, odd.last()), (3, 84, 82));
        assert_eq!(odd.describe(), "3 micro-batches of 84 (one of 82)");
        assert_eq!(odd.parts(), vec![(0, 82), (82, 84), (166, 84)]);
        let plan = fit_training(small, &net, 250, 1, 0).unwrap();
        assert!(plan.tensors.iter().any(|t| t.name == "the input (the smaller micro-batch's)" && t.bytes == 82 * 224 * 224 * 4));
        // Where not even micro-batches of one image fit, the refusal says so.
        let tiny = Capacity::Cpu { budget: 16 << 20, max_tensor: 16 << 20 };
        let err = fit_training(tiny, &net, 128, 1, 0).unwrap_err().to_string();
        assert!(err.starts_with("training at batch 128 in micro-batches of 1 needs "), "{err}");
    }

    #[test]
    fn the_budget_counts_every_tensor() {
        let net = Net::new(NetConfig::new(Arch::Vgg11, 8)).unwrap();
        let plan = MemoryPlan::new(&net, Run::Training { batch: 64, moments: 2 });
        let err = plan.check(u64::MAX, 100 << 20).unwrap_err().to_string();
        assert!(err.starts_with("training at batch 64 needs "), "{err}");
        assert!(err.contains("cnnscope gives one run at most 100.0 MiB of GPU memory: lower the batch to "), "{err}");
        // The batch it names fits; one more does not.
        let fits: usize = err.split("lower the batch to ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        MemoryPlan::new(&net, Run::Training { batch: fits, moments: 2 }).check(u64::MAX, 100 << 20).unwrap();
        assert!(MemoryPlan::new(&net, Run::Training { batch: fits + 1, moments: 2 }).check(u64::MAX, 100 << 20).is_err());
    }

    /// The CPU engine's budget holds the run's tensors, the training images and a checkpoint being
    /// opened (the parameters and Adam's two moments, beside the run they become); a GPU's budget
    /// holds what it allocates: the images, not the host's copies.
    #[test]
    fn the_cpu_engine_counts_what_the_host_holds() {
        let net = Net::new(NetConfig::new(Arch::AlexNet, 8)).unwrap();
        let plan = MemoryPlan::new(&net, Run::Training { batch: 64, moments: 2 }).with_dataset(47 << 20);
        let params: u64 = plan.tensors.iter().filter(|t| t.name.starts_with("parameter")).map(|t| t.bytes).sum();
        let engine = plan.total();
        assert_eq!(plan.total_for(Capacity::Cpu { budget: 0, max_tensor: 0 }), engine + 3 * params);
        assert_eq!(plan.total_for(Capacity::Gpu { max_binding: 0, host: None }), engine);
        assert!(plan.tensors.iter().any(|t| t.name == "the training images' buffer" && !t.on_host && t.bytes == 47 << 20));
        // A budget between the two: enough for a GPU's count, not for the CPU engine's.
        let budget = engine + 2 * params;
        let err = plan.check_capacity(Capacity::Cpu { budget, max_tensor: budget }).unwrap_err().to_string();
        assert!(err.contains("of memory on the CPU engine"), "{err}");
        plan.check(u64::MAX, budget).unwrap();
    }

    /// In the browser a GPU run's checkpoint is opened in the worker's 4 GiB: VGG-11 at full width
    /// with Adam (a 1.55 GB checkpoint, its file and its tensors while it opens) fits; a net whose
    /// opening alone needs more is refused before it trains, not aborted when it is reopened.
    /// Natively nothing bounds it.
    #[test]
    fn a_gpu_run_in_the_browser_counts_its_checkpoint_against_the_tab() {
        let tab = Capacity::Gpu { max_binding: u64::MAX, host: Some(4 << 30) };
        let vgg = Net::new(NetConfig::new(Arch::Vgg11, 1)).unwrap();
        MemoryPlan::new(&vgg, Run::Training { batch: 1, moments: 2 }).check_capacity(tab).unwrap();
        let wide = Net::new(NetConfig::new(Arch::Vgg11, 1).with_side(320)).unwrap();
        let plan = MemoryPlan::new(&wide, Run::Training { batch: 1, moments: 2 });
        let err = plan.check_capacity(tab).unwrap_err().to_string();
        assert!(err.starts_with("opening the run (its checkpoint file and the parameters and optimiser's moments it holds) needs "), "{err}");
        assert!(err.contains("but this browser tab's engine has at most 4.0 GiB of memory"), "{err}");
        plan.check_capacity(Capacity::Gpu { max_binding: u64::MAX, host: None }).unwrap();
    }
}

