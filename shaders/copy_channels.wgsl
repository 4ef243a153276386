// Copies a channel range of one NCHW tensor into a channel range of another: channel concat
// (into a slice) and its backward (out of a slice). With accumulate, adds instead of overwriting.
struct Params {
    batch: u32, channels: u32, hw: u32, accumulate: u32,
    src_offset: u32, src_total: u32, dst_offset: u32, dst_total: u32,
}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    let per_image = p.channels * p.hw;
    if (i >= p.batch * per_image) {
        return;
    }
    let img = i / per_image;
    let rest = i % per_image;
    let s = (img * p.src_total + p.src_offset) * p.hw + rest;
    let d = (img * p.dst_total + p.dst_offset) * p.hw + rest;
    if (p.accumulate != 0u) {
        dst[d] += src[s];
    } else {
        dst[d] = src[s];
    }
}
