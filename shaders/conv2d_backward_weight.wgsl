// Convolution weight gradient as an implicit GEMM:
//   rows = output channels, columns = (input channel, ky, kx), depth = (image, output pixel).
// Split-k: each split writes its partial sums to its own m×n slab of grad_w; the engine adds the
// slabs (reduce_splits.wgsl) when splits > 1.
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_w: array<f32>;

fn load_a(row: u32, kk: u32) -> f32 {
    let img_pixel = divmod(kk, p.oh * p.ow);
    return grad_y[output_index(img_pixel.x, row, img_pixel.y)];
}

fn load_b(kk: u32, col: u32) -> f32 {
    let img_pixel = divmod(kk, p.oh * p.ow);
    let i = im2col_index(img_pixel.x, img_pixel.y, col);
    if (i < 0) {
        return 0.0;
    }
    return x[u32(i)];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    grad_w[(split * p.m + row) * p.n + col] = value;
}
