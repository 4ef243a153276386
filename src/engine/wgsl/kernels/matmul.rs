//! Matrix products (the linear layers, forward and backward) on the GEMM core
//! ([`crate::engine::wgsl::gemm`]).

use crate::engine::error::Result;
use crate::engine::op::GemmShape;
use crate::engine::tensor::Tensor;
use crate::engine::wgsl::gemm::{self, GemmKernel};
use crate::engine::wgsl::queue::Queue;
use crate::engine::wgsl::{Access, Gpu, shaders};

const FLAG_RELU: u32 = 1;
const FLAG_BIAS: u32 = 4;
const FLAG_TRANS_A: u32 = 8;
const FLAG_TRANS_B: u32 = 16;

/// c = op(a)·op(b) (+ bias per column, ReLU). Split-k is used only when `bias` and `relu` are off,
/// since partial sums cannot carry the epilogue.
#[allow(clippy::too_many_arguments)]
pub(super) fn record(q: &mut Queue, gpu: &Gpu, shape: GemmShape, a: &Tensor, b: &Tensor, bias: Option<&Tensor>, relu: bool, c: &Tensor) -> Result<()> {
    let GemmShape { m, n, k, trans_a, trans_b } = shape;
    let mut flags = 0;
    for (on, flag) in [(relu, FLAG_RELU), (bias.is_some(), FLAG_BIAS), (trans_a, FLAG_TRANS_A), (trans_b, FLAG_TRANS_B)] {
        if on {
            flags |= flag;
        }
    }
    let kernel = GemmKernel {
        name: "matmul",
        parts: &[shaders::MATMUL],
        storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite],
        m,
        n,
        k,
    };
    // An unused bias binding still needs a buffer; `a` is read-only here anyway.
    let bias = bias.unwrap_or(a).buffer()?;
    if flags & (FLAG_BIAS | FLAG_RELU) == 0 {
        gemm::record_split(q, gpu, &kernel, &[flags], &[a.buffer()?, b.buffer()?, bias], c.buffer()?)
    } else {
        kernel.record(q, gpu, &[flags], &[a.buffer()?, b.buffer()?, bias, c.buffer()?])
    }
}
