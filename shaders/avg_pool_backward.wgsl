// Average pooling gradient, gathered per input element from every window that covers it.
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = invocation_index(wid, nwg, lidx);
    let hw = p.h * p.w;
    if (i >= p.planes * hw) {
        return;
    }
    let plane = i / hw;
    let rows = covering((i % hw) / p.w, p.kh, p.oh);
    let cols = covering(i % p.w, p.kw, p.ow);
    var sum = 0.0;
    for (var oy = rows.x; oy <= rows.y; oy++) {
        for (var ox = cols.x; ox <= cols.y; ox++) {
            sum += grad_y[plane * p.oh * p.ow + u32(oy) * p.ow + u32(ox)];
        }
    }
    grad_x[i] = sum / f32(p.kh * p.kw);
}
