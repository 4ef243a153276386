// sum += x: a micro-batch's parameter gradient added into the step's (src/ops/accumulate.rs).
// The rest of the kernel is vec4_map.wgsl.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sum: array<vec4<f32>>;

fn apply(i: u32) {
    sum[i] += x[i];
}
