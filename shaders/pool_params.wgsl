// Parameters shared by the pooling kernels. Tensors are NCHW; a "plane" is one (image, channel).
// The last five fields are max_pool_backward.wgsl's class of outputs and its spacing (zero elsewhere).
struct Params {
    planes: u32, h: u32, w: u32, oh: u32,
    ow: u32, kh: u32, kw: u32, stride: u32,
    pad: u32, class_y: u32, class_x: u32, step_y: u32,
    step_x: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

fn invocation_index(wid: vec3<u32>, nwg: vec3<u32>, lidx: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * 256u + lidx;
}

// Output i's (plane, oy, ox). divmod, not `/`: integer division runs lane by lane on lavapipe.
fn output_position(i: u32) -> vec3<u32> {
    let plane_o = divmod(i, p.oh * p.ow);
    let o = divmod(plane_o.y, p.ow);
    return vec3<u32>(plane_o.x, o.x, o.y);
}

// The output rows (or columns) whose windows cover input row `i`: [first, last], maybe empty.
// Divisions go through divmod (index_math.wgsl): integer division runs lane by lane on lavapipe.
fn covering(i: u32, k: u32, out_size: u32) -> vec2<i32> {
    let lo = i32(i + p.pad) - i32(k) + 1;
    let first = select(0, i32(divmod(u32(lo) + p.stride - 1u, p.stride).x), lo > 0);
    let last = min(i32(out_size) - 1, i32(divmod(i + p.pad, p.stride).x));
    return vec2<i32>(first, last);
}
