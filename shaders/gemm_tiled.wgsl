// Tiled GEMM core: C[m, n] = sum_k A[m, k] * B[k, n], for any A and B the including shader can load.
//
// The including shader defines `struct Params` (fields m, n, k, splits first; the engine declares
// `params` and its private copy `p`, params.wgsl), and
//   fn depth_a(kk: u32) -> DepthA               what A's loads at depth kk share (decoded once)
//   fn load_a(row: u32, d: DepthA) -> f32       called only with row < m, kk < k
//   fn column_b(col: u32) -> ColumnB            what B's loads in column col share (decoded once)
//   fn load_b(kk: u32, c: ColumnB) -> f32       called only with kk < k, col < n
//   fn store_c(row: u32, col: u32, split: u32, value: f32)
// Index decoding (image, pixel, tap) costs integer divisions; the split lets each invocation decode
// its column of B once per workgroup and its depth of A once per step, not once per element.
// The engine prepends WGX×WGY (the workgroup's invocations along columns and rows), TM and TN
// (outputs per invocation along rows and columns; both multiples of 4) and BK (the staged depth),
// and expands the three `//!` lines into straight-line code over TM × TN/4 vec4 accumulators, so the
// k loop indexes no private array dynamically (which some compilers, lavapipe's among them, spill
// to memory); only the epilogue, once per block, copies a row of them into one (`out`).
//
// A workgroup computes a (WGY·TM)×(WGX·TN) block of C. Each step stages a BK-deep slice of
// A and B in workgroup memory, so every value loaded from memory feeds TM or TN multiply-adds.
// With splits > 1 the k range is cut into `splits` parts whose partial sums the engine adds
// afterwards: this keeps many workgroups busy when m·n is small and k is huge, as in a
// convolution's weight gradient.

const BM: u32 = WGY * TM;
const BN: u32 = WGX * TN;
const BM4: u32 = BM / 4u;
const BN4: u32 = BN / 4u;
const LANES: u32 = WGX * WGY;

// Both tiles hold vec4s (4 rows of A, 4 columns of B at one depth): the inner loop reads
// TM/4 + TN/4 vec4s per depth for TM·TN multiply-adds, and staging writes whole vec4s. Loads and
// stores, not arithmetic, are what costs (lavapipe runs each one lane by lane).
var<workgroup> tile_a: array<vec4<f32>, BK * BM4>; // [kk][row / 4]
var<workgroup> tile_b: array<vec4<f32>, BK * BN4>; // [kk][column / 4]

@compute @workgroup_size(WGX, WGY)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    p = params;
    // The shape steers the loop around the barriers, so it comes from `params`, which WGSL's
    // uniformity analysis (Chromium's) knows is uniform; the private copy `p` it does not.
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

    let chunks = (k + BK - 1u) / BK;
    let chunks_per_split = (chunks + splits - 1u) / splits;
    let k_begin = split * chunks_per_split * BK;
    let k_end = min(k, k_begin + chunks_per_split * BK);

    // This invocation's rows are row0 .. row0 + TM, its columns col4 .. col4 + TN/4 (in vec4s).
    let row0 = lid.y * TM;
    let col4 = lid.x * (TN / 4u);
    //! declare accumulators

    // Staging roles. LANES is a multiple of BK and of BN/4, so each invocation stages A at one fixed
    // depth within a step (decoded once per step) and B in four fixed columns (decoded once).
    let b_col = n0 + (lidx % BN4) * 4u;
    let b_column_0 = column_b(min(b_col, n - 1u));
    let b_column_1 = column_b(min(b_col + 1u, n - 1u));
    let b_column_2 = column_b(min(b_col + 2u, n - 1u));
    let b_column_3 = column_b(min(b_col + 3u, n - 1u));

    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // Neighbouring invocations load neighbouring k of A and neighbouring columns of B.
        // Constant trip counts: no loop exits that differ between invocations.
        let a_kk = k0 + lidx % BK;
        let a_depth = depth_a(min(a_kk, k - 1u));
        for (var r = 0u; r < (BM4 * BK + LANES - 1u) / LANES; r++) {
            let g = lidx + r * LANES;
            if (g < BM4 * BK) {
                let row = m0 + (g / BK) * 4u;
                var v = vec4<f32>();
                if (a_kk < k_end) {
                    if (row < m) { v.x = load_a(row, a_depth); }
                    if (row + 1u < m) { v.y = load_a(row + 1u, a_depth); }
                    if (row + 2u < m) { v.z = load_a(row + 2u, a_depth); }
                    if (row + 3u < m) { v.w = load_a(row + 3u, a_depth); }
                }
                tile_a[(g % BK) * BM4 + g / BK] = v;
            }
        }
        for (var r = 0u; r < (BK * BN4 + LANES - 1u) / LANES; r++) {
            let g = lidx + r * LANES;
            let kk = k0 + g / BN4;
            if (g < BK * BN4) {
                var v = vec4<f32>();
                if (kk < k_end) {
                    if (b_col < n) { v.x = load_b(kk, b_column_0); }
                    if (b_col + 1u < n) { v.y = load_b(kk, b_column_1); }
                    if (b_col + 2u < n) { v.z = load_b(kk, b_column_2); }
                    if (b_col + 3u < n) { v.w = load_b(kk, b_column_3); }
                }
                tile_b[g] = v;
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let a_base = kk * BM4 + row0 / 4u;
            let b_base = kk * BN4 + col4;
            //! multiply-add
        }
        workgroupBarrier();
    }
    // One store_c in a loop over the rows, not one per output: the kernel's epilogue (bias, ReLU,
    // index arithmetic) inlined TM·TN times made most of the shader, and CPU adapters compile
    // shaders in time proportional to their size (SwiftShader: ~1.5 s per GEMM kernel).
    for (var i = 0u; i < TM; i++) {
        var out: array<vec4<f32>, TN / 4u>;
        //! row of accumulators
        let row = m0 + row0 + i;
        for (var j = 0u; j < TN / 4u; j++) {
            for (var c = 0u; c < 4u; c++) {
                let col = n0 + (col4 + j) * 4u + c;
                if (row < m && col < n) {
                    store_c(row, col, split, out[j][c]);
                }
            }
        }
    }
}
