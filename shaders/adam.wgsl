// Adam, exactly as torch.optim.Adam (L2 weight decay added to the gradient, not AdamW):
//   g = grad + wd·param;  m = m + (g - m)(1 - β1);  v = β2·v + (1 - β2)·g²
//   param -= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps),   bc = 1 - β^t
// The bias corrections depend only on the step t; the engine computes them in f64.
struct Params {
    count: u32, lr: f32, beta1: f32, beta2: f32,
    eps: f32, weight_decay: f32, bias_correction1: f32, bias_correction2_sqrt: f32,
}
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i >= p.count) {
        return;
    }
    let g = grad[i] + p.weight_decay * param[i];
    let m_new = m[i] + (g - m[i]) * (1.0 - p.beta1);
    let v_new = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = m_new;
    v[i] = v_new;
    let denom = sqrt(v_new) / p.bias_correction2_sqrt + p.eps;
    param[i] -= (p.lr / p.bias_correction1) * m_new / denom;
}
