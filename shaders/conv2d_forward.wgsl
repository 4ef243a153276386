// Convolution forward as an implicit GEMM:
//   rows = output channels, columns = (image, output pixel), depth = (input channel, ky, kx).
// The epilogue adds the bias and applies the layer's ReLU, so no extra pass touches the output.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

struct DepthA { kk: u32 }
// An output pixel: its image and the top-left input position of its window.
struct ColumnB { img: u32, iy0: i32, ix0: i32 }

fn depth_a(kk: u32) -> DepthA {
    return DepthA(kk);
}

fn load_a(row: u32, d: DepthA) -> f32 {
    return weight[row * p.k + d.kk];
}

fn column_b(col: u32) -> ColumnB {
    let o = position(col, p.oh * p.ow, p.ow);
    return ColumnB(o.x, i32(o.y * p.stride) - i32(p.pad), i32(o.z * p.stride) - i32(p.pad));
}

fn load_b(kk: u32, c: ColumnB) -> f32 {
    let t = tap(kk);
    let i = input_at(c.img, t.x, c.iy0 + i32(t.y), c.ix0 + i32(t.z));
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
