// Max pooling: each output is the largest input in its window (padding never wins, as in PyTorch);
// the winner's position within the plane is kept for the backward pass. Ties go to the first.
//
// One invocation computes OUTS neighbouring outputs of a row: their windows share columns (a 3×3/1
// pool's four windows span 3×6 inputs, not 4×9), and lavapipe runs each load lane by lane. The
// engine specializes the kernel to the window: it prepends OUTS and STRIDE and expands `//! window`
// into straight-line code for the kernel's height and width (shaders.rs): no loops, and padding
// handled by clamped loads and selects rather than branches.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = invocation_index(wid, nwg, lidx);
    // Rows of outputs come in groups of OUTS.
    let groups = (p.ow + OUTS - 1u) / OUTS;
    if (i >= p.planes * p.oh * groups) {
        return;
    }
    let plane_rest = divmod(i, p.oh * groups);
    let oy_group = divmod(plane_rest.y, groups);
    let ox0 = oy_group.y * OUTS;
    let base = plane_rest.x * p.h * p.w;
    let y0 = i32(oy_group.x * STRIDE) - i32(p.pad);
    let x0 = i32(ox0 * STRIDE) - i32(p.pad);
    //! window
    let o = (plane_rest.x * p.oh + oy_group.x) * p.ow + ox0;
    //! store
}
