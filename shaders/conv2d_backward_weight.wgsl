// Convolution weight gradient as an implicit GEMM:
//   rows = output channels, columns = (input channel, ky, kx), depth = (image, output pixel).
// Split-k: each split writes its partial sums to its own m×n slab of grad_w; the engine adds the
// slabs (reduce_splits.wgsl) when splits > 1.
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_w: array<f32>;

// Where grad_y[img, ·, pixel] starts, for the depth (image, output pixel).
struct DepthA { offset: u32 }
// A kernel tap (input channel, ky, kx).
struct ColumnB { ci: u32, ky: i32, kx: i32 }

fn depth_a(kk: u32) -> DepthA {
    let img_pixel = divmod(kk, p.oh * p.ow);
    return DepthA(output_index(img_pixel.x, 0u, img_pixel.y));
}

fn load_a(row: u32, d: DepthA) -> f32 {
    return grad_y[d.offset + row * p.oh * p.ow];
}

fn column_b(col: u32) -> ColumnB {
    let t = tap(col);
    return ColumnB(t.x, i32(t.y) - i32(p.pad), i32(t.z) - i32(p.pad));
}

fn load_b(kk: u32, c: ColumnB) -> f32 {
    let o = position(kk, p.oh * p.ow, p.ow);
    let i = input_at(o.x, c.ci, i32(o.y * p.stride) + c.ky, i32(o.z * p.stride) + c.kx);
    if (i < 0) {
        return 0.0;
    }
    return x[u32(i)];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    grad_w[(split * p.m + row) * p.n + col] = value;
}
