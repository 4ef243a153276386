// Subgroup GEMM core: C[m, n] = sum_k A[m, k] * B[k, n], same loader contract as gemm_tiled.wgsl.
//
// A workgroup is one subgroup of SG lanes (the adapter's fixed subgroup size) and computes a
// BM×(SG·TN) block of C: every lane owns TN columns for all BM rows. At each depth, lane l loads
// rows l·RPL .. l·RPL + RPL of A (RPL = BM / SG) and its own TN values of B; subgroupBroadcast then
// hands every lane each of the BM values of A. No workgroup memory and no barriers: each value
// loaded feeds TN or BM multiply-adds, and the exchange costs no memory access at all. On a CPU
// adapter, where every memory access runs lane by lane (lavapipe), this is ~3× the tiled core.
// The engine prepends SG, BM, RPL and TN and expands the `//!` lines into straight-line code over
// BM × TN/4 vec4 accumulators (acc_r_j: row r, columns 4j..4j+4 of this lane's TN).

const BN: u32 = SG * TN;
const BN4: u32 = BN / 4u;

// The block's results on their way out, [row][column / 4]: a loop over them inlines the kernel's
// store_c once, where storing each accumulator would inline it BM·TN times (lavapipe took 15 s
// to compile a 64×64 block that way; 1 s now). A private array would do, but lavapipe turns its
// dynamic indexing into chains of branches. Each lane reads back only what it wrote: no barrier.
var<workgroup> results: array<vec4<f32>, BM * BN4>;

@compute @workgroup_size(SG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    p = params;
    // Control flow around subgroupBroadcast reads `params`, whose uniformity WGSL can see.
    let m = params.m;
    let n = params.n;
    let k = params.k;
    let splits = params.splits;
    let block = block_of(wid.x + wid.y * nwg.x, m, n, splits);
    if (!block.valid) {
        return;
    }
    let split = block.split;
    let m0 = block.m0;
    let n0 = block.n0;

    let per_split = (k + splits - 1u) / splits;
    let k_begin = split * per_split;
    let k_end = min(k, k_begin + per_split);

    // Rows and columns past the matrix load a valid neighbour instead (no branch in the loop); their
    // sums are never stored.
    let row0 = m0 + lane * RPL;
    let col0 = n0 + lane * TN;
    //! declare

    for (var kk = k_begin; kk < k_end; kk++) {
        let depth = depth_a(kk);
        //! multiply-add
    }
    //! store
    for (var r = 0u; r < BM; r++) {
        for (var j = 0u; j < TN / 4u; j++) {
            let v = results[r * BN4 + lane * (TN / 4u) + j];
            for (var c = 0u; c < 4u; c++) {
                let col = col0 + j * 4u + c;
                if (m0 + r < m && col < n) {
                    store_c(m0 + r, col, split, v[c]);
                }
            }
        }
    }
}
