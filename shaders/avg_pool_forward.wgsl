// Average pooling (PyTorch's count_include_pad = true: padding counts as zeros, the divisor is
// always kh·kw). Global average pooling is the case kh = h, kw = w.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
    var sum = 0.0;
    for (var ky = 0; ky < i32(p.kh); ky++) {
        let iy = y0 + ky;
        if (iy < 0 || iy >= i32(p.h)) { continue; }
        for (var kx = 0; kx < i32(p.kw); kx++) {
            let ix = x0 + kx;
            if (ix < 0 || ix >= i32(p.w)) { continue; }
            sum += x[(plane * p.h + u32(iy)) * p.w + u32(ix)];
        }
    }
    y[i] = sum / f32(p.kh * p.kw);
}
