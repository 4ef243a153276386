// Bias gradient: out[c] = sum over images and positions of grad[(img·total + offset + c)·inner + i].
// One workgroup per channel with a tree reduction in workgroup memory: deterministic, no atomics.
// For a linear layer, inner = 1 and total = the number of features.
// `Chunk` and chunk_sum come in front (ops/mod.rs): vec4<f32> where each plane is whole vec4s, so
// one load (lavapipe runs each lane by lane) brings four values; f32 elsewhere. `inner` counts chunks.
struct Params {
    batch: u32, channels: u32, inner: u32, offset: u32,
    total: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(1) var<storage, read> grad: array<Chunk>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let c = wid.x + wid.y * nwg.x;
    if (c >= params.channels) { // `params`: uniform to WGSL's analysis, unlike the private copy
        return;
    }
    var sum = 0.0;
    let count = p.batch * p.inner;
    for (var j = lidx; j < count; j += 256u) {
        let img_i = divmod(j, p.inner); // not `/`: integer division runs lane by lane on lavapipe
        sum += chunk_sum(grad[(img_i.x * p.total + p.offset + c) * p.inner + img_i.y]);
    }
    partial[lidx] = sum;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lidx < stride) {
            partial[lidx] += partial[lidx + stride];
        }
        workgroupBarrier();
    }
    if (lidx == 0u) {
        out[c] = partial[0];
    }
}
