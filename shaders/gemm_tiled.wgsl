// Tiled GEMM core: C[m, n] = sum_k A[m, k] * B[k, n], for any A and B the including shader can load.
//
// The including shader defines `p` (a uniform with fields m, n, k, splits), and
//   fn load_a(row: u32, kk: u32) -> f32     called only with row < m, kk < k
//   fn load_b(kk: u32, col: u32) -> f32     called only with kk < k, col < n
//   fn store_c(row: u32, col: u32, split: u32, value: f32)
// and the constants TM, TN (outputs per invocation along m and n), prepended by the engine.
//
// A 16×16 workgroup computes a (16·TM)×(16·TN) block of C. Each step stages a 16-deep slice of
// A and B in workgroup memory, so every value loaded from memory feeds TM or TN multiply-adds.
// With splits > 1 the k range is cut into `splits` parts (workgroups along the third grid axis)
// whose partial sums the engine adds afterwards: this keeps many workgroups busy when m·n is small
// and k is huge, as in a convolution's weight gradient.

const WG: u32 = 16u;
const BM: u32 = WG * TM;
const BN: u32 = WG * TN;
const BK: u32 = 16u;

var<workgroup> tile_a: array<f32, BK * BM>; // [kk][row]
var<workgroup> tile_b: array<f32, BK * BN>; // [kk][col]

@compute @workgroup_size(16, 16)
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

    var acc: array<f32, TM * TN>;
    var a: array<f32, TM>;
    var b: array<f32, TN>;
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // Neighbouring invocations load neighbouring k of A and neighbouring columns of B.
        for (var i = lidx; i < BM * BK; i += WG * WG) {
            let row = m0 + i / BK;
            let kk = k0 + i % BK;
            var v = 0.0;
            if (row < p.m && kk < k_end) {
                v = load_a(row, kk);
            }
            tile_a[(i % BK) * BM + i / BK] = v;
        }
        for (var i = lidx; i < BK * BN; i += WG * WG) {
            let kk = k0 + i / BN;
            let col = n0 + i % BN;
            var v = 0.0;
            if (kk < k_end && col < p.n) {
                v = load_b(kk, col);
            }
            tile_b[i] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            for (var i = 0u; i < TM; i++) {
                a[i] = tile_a[kk * BM + lid.y + i * WG];
            }
            for (var j = 0u; j < TN; j++) {
                b[j] = tile_b[kk * BN + lid.x + j * WG];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
            let row = m0 + lid.y + i * WG;
            let col = n0 + lid.x + j * WG;
            if (row < p.m && col < p.n) {
                store_c(row, col, split, acc[i * TN + j]);
            }
        }
    }
}
