// Bias gradient where each channel holds one value per image (linear layers, 1×1 feature maps):
// out[c] = sum over images of grad[img·total + offset + c], one invocation per channel, images in
// order (deterministic). channel_sum.wgsl's workgroup per channel would leave most of its 256
// lanes idle and wait at eight barriers for a few dozen values.
struct Params {
    batch: u32, channels: u32, offset: u32, total: u32,
}
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let c = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (c >= p.channels) {
        return;
    }
    var sum = 0.0;
    for (var img = 0u; img < p.batch; img++) {
        sum += grad[img * p.total + p.offset + c];
    }
    out[c] = sum;
}
