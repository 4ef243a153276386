// Sets a tensor to zeros: for kernels that scatter into their output, such as
// max_pool_backward.wgsl. The rest of the kernel is vec4_map.wgsl.
@group(0) @binding(1) var<storage, read_write> values: array<vec4<f32>>;

fn apply(i: u32) {
    values[i] = vec4<f32>();
}
