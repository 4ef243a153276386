// A tensor's summary in one workgroup (a few times per epoch; never a full readback): for `x`
// seen as [rows, cols] (rows: the batch's images; cols: one image's units), out[slot] receives
// (Σv, Σv², the number of columns whose every row is ≤ 0, 0). With `adam`, v is Adam's update
// direction a·m / (√(b·s) + eps) from the first moment m = x and second moment s = y (a and b undo
// the moments' bias), so Σv² is the squared norm of the last update over the learning rate.
struct Params {
    rows: u32, cols: u32, slot: u32, adam: u32,
    a: u32, b: u32, eps: u32, _pad0: u32,   // f32 bits
}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

var<workgroup> partial: array<vec3<f32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lidx: u32) {
    p = params;
    let a = bitcast<f32>(p.a);
    let b = bitcast<f32>(p.b);
    let eps = bitcast<f32>(p.eps);
    var acc = vec3<f32>(0.0);
    for (var c = lidx; c < p.cols; c += 256u) {
        var alive = false;
        for (var r = 0u; r < p.rows; r++) {
            let i = r * p.cols + c;
            var v = x[i];
            if (p.adam != 0u) {
                v = a * v / (sqrt(b * y[i]) + eps);
            }
            acc += vec3<f32>(v, v * v, 0.0);
            alive = alive || v > 0.0;
        }
        if (!alive) {
            acc.z += 1.0;
        }
    }
    partial[lidx] = acc;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half /= 2u) {
        if (lidx < half) {
            partial[lidx] += partial[lidx + half];
        }
        workgroupBarrier();
    }
    if (lidx == 0u) {
        out[params.slot] = vec4<f32>(partial[0], 0.0);
    }
}
