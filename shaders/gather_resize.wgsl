// The input pipeline: gathers a batch of 28×28 u8 images by index from the GPU-resident dataset,
// resizes each to side×side with bilinear interpolation (half-pixel centres, align_corners = false,
// as torch.nn.functional.interpolate), and scales to [0, 1]. Labels are gathered alongside.
// Images are packed four pixels to a u32 (little-endian), as the raw IDX bytes arrive.
// With `augment`, each image is flipped, cropped and jittered by draws hashed from `salt` and its
// place in the batch, exactly as src/train/augment.rs (its CPU reference) describes.
struct Params {
    batch: u32, side: u32, src_h: u32, src_w: u32,
    first: u32, augment: u32, salt: u32, first_row: u32,   // first: position in `order` of the batch;
    // first_row: the batch's first row in the step's (a micro-batch's place; draws are per row)
}
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> all_labels: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read_write> images: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;

fn pixel(image: u32, y: u32, x: u32) -> f32 {
    let byte = image * p.src_h * p.src_w + y * p.src_w + x;
    return f32((pixels[byte / 4u] >> ((byte % 4u) * 8u)) & 255u);
}

// Source coordinate and weight along one axis, as PyTorch's area_pixel_compute_source_index.
fn source(dst: u32, src_size: u32) -> vec3<f32> {
    let scale = f32(src_size) / f32(p.side);
    let s = max((f32(dst) + 0.5) * scale - 0.5, 0.0);
    let i0 = min(u32(floor(s)), src_size - 1u);
    let i1 = min(i0 + 1u, src_size - 1u);
    return vec3<f32>(f32(i0), f32(i1), s - f32(i0));
}

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn unit(r: u32) -> f32 {
    return f32(r >> 8u) / 16777216.0;
}

// The bilinear resize of `image` at destination pixel (y, x).
fn resized(image: u32, y: u32, x: u32) -> f32 {
    let sy = source(y, p.src_h);
    let sx = source(x, p.src_w);
    let y0 = u32(sy.x);
    let y1 = u32(sy.y);
    let x0 = u32(sx.x);
    let x1 = u32(sx.y);
    let top = pixel(image, y0, x0) * (1.0 - sx.z) + pixel(image, y0, x1) * sx.z;
    let bottom = pixel(image, y1, x0) * (1.0 - sx.z) + pixel(image, y1, x1) * sx.z;
    return (top * (1.0 - sy.z) + bottom * sy.z) / 255.0;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
    p = params;
    let i = (wid.x + wid.y * nwg.x) * 256u + lidx;
    let area = p.side * p.side;
    if (i >= p.batch * area) {
        return;
    }
    let b_at = divmod(i, area); // not `/`: integer division runs lane by lane on lavapipe
    let b = b_at.x;
    let yx = divmod(b_at.y, p.side);
    let image = order[p.first + b];
    if (p.augment == 0u) {
        images[i] = resized(image, yx.x, yx.y);
    } else {
        let pad = p.side / 8u;
        let r0 = pcg(p.salt ^ pcg(p.first_row + b));
        let r1 = pcg(r0);
        let r2 = pcg(r1);
        let r3 = pcg(r2);
        let r4 = pcg(r3);
        let dy = i32(r1 % (2u * pad + 1u)) - i32(pad);
        let dx = i32(r2 % (2u * pad + 1u)) - i32(pad);
        var x = yx.y;
        if ((r0 & 1u) == 1u) {
            x = p.side - 1u - x;
        }
        let sy = i32(yx.x) + dy;
        let sx = i32(x) + dx;
        let side = i32(p.side);
        var v = 0.0;
        if (sy >= 0 && sy < side && sx >= 0 && sx < side) {
            v = resized(image, u32(sy), u32(sx));
        }
        let brightness = 0.75 + 0.5 * unit(r3);
        let contrast = 0.75 + 0.5 * unit(r4);
        images[i] = clamp((v * brightness - 0.5) * contrast + 0.5, 0.0, 1.0);
    }
    if (b_at.y == 0u) {
        labels[b] = all_labels[image];
    }
}
