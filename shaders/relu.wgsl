// ReLU in place, forward (x = max(x, 0)) or backward (grad = 0 where the forward output y is 0).
// Most ReLUs are fused into the convolution and linear epilogues; this serves the rest and every
// backward pass, where it masks the gradient in place before the layer's own backward kernels.
// Four elements per invocation: one vec4 access moves four values for the cost of one (lavapipe
// runs each access lane by lane). Tensor buffers are padded to whole vec4s (tensor.rs).
struct Params {
    vec4s: u32, backward: u32, _pad0: u32, _pad1: u32,
}
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> values: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (i >= p.vec4s) {
        return;
    }
    if (p.backward != 0u) {
        values[i] = select(vec4<f32>(), values[i], y[i] > vec4<f32>());
    } else {
        values[i] = max(values[i], vec4<f32>());
    }
}
