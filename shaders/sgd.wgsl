// SGD with momentum and weight decay, exactly as torch.optim.SGD (dampening 0, no Nesterov):
//   d = grad + weight_decay · param;  velocity = momentum · velocity + d;  param -= lr · velocity.
// (PyTorch starts velocity at d; starting from zero gives the same first step.)
struct Params {
    count: u32, lr: f32, momentum: f32, weight_decay: f32,
}
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i >= p.count) {
        return;
    }
    let d = grad[i] + p.weight_decay * param[i];
    var step = d;
    if (p.momentum != 0.0) {
        step = p.momentum * velocity[i] + d;
        velocity[i] = step;
    }
    param[i] -= p.lr * step;
}
