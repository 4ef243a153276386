// Max pooling gradient for overlapping windows (3×3 pools with stride 1 or 2), scattered one class
// of outputs at a time: outputs step = ⌈kernel / stride⌉ apart have disjoint windows, so the
// outputs at (oy, ox) ≡ (class_y, class_x) mod step add their gradient to their recorded winners
// without two of them touching one input. The engine zeroes grad_x first (zero.wgsl) and runs the
// step_y × step_x classes one dispatch after another. Per output that is two loads and one
// read-modify-write, where gathering per input read every covering window's winner (lavapipe runs
// each access lane by lane: a 3×3/1 pool's backward did 18 per input).
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = invocation_index(wid, nwg, lidx);
    // This class's outputs: a rows × cols grid in every plane.
    let rows = divmod(p.oh - p.class_y + p.step_y - 1u, p.step_y).x;
    let cols = divmod(p.ow - p.class_x + p.step_x - 1u, p.step_x).x;
    if (i >= p.planes * rows * cols) {
        return;
    }
    let plane_cell = divmod(i, rows * cols);
    let cell = divmod(plane_cell.y, cols);
    let plane = plane_cell.x;
    let o = (plane * p.oh + p.class_y + cell.x * p.step_y) * p.ow + p.class_x + cell.y * p.step_x;
    let at = plane * p.h * p.w + argmax[o];
    grad_x[at] += grad_y[o];
}
