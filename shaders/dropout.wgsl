// Inverted dropout in place: each element is kept with probability 1 - rate and scaled by
// 1 / (1 - rate). The mask is never stored: a counter-based hash of (seed, index) decides, so the
// backward pass recomputes exactly the forward mask from the same seed. `first` is the index of the
// tensor's first element in the whole batch's (a micro-batch's first row × elements per image), so
// a step run in micro-batches drops exactly what the whole batch would (u32 arithmetic wraps alike).
struct Params {
    count: u32, seed: u32, threshold: u32, scale: f32,
    first: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(1) var<storage, read_write> values: array<f32>;

// PCG output permutation (O'Neill): a well-mixed 32-bit hash.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i >= p.count) {
        return;
    }
    let keep = pcg((p.first + i) ^ pcg(p.seed)) >= p.threshold;
    values[i] = select(0.0, values[i] * p.scale, keep);
}
