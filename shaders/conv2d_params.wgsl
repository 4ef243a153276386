// Parameters shared by the three convolution kernels (forward, input gradient, weight gradient).
// Tensors are NCHW. The input and output may be channel ranges of wider tensors
// (offset, total): Inception's paths read and write their slice of a concatenation in place.
struct Params {
    m: u32, n: u32, k: u32, splits: u32,          // the implicit GEMM's shape
    batch: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, flags: u32,   // flags: 1 = fused ReLU, 2 = accumulate into output
    in_offset: u32, in_total: u32, out_offset: u32, out_total: u32,
}

const FLAG_RELU: u32 = 1u;
const FLAG_ACCUMULATE: u32 = 2u;

// Index of input element (image, channel, y, x) in the (possibly wider) input tensor.
fn input_index(img: u32, c: u32, y: u32, x: u32) -> u32 {
    return ((img * p.in_total + p.in_offset + c) * p.h + y) * p.w + x;
}

// Index of output element (image, channel, pixel) in the (possibly wider) output tensor.
fn output_index(img: u32, c: u32, pixel: u32) -> u32 {
    return (img * p.out_total + p.out_offset + c) * (p.oh * p.ow) + pixel;
}

// A kernel tap (input channel, ky, kx) from its index in ci·kh·kw order.
fn tap(index: u32) -> vec3<u32> {
    let c_yx = divmod(index, p.kh * p.kw);
    let yx = divmod(c_yx.y, p.kw);
    return vec3<u32>(c_yx.x, yx.x, yx.y);
}

// (image, y, x) of a position in a batch of planes of `width` columns and `area` pixels.
fn position(index: u32, area: u32, width: u32) -> vec3<u32> {
    let img_pixel = divmod(index, area);
    let yx = divmod(img_pixel.y, width);
    return vec3<u32>(img_pixel.x, yx.x, yx.y);
}

// The input element at (iy, ix) = (oy·stride + ky − pad, ox·stride + kx − pad), or -1 on padding.
fn input_at(img: u32, ci: u32, iy: i32, ix: i32) -> i32 {
    if (iy < 0 || ix < 0 || iy >= i32(p.h) || ix >= i32(p.w)) {
        return -1;
    }
    return i32(input_index(img, ci, u32(iy), u32(ix)));
}
