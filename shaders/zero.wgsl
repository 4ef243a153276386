// Sets a tensor to zeros, four elements per invocation (tensor buffers are padded to whole vec4s):
// for kernels that scatter into their output, such as max_pool_backward.wgsl.
struct Params {
    vec4s: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(1) var<storage, read_write> values: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i < p.vec4s) {
        values[i] = vec4<f32>();
    }
}
