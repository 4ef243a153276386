// Inverted dropout in place: each element is kept with probability 1 - rate and scaled by
// 1 / (1 - rate). The mask is never stored: a counter-based hash of (seed, index) decides, so the
// backward pass recomputes exactly the forward mask from the same seed.
struct Params {
    count: u32, seed: u32, threshold: u32, scale: f32,
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
    let keep = pcg(i ^ pcg(p.seed)) >= p.threshold;
    values[i] = select(0.0, values[i] * p.scale, keep);
}
