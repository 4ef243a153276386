//! Fully connected layer: y = x·Wᵀ + b.

pub struct LinearGrads {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// y [batch, out] for x [batch, inp], w [out, inp], then ReLU if asked.
pub fn linear_forward(x: &[f32], w: &[f32], b: &[f32], batch: usize, inp: usize, out: usize, relu: bool) -> Vec<f32> {
    let mut y = vec![0f32; batch * out];
    for n in 0..batch {
        for o in 0..out {
            let mut acc = b[o] as f64;
            for i in 0..inp {
                acc += x[n * inp + i] as f64 * w[o * inp + i] as f64;
            }
            y[n * out + o] = if relu { (acc as f32).max(0.0) } else { acc as f32 };
        }
    }
    y
}

/// Gradients of sum(y ⊙ gy) without the ReLU (mask gy first for a ReLU layer).
pub fn linear_backward(x: &[f32], w: &[f32], gy: &[f32], batch: usize, inp: usize, out: usize) -> LinearGrads {
    let mut gx = vec![0f64; batch * inp];
    let mut gw = vec![0f64; out * inp];
    let mut gb = vec![0f64; out];
    for n in 0..batch {
        for o in 0..out {
            let g = gy[n * out + o] as f64;
            gb[o] += g;
            for i in 0..inp {
                gx[n * inp + i] += g * w[o * inp + i] as f64;
                gw[o * inp + i] += g * x[n * inp + i] as f64;
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    LinearGrads { x: f(gx), w: f(gw), b: f(gb) }
}
