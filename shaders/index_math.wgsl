// Integer division by a run-time divisor, via f32. Hardware has no fast integer divide (GPUs emulate
// it in ~20 instructions; lavapipe runs it one lane at a time), and the kernels' index arithmetic
// divides on every element load.
//
// Exact while the quotient is below 2^21 (ops::MAX_DIVIDED, which the engine checks on the CPU
// before recording a kernel), for any u32 x and d: f32(x) and f32(d) are each within 2^-24 of
// their value, and WGSL lets a division be 2.5 ULP off, so the float quotient is within
// 3.5·2^-23 of x / d relatively — under 0.875 in absolute terms below 2^21 (at 2^23 / 3.5 ≈ 2.4 M
// it may reach 1). Truncated, it is then the quotient or one off either way, which one comparison
// corrects. u32 arithmetic only: no index is cast to i32, where one at 2^31 or more would wrap
// (and Metal's signed overflow is undefined); q·d cannot overflow, as q ≤ x / d + 1 and
// x + d < 2^32 for every index the engine divides (a binding is under 2^32 bytes).
fn divmod(x: u32, d: u32) -> vec2<u32> {
    var q = u32(f32(x) / f32(d));
    if (q * d > x) {
        q -= 1u;
    } else if (x - q * d >= d) {
        q += 1u;
    }
    return vec2<u32>(q, x - q * d);
}
