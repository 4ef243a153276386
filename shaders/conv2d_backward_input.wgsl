// Convolution input gradient as an implicit GEMM:
//   rows = input channels, columns = (image, input pixel), depth = (output channel, ky, kx).
// An input pixel receives gradient from output pixel oy only where iy + pad - ky = oy·stride.
// With flag ACCUMULATE the result is added to grad_x (an Inception input feeds four paths).
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

fn load_a(row: u32, kk: u32) -> f32 {
    let khw = p.kh * p.kw;
    let co_tap = divmod(kk, khw);
    return weight[(co_tap.x * p.cin + row) * khw + co_tap.y];
}

fn load_b(kk: u32, col: u32) -> f32 {
    let img_pixel = divmod(col, p.h * p.w);
    let img = img_pixel.x;
    let iyx = divmod(img_pixel.y, p.w);
    let iy = iyx.x;
    let ix = iyx.y;
    let co_tap = divmod(kk, p.kh * p.kw);
    let co = co_tap.x;
    let kyx = divmod(co_tap.y, p.kw);
    let ky = kyx.x;
    let kx = kyx.y;
    let ty = i32(iy + p.pad) - i32(ky);
    let tx = i32(ix + p.pad) - i32(kx);
    if (ty < 0 || tx < 0) {
        return 0.0;
    }
    let oy = divmod(u32(ty), p.stride);
    let ox = divmod(u32(tx), p.stride);
    if (oy.y != 0u || ox.y != 0u || oy.x >= p.oh || ox.x >= p.ow) {
        return 0.0;
    }
    return grad_y[output_index(img, co, oy.x * p.ow + ox.x)];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    let img_pixel = divmod(col, p.h * p.w);
    let iyx = divmod(img_pixel.y, p.w);
    let i = input_index(img_pixel.x, row, iyx.x, iyx.y);
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        grad_x[i] += value;
    } else {
        grad_x[i] = value;
    }
}
