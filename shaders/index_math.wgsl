// Integer division by a run-time divisor d < 2^24, via f32: the quotient from a float division is
// off by at most one while x < 2^24 or x / d < 2^22 (relative error 2^-23), and is corrected
// exactly. Hardware has no fast integer divide (GPUs emulate it in ~20 instructions; lavapipe runs
// it one lane at a time), and the kernels' index arithmetic divides on every element load. The
// engine keeps every divided index within those bounds (checked on the CPU).
fn divmod(x: u32, d: u32) -> vec2<u32> {
    var q = u32(f32(x) / f32(d));
    var r = i32(x) - i32(q * d);
    if (r < 0) {
        q -= 1u;
        r += i32(d);
    } else if (r >= i32(d)) {
        q += 1u;
        r -= i32(d);
    }
    return vec2<u32>(q, u32(r));
}
