// One invocation per output of C, reading A and B straight from memory; same contract as
// gemm_tiled.wgsl. With splits = 1 it is the benchmark's naive baseline. With splits > 1 it serves
// GEMMs whose output is tiny and whose k is huge (a first layer's weight gradient: 8×9 outputs,
// millions of k): each workgroup sums one k range for up to 256 outputs, and the engine adds the
// splits. The k loop is the same for the whole workgroup, so its index arithmetic is uniform.

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    p = params;
    let outputs = p.m * p.n;
    let blocks = (outputs + 255u) / 256u;
    let group = wid.x + wid.y * nwg.x;
    if (group >= blocks * p.splits) {
        return;
    }
    let split = group / blocks;
    let index = (group % blocks) * 256u + lidx;
    if (index >= outputs) {
        return;
    }
    let row = index / p.n;
    let col = index % p.n;
    let per_split = (p.k + p.splits - 1u) / p.splits;
    let k_end = min(p.k, (split + 1u) * per_split);
    let column = column_b(col);
    var acc = 0.0;
    for (var kk = split * per_split; kk < k_end; kk++) {
        acc += load_a(row, depth_a(kk)) * load_b(kk, column);
    }
    store_c(row, col, split, acc);
}
