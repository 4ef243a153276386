// Class probabilities for display: probs = softmax(logits) per row. One invocation per row.
struct Params {
    batch: u32, classes: u32, _pad0: u32, _pad1: u32,
}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let row = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (row >= p.batch) {
        return;
    }
    let base = row * p.classes;
    var top = logits[base];
    for (var c = 1u; c < p.classes; c++) {
        top = max(top, logits[base + c]);
    }
    var total = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        total += exp(logits[base + c] - top);
    }
    for (var c = 0u; c < p.classes; c++) {
        probs[base + c] = exp(logits[base + c] - top) / total;
    }
}
