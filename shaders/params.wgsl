// Binding 0 of every kernel: its parameters, of the kernel's own `struct Params`. The engine puts
// this declaration in front of every kernel's source, as its bind-group layout puts the buffer at
// binding 0 (`Gpu::pipeline`).
// A read-only storage buffer, not a uniform: Mesa's lavapipe can inline uniform values that steer
// loops into the shader at dispatch time (a 32-row GEMM took 8 ms instead of 2). Every kernel
// copies it into the private `p` on the first line of main (`p = params;`): lavapipe runs each
// storage load lane by lane, and the private copy lives in registers. Control flow that reaches a
// barrier reads `params` instead, which WGSL's uniformity analysis knows is uniform.
@group(0) @binding(0) var<storage, read> params: Params;
var<private> p: Params;
