// The one shape of the kernels that visit each vec4 of a tensor once (zero.wgsl, accumulate.wgsl,
// relu.wgsl): each supplies its bindings and `fn apply(i: u32)` for vec4 i, and this file the rest
// (`shaders::vec4_map` joins them). One invocation per vec4 (tensor buffers are padded to whole
// vec4s, tensor.rs): one vec4 access moves four values for the cost of one (lavapipe runs each
// access lane by lane); 256 invocations per workgroup, the workgroups on a 2-D grid so counts past
// 65,535 work. `flag` is a kernel's one switch (relu: backward); zero and accumulate leave it 0.
struct Params {
    vec4s: u32, flag: u32, _pad0: u32, _pad1: u32,
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i < p.vec4s) {
        apply(i);
    }
}
