// One invocation per output of C, reading A and B straight from memory; same contract as
// gemm_tiled.wgsl. With splits = 1 it is the benchmark's naive baseline. With splits > 1 it serves
// GEMMs whose output is tiny and whose k is huge (a first layer's weight gradient: 8×9 outputs,
// millions of k): invocation (split, row, col) sums one k range, and the engine adds the splits.

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let index = (wid.x + wid.y * nwg.x) * 256u + lidx;
    let outputs = p.m * p.n;
    if (index >= outputs * p.splits) {
        return;
    }
    let split = index / outputs;
    let row = (index % outputs) / p.n;
    let col = index % p.n;
    let per_split = (p.k + p.splits - 1u) / p.splits;
    let k_end = min(p.k, (split + 1u) * per_split);
    var acc = 0.0;
    for (var kk = split * per_split; kk < k_end; kk++) {
        acc += load_a(row, kk) * load_b(kk, col);
    }
    store_c(row, col, split, acc);
}
