// ReLU in place, forward (x = max(x, 0)) or, with the flag, backward (grad = 0 where the forward
// output y is 0). Most ReLUs are fused into the convolution and linear epilogues; this serves the
// rest and every backward pass, where it masks the gradient in place before the layer's own
// backward kernels. The rest of the kernel is vec4_map.wgsl.
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> values: array<vec4<f32>>;

fn apply(i: u32) {
    if (p.flag != 0u) {
        values[i] = select(vec4<f32>(), values[i], y[i] > vec4<f32>());
    } else {
        values[i] = max(values[i], vec4<f32>());
    }
}
