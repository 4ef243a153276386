// Max pooling: each output is the largest input in its window (padding never wins, as in PyTorch);
// the winner's position within the plane is kept for the backward pass. Ties go to the first.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;

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
    let plane = o.x;
    let y0 = i32(o.y * p.stride) - i32(p.pad);
    let x0 = i32(o.z * p.stride) - i32(p.pad);
    var best = -3.402823e38;
    var best_at = 0u;
    var found = false;
    for (var ky = 0; ky < i32(p.kh); ky++) {
        let iy = y0 + ky;
        if (iy < 0 || iy >= i32(p.h)) { continue; }
        for (var kx = 0; kx < i32(p.kw); kx++) {
            let ix = x0 + kx;
            if (ix < 0 || ix >= i32(p.w)) { continue; }
            let at = u32(iy) * p.w + u32(ix);
            let v = x[plane * p.h * p.w + at];
            if (!found || v > best) {
                best = v;
                best_at = at;
                found = true;
            }
        }
    }
    y[i] = best;
    argmax[i] = best_at;
}
