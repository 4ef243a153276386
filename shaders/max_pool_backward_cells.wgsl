// Max pooling gradient where windows neither overlap nor pad (kernel ≤ stride, padding 0: VGG's
// 2×2/2). One invocation per output writes its whole stride×stride cell of grad_x — the gradient
// at the recorded winner, zeros elsewhere; the last row and column of cells reach the input's
// edge — so every input is written exactly once, with no zeroing pass first (max_pool_backward.wgsl,
// for the overlapping pools, needs one).
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = invocation_index(wid, nwg, lidx);
    let ohw = p.oh * p.ow;
    if (i >= p.planes * ohw) {
        return;
    }
    let o = output_position(i);
    let g = grad_y[i];
    let winner = argmax[i];
    let y0 = o.y * p.stride;
    let x0 = o.z * p.stride;
    let y1 = select(y0 + p.stride, p.h, o.y + 1u == p.oh);
    let x1 = select(x0 + p.stride, p.w, o.z + 1u == p.ow);
    let base = o.x * p.h * p.w;
    for (var iy = y0; iy < y1; iy++) {
        for (var ix = x0; ix < x1; ix++) {
            let at = iy * p.w + ix;
            grad_x[base + at] = select(0.0, g, at == winner);
        }
    }
}
