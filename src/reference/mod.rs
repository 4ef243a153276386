//! Plain CPU versions of every kernel, written for clarity, accumulating in f64. They are the tests'
//! first oracle (PyTorch fixtures are the second) and the ground truth for gradient checks.
//! Tensors are flat NCHW `Vec<f32>`s.

mod conv;
mod dense;
mod pool;
mod train;

pub use conv::{conv2d_backward, conv2d_forward, ConvGrads};
pub use dense::{linear_backward, linear_forward, LinearGrads};
pub use pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward};
pub use train::{adam_step, augment, cross_entropy, resize_bilinear, sgd_step, CrossEntropy};

/// NCHW dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Dims {
    pub fn len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn at(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.c + c) * self.h + y) * self.w + x
    }
}

/// A deterministic pseudo-random vector in [-1, 1), the same on every machine (xorshift; no RNG
/// crate): the kernel tests' inputs, and the self-check's (`crate::check`).
pub fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
