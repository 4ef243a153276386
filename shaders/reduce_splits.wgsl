// Adds the split-k partial slabs of a GEMM: out[i] = sum over s of partial[s·count + i].
struct Params {
    count: u32, splits: u32, _pad0: u32, _pad1: u32,
}
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i >= p.count) {
        return;
    }
    var sum = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        sum += partial[s * p.count + i];
    }
    out[i] = sum;
}
