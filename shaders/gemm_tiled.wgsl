// Tiled GEMM core: C[m, n] = sum_k A[m, k] * B[k, n], for any A and B the including shader can load.
//
// The including shader defines `p` (a uniform with fields m, n, k, splits), and
//   fn depth_a(kk: u32) -> DepthA               what A's loads at depth kk share (decoded once)
//   fn load_a(row: u32, d: DepthA) -> f32       called only with row < m, kk < k
//   fn column_b(col: u32) -> ColumnB            what B's loads in column col share (decoded once)
//   fn load_b(kk: u32, c: ColumnB) -> f32       called only with kk < k, col < n
//   fn store_c(row: u32, col: u32, split: u32, value: f32)
// Index decoding (image, pixel, tap) costs integer divisions; the split lets each invocation decode
// its column of B once per workgroup and its depth of A once per step, not once per element.
// The engine prepends WGX×WGY (the workgroup's invocations along columns and rows), TM and TN
// (outputs per invocation along rows and columns; TN a multiple of 4) and BK (the staged depth),
// and expands the three `//!` lines into straight-line code over TM × TN/4 vec4 accumulators, so no
// private array is indexed dynamically (which some compilers, lavapipe's among them, spill to memory).
//
// A workgroup computes a (WGY·TM)×(WGX·TN) block of C. Each step stages a BK-deep slice of
// A and B in workgroup memory, so every value loaded from memory feeds TM or TN multiply-adds.
// With splits > 1 the k range is cut into `splits` parts whose partial sums the engine adds
// afterwards: this keeps many workgroups busy when m·n is small and k is huge, as in a
// convolution's weight gradient.

const BM: u32 = WGY * TM;
const BN: u32 = WGX * TN;
const BN4: u32 = BN / 4u;
const LANES: u32 = WGX * WGY;

var<workgroup> tile_a: array<f32, BK * BM>;        // [kk][row]
var<workgroup> tile_b: array<vec4<f32>, BK * BN4>; // [kk][column / 4]

@compute @workgroup_size(WGX, WGY)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let tiles_m = (p.m + BM - 1u) / BM;
    let tiles_n = (p.n + BN - 1u) / BN;
    let group = wid.x + wid.y * nwg.x;
    if (group >= tiles_m * tiles_n * p.splits) {
        return;
    }
    let split = group / (tiles_m * tiles_n);
    let tile = group % (tiles_m * tiles_n);
    let m0 = (tile / tiles_n) * BM;
    let n0 = (tile % tiles_n) * BN;

    let chunks = (p.k + BK - 1u) / BK;
    let chunks_per_split = (chunks + p.splits - 1u) / p.splits;
    let k_begin = split * chunks_per_split * BK;
    let k_end = min(p.k, k_begin + chunks_per_split * BK);

    // This invocation's rows are row0 .. row0 + TM, its columns col4 .. col4 + TN/4 (in vec4s).
    let row0 = lid.y * TM;
    let col4 = lid.x * (TN / 4u);
    //! declare accumulators

    // LANES is a multiple of BN and of BK: each invocation loads one fixed column of B and, within
    // a step, one fixed depth of A.
    let b_col = n0 + lidx % BN;
    let b_column = column_b(min(b_col, p.n - 1u));

    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // Neighbouring invocations load neighbouring k of A and neighbouring columns of B.
        // Constant trip counts: no loop exits that differ between invocations.
        let a_kk = k0 + lidx % BK;
        let a_depth = depth_a(min(a_kk, p.k - 1u));
        for (var r = 0u; r < (BM * BK + LANES - 1u) / LANES; r++) {
            let i = lidx + r * LANES;
            let row = m0 + i / BK;
            if (i < BM * BK) {
                var v = 0.0;
                if (row < p.m && a_kk < k_end) {
                    v = load_a(row, a_depth);
                }
                tile_a[(i % BK) * BM + i / BK] = v;
            }
        }
        for (var r = 0u; r < BK * BN / LANES; r++) {
            let i = lidx + r * LANES;
            let kk = k0 + i / BN;
            var v = 0.0;
            if (kk < k_end && b_col < p.n) {
                v = load_b(kk, b_column);
            }
            tile_b[i / 4u][i % 4u] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let a_base = kk * BM + row0;
            let b_base = kk * BN4 + col4;
            //! multiply-add
        }
        workgroupBarrier();
    }
    //! store
}
