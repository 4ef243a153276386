// Naive GEMM core, for the benchmark only: one invocation per output of C, reading A and B
// straight from memory. Same contract as gemm_tiled.wgsl (splits must be 1; TM, TN unused).

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let index = (wid.x + wid.y * nwg.x) * 256u + lidx;
    if (index >= p.m * p.n) {
        return;
    }
    let row = index / p.n;
    let col = index % p.n;
    var acc = 0.0;
    for (var kk = 0u; kk < p.k; kk++) {
        acc = fma(load_a(row, kk), load_b(kk, col), acc);
    }
    store_c(row, col, 0u, acc);
}
