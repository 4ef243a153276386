// Convolution input gradient as an implicit GEMM:
//   rows = input channels, columns = (image, input pixel), depth = (output channel, ky, kx).
// An input pixel receives gradient from output pixel oy only where iy + pad - ky = oy·stride.
// With flag ACCUMULATE the result is added to grad_x (an Inception input feeds four paths).
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

// Where weight[co, ·, ky, kx] starts, for the depth (co, ky, kx).
struct DepthA { offset: u32 }
// An input pixel: its image and its padded position (iy + pad, ix + pad).
struct ColumnB { img: u32, ty: i32, tx: i32 }

fn depth_a(kk: u32) -> DepthA {
    let khw = p.kh * p.kw;
    let co_tap = divmod(kk, khw);
    return DepthA(co_tap.x * p.cin * khw + co_tap.y);
}

fn load_a(row: u32, d: DepthA) -> f32 {
    return weight[d.offset + row * p.kh * p.kw];
}

fn column_b(col: u32) -> ColumnB {
    let i = position(col, p.h * p.w, p.w);
    return ColumnB(i.x, i32(i.y + p.pad), i32(i.z + p.pad));
}

fn load_b(kk: u32, c: ColumnB) -> f32 {
    let t = tap(kk); // (output channel, ky, kx)
    let ty = c.ty - i32(t.y);
    let tx = c.tx - i32(t.z);
    if (ty < 0 || tx < 0) {
        return 0.0;
    }
    var oy = vec2<u32>(u32(ty), 0u);
    var ox = vec2<u32>(u32(tx), 0u);
    if (p.stride != 1u) {
        oy = divmod(u32(ty), p.stride);
        ox = divmod(u32(tx), p.stride);
    }
    if (oy.y != 0u || ox.y != 0u || oy.x >= p.oh || ox.x >= p.ow) {
        return 0.0;
    }
    return grad_y[output_index(c.img, t.x, oy.x * p.ow + ox.x)];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    let i = position(col, p.h * p.w, p.w);
    let at = input_index(i.x, row, i.y, i.z);
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        grad_x[at] += value;
    } else {
        grad_x[at] = value;
    }
}
