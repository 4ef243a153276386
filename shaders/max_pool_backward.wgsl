// Max pooling gradient, gathered per input element: the sum of the gradients of every output whose
// window chose this element. No scatter, so overlapping windows need no atomics.
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = invocation_index(wid, nwg, lidx);
    let hw = p.h * p.w;
    if (i >= p.planes * hw) {
        return;
    }
    let plane_at = divmod(i, hw);
    let plane = plane_at.x;
    let at = plane_at.y;
    let yx = divmod(at, p.w);
    let rows = covering(yx.x, p.kh, p.oh);
    let cols = covering(yx.y, p.kw, p.ow);
    var sum = 0.0;
    for (var oy = rows.x; oy <= rows.y; oy++) {
        for (var ox = cols.x; ox <= cols.y; ox++) {
            let o = plane * p.oh * p.ow + u32(oy) * p.ow + u32(ox);
            if (argmax[o] == at) {
                sum += grad_y[o];
            }
        }
    }
    grad_x[i] = sum;
}
