//! The command line, parsed by clap.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cnnscope::Choice;
use cnnscope::model::Init;
use cnnscope::net::Arch;

#[derive(Parser)]
#[command(name = "cnnscope", version, about = "Train and inspect AlexNet, VGG-11, NiN and GoogLeNet on Fashion-MNIST with WebGPU")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print a network's layer table: output shapes, parameters, FLOPs.
    Summary(SummaryArgs),
    /// Train a network on Fashion-MNIST and report d2l's per-epoch line.
    Train(TrainArgs),
    /// Evaluate saved weights on the test set.
    Eval(EvalArgs),
    /// Write a weights file's or checkpoint's network as an ONNX model (opset 17, dynamic batch;
    /// input `image`: batch × 1 × side × side float32, each test image resized to the side and
    /// divided by 255, as `eval` feeds it; output `logits`: batch × 10).
    Export(ExportArgs),
    /// Measure training throughput (images/s) of the four networks.
    Bench(BenchArgs),
    /// Check this machine's GPU: the WGSL engine's kernels (every GEMM core the adapter offers,
    /// convolutions, pools, forward and backward) and a whole training step of each network,
    /// against the CPU engine from the same inputs. Prints a line per case and exits 1 when any
    /// differs.
    Check(CheckArgs),
}

/// `check`'s flags: the networks whose training step is checked.
#[derive(Args)]
pub struct CheckArgs {
    /// Networks whose training step is compared [default: all four].
    #[arg(long, value_parser = parse_arch, num_args = 1..)]
    pub net: Vec<Arch>,
    /// Width divisor of those networks.
    #[arg(long, default_value_t = 16)]
    pub ratio: usize,
    /// Input side [default: each net's quick recipe's].
    #[arg(long)]
    pub side: Option<usize>,
}

#[derive(Args, Clone)]
pub struct NetArgs {
    /// alexnet, vgg11, nin or googlenet, or your own network's design file (FILE.net, the format
    /// docs/APP.md describes).
    #[arg(long, value_parser = parse_arch)]
    pub net: Arch,
    /// Width divisor: every channel count c becomes max(1, c / ratio) [default: the net's quick recipe].
    #[arg(long)]
    pub ratio: Option<usize>,
    /// Input side images are resized to [default: the net's quick recipe].
    #[arg(long)]
    pub side: Option<usize>,
    /// AlexNet without its second 4096-wide hidden layer (as the seed's code).
    #[arg(long)]
    pub one_hidden: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Opt {
    Adam,
    Sgd,
}

/// `train`'s flags. A `--resume` run is the checkpoint's own: its net, batch, optimiser, seed and
/// augmentation come from the file, and a flag that says otherwise is refused with what the file
/// holds (`--lr` may change the rate, `--epochs` the total).
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub net: FileNetArgs,
    /// Use d2l's published recipe (full width, native side) instead of the quick one.
    #[arg(long)]
    pub d2l: bool,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long, value_enum)]
    pub opt: Option<Opt>,
    /// Learning rate [default: the recipe's].
    #[arg(long)]
    pub lr: Option<f32>,
    /// SGD momentum [default: 0].
    #[arg(long)]
    pub momentum: Option<f32>,
    /// L2 weight decay [default: 0].
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// default (PyTorch's U(±1/√fan_in)) or xavier.
    #[arg(long, value_parser = parse_init)]
    pub init: Option<Init>,
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Train on the first N training images only (and test on the first N test images).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seeds the shuffles and dropout masks, and the initialisation [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Flip, crop and jitter each training image (AlexNet's augmentation; see
    /// `cnnscope::engine::augment`).
    #[arg(long)]
    pub augment: bool,
    /// After every epoch, per-layer statistics of its last step: output mean and std, dead ReLU
    /// units, gradient norm, update/weight ratio, and a note for a layer that stopped learning.
    #[arg(long)]
    pub stats: bool,
    /// Save the trained weights (safetensors, PyTorch keys) here.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Start from these weights (a file `--save` wrote) instead of a fresh initialisation; the
    /// network, its width and side come from the file unless given.
    #[arg(long, conflicts_with = "resume")]
    pub weights: Option<PathBuf>,
    /// Keep the whole run (weights, optimiser state, counters) in this file: written after every
    /// epoch and at least every two minutes, whole or not at all.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Continue the run a checkpoint holds, exactly where it stopped (its net, batch, optimiser
    /// and seed; `--lr` may change the rate, `--epochs` the total).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Args)]
pub struct EvalArgs {
    /// A safetensors file saved by `train --save` (or by PyTorch with the same keys), or a checkpoint.
    #[arg(long)]
    pub weights: PathBuf,
    #[command(flatten)]
    pub net: FileNetArgs,
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Evaluate the first N test images only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write each evaluated test image's predicted class (0–9), one per line in the test set's order.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Args)]
pub struct ExportArgs {
    /// A weights file (`train --save`, the page's download) or a checkpoint (`--checkpoint`).
    pub file: PathBuf,
    /// Where the ONNX model is written (whole or not at all).
    pub output: PathBuf,
    #[command(flatten)]
    pub net: FileNetArgs,
}

/// The network a weights file or checkpoint holds: the file's own metadata (files cnnscope and the
/// page save name their network), each field overridden by its flag.
#[derive(Args, Clone)]
pub struct FileNetArgs {
    /// alexnet, vgg11, nin or googlenet, or your own network's design file (FILE.net, the format
    /// docs/APP.md describes); a file that names its network (all that cnnscope and the page
    /// save) needs none.
    #[arg(long, value_parser = parse_arch)]
    pub net: Option<Arch>,
    #[arg(long)]
    pub ratio: Option<usize>,
    #[arg(long)]
    pub side: Option<usize>,
    #[arg(long)]
    pub one_hidden: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Networks to measure [default: all four].
    #[arg(long, value_parser = parse_arch, num_args = 1..)]
    pub net: Vec<Arch>,
    #[arg(long, default_value_t = 8)]
    pub ratio: usize,
    /// Input side [default: each net's native side, 224 or 96 for GoogLeNet].
    #[arg(long)]
    pub side: Option<usize>,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Timed training steps per network (after one warm-up step).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Also time one step kernel by kernel and list where the time goes.
    #[arg(long)]
    pub profile: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `summary`'s flags: the network, and with `--device` the memory a training run would take there.
#[derive(Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Also print whether training at `--batch` fits this engine (auto, gpu or cpu).
    #[arg(long, value_parser = parse_device)]
    pub device: Option<Choice>,
    /// With `--device`: plan for a binding of at most this many MiB (as `train --binding-limit`).
    #[arg(long, value_name = "MIB", value_parser = parse_mib, requires = "device")]
    pub binding_limit: Option<u64>,
    /// The batch the memory line plans for.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
}

/// Which engine runs: `auto` (the WGSL engine on a real GPU, the CPU engine where the GPU adapter
/// is a CPU or there is none), `gpu` or `cpu`.
#[derive(Args, Clone, Copy)]
pub struct DeviceArgs {
    #[arg(long = "device", value_name = "DEVICE", default_value = "auto", value_parser = parse_device)]
    pub choice: Choice,
    /// Bind at most this many MiB per buffer, below what the adapter allows (a shared GPU, or to
    /// see how a small one would run): a training step whose tensors are larger runs in
    /// micro-batches.
    #[arg(long, value_name = "MIB", value_parser = parse_mib)]
    pub binding_limit: Option<u64>,
}

/// Whole MiB from 1 to 1 TiB, in bytes.
fn parse_mib(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(mib @ 1..=1_048_576) => Ok(mib << 20),
        _ => Err(format!("{s:?} is not a size in MiB: give a whole number from 1 to 1048576 (1 TiB)")),
    }
}

fn parse_device(s: &str) -> Result<Choice, String> {
    s.parse()
}

/// Where Fashion-MNIST is read from, for every command that needs it.
#[derive(Args)]
pub struct DataArgs {
    /// Directory with Fashion-MNIST's four .gz files.
    #[arg(long = "data", value_name = "DIR", default_value = cnnscope::data::DEFAULT_DIR)]
    pub dir: PathBuf,
}

/// A preset's name, or a design file (a path, or a name ending in .net), read and checked here.
fn parse_arch(s: &str) -> Result<Arch, String> {
    if !(s.ends_with(".net") || s.contains(std::path::MAIN_SEPARATOR) || s.contains('/')) {
        return s.parse();
    }
    let text = std::fs::read_to_string(s).map_err(|e| format!("cannot read the design file {s} ({e})"))?;
    text.parse::<cnnscope::net::Design>().map_err(|e| format!("{s}: {e}"))?;
    Ok(Arch::Own(text.into()))
}

fn parse_init(s: &str) -> Result<Init, String> {
    s.parse()
}
