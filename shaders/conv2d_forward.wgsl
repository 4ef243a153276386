// Convolution forward as an implicit GEMM:
//   rows = output channels, columns = (image, output pixel), depth = (input channel, ky, kx).
// The epilogue adds the bias and applies the layer's ReLU, so no extra pass touches the output.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn load_a(row: u32, kk: u32) -> f32 {
    return weight[row * p.k + kk];
}

fn load_b(kk: u32, col: u32) -> f32 {
    let img_pixel = divmod(col, p.oh * p.ow);
    let i = im2col_index(img_pixel.x, img_pixel.y, kk);
    if (i < 0) {
        return 0.0;
    }
    return x[u32(i)];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    let img_pixel = divmod(col, p.oh * p.ow);
    var v = value + bias[row];
    if ((p.flags & FLAG_RELU) != 0u) {
        v = max(v, 0.0);
    }
    y[output_index(img_pixel.x, row, img_pixel.y)] = v;
}
