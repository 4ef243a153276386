// Which block of C a workgroup of a GEMM core (gemm_tiled.wgsl, gemm_subgroup.wgsl) computes, and
// which of the `splits` parts of k: BM×BN blocks numbered row by row, `splits` times over.
// Workgroups past the last get `valid = false`. Called with values read from `params`, so WGSL's
// uniformity analysis sees the result as uniform: the cores' barriers and subgroup operations
// depend on it.
struct Block { valid: bool, split: u32, m0: u32, n0: u32 }

fn block_of(group: u32, m: u32, n: u32, splits: u32) -> Block {
    let tiles_m = (m + BM - 1u) / BM;
    let tiles_n = (n + BN - 1u) / BN;
    let tile = group % (tiles_m * tiles_n);
    return Block(group < tiles_m * tiles_n * splits, group / (tiles_m * tiles_n), (tile / tiles_n) * BM, (tile % tiles_n) * BN);
}
