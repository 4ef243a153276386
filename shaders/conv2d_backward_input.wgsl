// Convolution input gradient as an implicit GEMM:
//   rows = input channels, columns = (image, input pixel), depth = (output channel, ky, kx).
// An input pixel receives gradient from output pixel oy only where iy + pad - ky = oy·stride.
// With flag ACCUMULATE the result is added to grad_x (an Inception input feeds four paths).
@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

fn load_a(row: u32, kk: u32) -> f32 {
    let khw = p.kh * p.kw;
    return weight[((kk / khw) * p.cin + row) * khw + kk % khw];
}

fn load_b(kk: u32, col: u32) -> f32 {
    let hw = p.h * p.w;
    let img = col / hw;
    let iy = (col % hw) / p.w;
    let ix = col % p.w;
    let khw = p.kh * p.kw;
    let co = kk / khw;
    let ky = (kk % khw) / p.kw;
    let kx = kk % p.kw;
    let ty = i32(iy + p.pad) - i32(ky);
    let tx = i32(ix + p.pad) - i32(kx);
    if (ty < 0 || tx < 0) {
        return 0.0;
    }
    let oy = u32(ty) / p.stride;
    let ox = u32(tx) / p.stride;
    if (oy * p.stride != u32(ty) || ox * p.stride != u32(tx) || oy >= p.oh || ox >= p.ow) {
        return 0.0;
    }
    return grad_y[output_index(img, co, oy * p.ow + ox)];
}

fn store_c(row: u32, col: u32, split: u32, value: f32) {
    let hw = p.h * p.w;
    let img = col / hw;
    let pixel = col % hw;
    let i = input_index(img, row, pixel / p.w, pixel % p.w);
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        grad_x[i] += value;
    } else {
        grad_x[i] = value;
    }
}
