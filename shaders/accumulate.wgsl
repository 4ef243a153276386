// sum += x, four elements per invocation (tensor buffers are padded to whole vec4s): a
// micro-batch's parameter gradient added into the step's (src/ops/accumulate.rs).
struct Params {
    vec4s: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sum: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i < p.vec4s) {
        sum[i] += x[i];
    }
}
