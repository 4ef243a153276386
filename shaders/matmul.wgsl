// Dense matrix product for the linear layers: C = op(A) · op(B) (+ bias, ReLU), row-major storage.
//   linear forward          y  = x · Wᵀ + b     (trans_b)
//   linear input gradient   dx = dy · W
//   linear weight gradient  dW = dyᵀ · x       (trans_a)
// With splits > 1, each split writes an m×n slab of C for reduce_splits.wgsl to add up.
struct Params {
    m: u32, n: u32, k: u32, splits: u32,
    flags: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const FLAG_RELU: u32 = 1u;
const FLAG_ACCUMULATE: u32 = 2u;
const FLAG_BIAS: u32 = 4u;
const FLAG_TRANS_A: u32 = 8u;
const FLAG_TRANS_B: u32 = 16u;

struct DepthA { kk: u32 }
struct ColumnB { col: u32 }

fn depth_a(kk: u32) -> DepthA {
    return DepthA(kk);
}

fn load_a(row: u32, d: DepthA) -> f32 {
    if ((p.flags & FLAG_TRANS_A) != 0u) {
        return a[d.kk * p.m + row];
    }
    return a[row * p.k + d.kk];
}

fn column_b(col: u32) -> ColumnB {
    return ColumnB(col);
}

fn load_b(kk: u32, c: ColumnB) -> f32 {
    if ((p.flags & FLAG_TRANS_B) != 0u) {
        return b[c.col * p.k + kk];
    }
    return b[kk * p.n + c.col];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    let i = (split * p.m + row) * p.n + col;
    var v = value;
    if ((p.flags & FLAG_BIAS) != 0u) {
        v += bias[col];
    }
    if ((p.flags & FLAG_RELU) != 0u) {
        v = max(v, 0.0);
    }
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        v += c[i];
    }
    c[i] = v;
}
