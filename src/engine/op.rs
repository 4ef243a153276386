//! The one vocabulary between the ops and the engines. An op (`crate::ops`) checks its tensors'
//! shapes once and records an [`Op`]: what to compute, with the sizes it checked. Each engine says
//! how: the WGSL engine turns an `Op` into dispatches (`engine::wgsl::kernels`), the CPU engine into
//! a task (`engine::cpu::tasks`), each with one `match` over every variant, so a new op is one
//! variant here, one WGSL kernel, one CPU kernel and one test, and the compiler lists what is
//! missing. Neither engine knows a layer; the ops know no kernel.

use crate::engine::augment::Augment;
use crate::engine::tensor::{Tensor, View};

/// One convolution's sizes (checked by `ops::Conv2d`): the input batch × cin × h × w, the
/// output cout × oh × ow, a square kernel, stride and zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub oh: usize,
    pub ow: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

/// One pooling's sizes (checked by `ops::Pool2d`); `planes` is images × channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
}

/// C (m×n) = op(A) · op(B), row-major, where op transposes when asked: A is stored k×m when
/// `trans_a`, B is stored n×k when `trans_b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
}

/// Inverted dropout's mask and scale: element i (of the whole batch's, `first` being this tensor's
/// first) is kept when pcg((first + i) ^ pcg(seed)) ≥ threshold, then scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutMask {
    pub seed: u32,
    pub threshold: u32,
    pub scale: f32,
    pub first: u32,
}

/// torch.optim.SGD's update: dampening 0, no Nesterov.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

/// torch.optim.Adam's update (L2 weight decay) at one step, its bias corrections computed in f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub bias_correction1: f32,
    pub bias_correction2_sqrt: f32,
}

/// What to compute, with the tensors it reads and writes. Sizes are checked by the op that made
/// it; an engine may rely on them (and still refuses what its own limits cannot take).
#[derive(Clone, Copy, Debug)]
pub enum Op<'t> {
    /// out[c] = the sum over images and positions of channel c of `grad` (bias gradients).
    SumChannels { grad: View<'t>, out: &'t Tensor },
    /// x = max(x, 0), in place.
    Relu { x: &'t Tensor },
    /// grad = 0 wherever y (the ReLU's output) is 0, in place.
    ReluBackward { y: &'t Tensor, grad: &'t Tensor },
    /// Inverted dropout in place (its backward pass is the same mask on the gradient).
    Dropout { values: &'t Tensor, mask: DropoutMask },
    /// sum += x.
    Accumulate { x: &'t Tensor, sum: &'t Tensor },
    /// dst = src (or += with `accumulate`), channel range to channel range.
    CopyChannels { src: View<'t>, dst: View<'t>, accumulate: bool },
    /// y = conv(x, weight) + bias, then ReLU with `relu`.
    Conv { shape: ConvShape, relu: bool, x: View<'t>, weight: &'t Tensor, bias: &'t Tensor, y: View<'t> },
    /// grad_x (+)= the convolution's gradient for its input.
    ConvBackwardInput { shape: ConvShape, grad_y: View<'t>, weight: &'t Tensor, grad_x: View<'t>, accumulate: bool },
    /// grad_weight = the convolution's gradient for its weights.
    ConvBackwardWeight { shape: ConvShape, grad_y: View<'t>, x: View<'t>, grad_weight: &'t Tensor },
    /// c = op(a)·op(b) (+ bias per column, then ReLU with `relu`).
    Matmul { shape: GemmShape, a: &'t Tensor, b: &'t Tensor, bias: Option<&'t Tensor>, relu: bool, c: &'t Tensor },
    /// y = the window maxima of x; argmax (u32) = each window's winner within its plane.
    MaxPool { shape: PoolShape, x: &'t Tensor, y: &'t Tensor, argmax: &'t Tensor },
    /// grad_x = grad_y scattered to each window's winner (overwritten).
    MaxPoolBackward { shape: PoolShape, grad_y: &'t Tensor, argmax: &'t Tensor, grad_x: &'t Tensor },
    /// y = the window means of x (padding counts as zeros, divisor kh·kw).
    AvgPool { shape: PoolShape, x: &'t Tensor, y: &'t Tensor },
    /// grad_x = grad_y spread evenly over each window (overwritten).
    AvgPoolBackward { shape: PoolShape, grad_y: &'t Tensor, grad_x: &'t Tensor },
    /// grad = d(mean loss over `mean_over` images)/d(logits); stats += [loss sum, correct, examples].
    SoftmaxCrossEntropy { classes: usize, mean_over: usize, logits: &'t Tensor, labels: &'t Tensor, grad: &'t Tensor, stats: &'t Tensor },
    /// probs = softmax(logits) per row of `classes`.
    Softmax { classes: usize, logits: &'t Tensor, probs: &'t Tensor },
    /// One SGD update of `param` in place.
    Sgd { step: SgdStep, param: &'t Tensor, grad: &'t Tensor, velocity: &'t Tensor },
    /// One Adam update of `param` in place.
    Adam { step: AdamStep, param: &'t Tensor, grad: &'t Tensor, m: &'t Tensor, v: &'t Tensor },
    /// out[4·slot..] = (Σx, Σx², columns of x as `rows` rows that are ≤ 0 in every row, 0); with
    /// `adam` = (a, b, eps), the sums of a·x / (√(b·y) + eps) instead (y: the second moment).
    TensorStats { rows: usize, slot: usize, adam: Option<(f32, f32, f32)>, x: &'t Tensor, y: &'t Tensor, out: &'t Tensor },
    /// images[b] = resize(pixels[order[first + b]]) / 255 (augmented with `augment`), labels[b]
    /// = all_labels[order[first + b]]; the dataset is `src` = (h, w) u8 images packed four to a word.
    GatherResize {
        src: (usize, usize),
        side: usize,
        first: usize,
        augment: Option<Augment>,
        pixels: &'t Tensor,
        all_labels: &'t Tensor,
        order: &'t Tensor,
        images: &'t Tensor,
        labels: &'t Tensor,
    },
}
