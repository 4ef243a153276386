//! The WGSL sources (in `shaders/`, one file per kernel) and how kernels built on the GEMM core are
//! assembled from them.

use crate::engine::wgsl::gemm_core::GemmCore;

macro_rules! wgsl {
    ($($name:ident = $file:literal;)*) => {
        $(pub(crate) const $name: &str = include_str!(concat!("../../../shaders/", $file));)*
    };
}

wgsl! {
    PARAMS = "params.wgsl";
    GEMM_TILED = "gemm_tiled.wgsl";
    GEMM_NAIVE = "gemm_naive.wgsl";
    GEMM_SUBGROUP = "gemm_subgroup.wgsl";
    GEMM_BLOCKS = "gemm_blocks.wgsl";
    INDEX_MATH = "index_math.wgsl";
    CONV2D_PARAMS = "conv2d_params.wgsl";
    CONV2D_FORWARD = "conv2d_forward.wgsl";
    CONV2D_BACKWARD_INPUT = "conv2d_backward_input.wgsl";
    CONV2D_BACKWARD_WEIGHT = "conv2d_backward_weight.wgsl";
    MATMUL = "matmul.wgsl";
    REDUCE_SPLITS = "reduce_splits.wgsl";
    CHANNEL_SUM = "channel_sum.wgsl";
    COLUMN_SUM = "column_sum.wgsl";
    POOL_PARAMS = "pool_params.wgsl";
    MAX_POOL_FORWARD = "max_pool_forward.wgsl";
    MAX_POOL_BACKWARD = "max_pool_backward.wgsl";
    MAX_POOL_BACKWARD_CELLS = "max_pool_backward_cells.wgsl";
    AVG_POOL_FORWARD = "avg_pool_forward.wgsl";
    AVG_POOL_BACKWARD = "avg_pool_backward.wgsl";
    VEC4_MAP = "vec4_map.wgsl";
    RELU = "relu.wgsl";
    TENSOR_STATS = "tensor_stats.wgsl";
    ZERO = "zero.wgsl";
    ACCUMULATE = "accumulate.wgsl";
    DROPOUT = "dropout.wgsl";
    COPY_CHANNELS = "copy_channels.wgsl";
    SOFTMAX_CROSS_ENTROPY = "softmax_cross_entropy.wgsl";
    SOFTMAX = "softmax.wgsl";
    SGD = "sgd.wgsl";
    ADAM = "adam.wgsl";
    GATHER_RESIZE = "gather_resize.wgsl";
}

/// A kernel of the vec4-map shape (zero, accumulate, relu): its bindings and `apply`, and the
/// shared entry point of vec4_map.wgsl.
pub(crate) fn vec4_map(kernel: &str) -> String {
    format!("{VEC4_MAP}\n{kernel}")
}

/// `template` with each `//! marker` line (at any indentation) replaced by its code. Every marker
/// must occur exactly once and no other `//!` line may remain: a reindented or renamed marker
/// would otherwise silently drop, say, the multiply-add and leave a kernel writing zeros. The
/// templates are the crate's own files, so a mismatch is a defect in this crate: it panics, and
/// the unit tests below expand every template.
fn expand(file: &str, template: &str, parts: &[(&str, &str)]) -> String {
    let mut used = vec![0usize; parts.len()];
    let mut out = String::with_capacity(template.len());
    for line in template.lines() {
        let Some(marker) = line.trim().strip_prefix("//!") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let found = parts.iter().position(|(name, _)| *name == marker.trim());
        let Some(i) = found else { panic!("{file}: template line {line:?} has no code to expand into") };
        used[i] += 1;
        out.push_str(parts[i].1);
    }
    for ((name, _), n) in parts.iter().zip(used) {
        assert_eq!(n, 1, "{file}: the marker `//! {name}` occurs {n} times, expected exactly once");
    }
    out
}

/// The shape of a tiled GEMM's work: a workgroup of `wgx`×`wgy` invocations, each computing `tm`
/// rows × `tn` columns of C, staging `bk`-deep slices. A workgroup covers (wgy·tm)×(wgx·tn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tile {
    pub wgx: u32,
    pub wgy: u32,
    pub tm: u32,
    pub tn: u32,
    pub bk: u32,
}

impl Tile {
    pub fn rows(&self) -> usize {
        (self.wgy * self.tm) as usize
    }

    pub fn cols(&self) -> usize {
        (self.wgx * self.tn) as usize
    }
}

/// A kernel built on a GEMM core: the loaders in `parts` followed by the core.
pub(crate) fn gemm_source(core: GemmCore, tile: Tile, parts: &[&str]) -> String {
    let Tile { wgx, wgy, tm, tn, bk } = tile;
    let mut source = format!(
        "const WGX: u32 = {wgx}u;\nconst WGY: u32 = {wgy}u;\nconst TM: u32 = {tm}u;\nconst TN: u32 = {tn}u;\nconst BK: u32 = {bk}u;\n"
    );
    for part in parts {
        source.push_str(part);
        source.push('\n');
    }
    match core {
        GemmCore::Tiled => source.push_str(&(GEMM_BLOCKS.to_string() + &unrolled_tiled_core(tile))),
        GemmCore::Subgroup => source.push_str(&(GEMM_BLOCKS.to_string() + &unrolled_subgroup_core(tile))),
        GemmCore::Naive => source.push_str(GEMM_NAIVE),
    }
    source
}

/// gemm_tiled.wgsl with its `//!` lines expanded into straight-line code for a TM × TN tile:
/// accumulator `acc_i_j` holds row i, columns 4j..4j+4 of this invocation's block, and the
/// epilogue's `switch` hands row i's accumulators to its one store loop.
fn unrolled_tiled_core(Tile { tm, tn, .. }: Tile) -> String {
    assert!(tm % 4 == 0 && tn % 4 == 0, "tile rows and columns come in vec4s");
    let mut declare = String::new();
    let mut multiply = String::new();
    let mut rows = String::new();
    for i in 0..tm / 4 {
        multiply += &format!("            let a_{i} = tile_a[a_base + {i}u];\n");
    }
    for j in 0..tn / 4 {
        multiply += &format!("            let b_{j} = tile_b[b_base + {j}u];\n");
    }
    for i in 0..tm {
        let row: Vec<String> = (0..tn / 4).map(|j| format!("acc_{i}_{j}")).collect();
        rows += &format!("            case {i}u: {{ out = array({}); }}\n", row.join(", "));
        for j in 0..tn / 4 {
            declare += &format!("    var acc_{i}_{j} = vec4<f32>();\n");
            multiply += &format!("            acc_{i}_{j} = fma(vec4(a_{}.{}), b_{j}, acc_{i}_{j});\n", i / 4, ["x", "y", "z", "w"][i as usize % 4]);
        }
    }
    let store = format!("        switch i {{\n{rows}            default: {{}}\n        }}\n");
    expand("gemm_tiled.wgsl", GEMM_TILED, &[("declare accumulators", &declare), ("multiply-add", &multiply), ("row of accumulators", &store)])
}

/// gemm_subgroup.wgsl expanded for a subgroup of `wgx` lanes, a block of `tm` rows and `tn` columns
/// per lane: lane l loads rows l·RPL.. (`a_i`), `a{r}` is row r broadcast from its lane, and
/// accumulator `acc_r_j` holds row r, columns 4j..4j+4 of the lane's TN.
fn unrolled_subgroup_core(Tile { wgx: sg, tm: bm, tn, .. }: Tile) -> String {
    assert!(bm % sg == 0 && tn % 4 == 0, "rows are spread evenly over the lanes; columns come in vec4s");
    let rpl = bm / sg;
    let mut declare = String::new();
    let mut multiply = String::new();
    let mut store = String::new();
    for i in 0..rpl {
        declare += &format!("    let row_{i} = min(row0 + {i}u, m - 1u);\n");
        multiply += &format!("        let a_{i} = load_a(row_{i}, depth);\n");
    }
    for c in 0..tn {
        declare += &format!("    let column_{c} = column_b(min(col0 + {c}u, n - 1u));\n");
    }
    for j in 0..tn / 4 {
        let b = (0..4).map(|c| format!("load_b(kk, column_{})", 4 * j + c)).collect::<Vec<_>>().join(", ");
        multiply += &format!("        let b_{j} = vec4({b});\n");
    }
    for r in 0..bm {
        multiply += &format!("        let a{r} = vec4(subgroupBroadcast(a_{}, {}u));\n", r % rpl, r / rpl);
        for j in 0..tn / 4 {
            declare += &format!("    var acc_{r}_{j} = vec4<f32>();\n");
            multiply += &format!("        acc_{r}_{j} = fma(a{r}, b_{j}, acc_{r}_{j});\n");
            store += &format!("    results[{r}u * BN4 + lane * (TN / 4u) + {j}u] = acc_{r}_{j};\n");
        }
    }
    format!("const SG: u32 = {sg}u;\nconst BM: u32 = {bm}u;\nconst RPL: u32 = {rpl}u;\n")
        + &expand("gemm_subgroup.wgsl", GEMM_SUBGROUP, &[("declare", &declare), ("multiply-add", &multiply), ("store", &store)])
}

/// Outputs of a row that one max-pool forward invocation computes (max_pool_forward.wgsl).
const POOL_OUTS: usize = 4;

/// max_pool_forward.wgsl for a kh×kw window moving by `stride`, its `//!` lines expanded: every
/// input column the POOL_OUTS windows span is loaded once (clamped into the plane, `ok` false on
/// padding) and offered to each window that contains it, in the window's row-major order.
pub(crate) fn max_pool_forward_source(kh: usize, kw: usize, stride: usize) -> String {
    let span = (POOL_OUTS - 1) * stride + kw;
    let mut window = String::new();
    let mut store = String::new();
    for j in 0..POOL_OUTS {
        window += &format!("    var best_{j} = -3.402823e38;\n    var at_{j} = 0u;\n    var found_{j} = false;\n");
        store += &format!("    if (ox0 + {j}u < p.ow) {{ y[o + {j}u] = best_{j}; argmax[o + {j}u] = at_{j}; }}\n");
    }
    for ky in 0..kh {
        window += &format!(
            "    let iy_{ky} = y0 + {ky};\n    let row_ok_{ky} = (iy_{ky} >= 0) & (iy_{ky} < i32(p.h));\n    let row_{ky} = u32(clamp(iy_{ky}, 0, i32(p.h) - 1)) * p.w;\n"
        );
        for c in 0..span {
            window += &format!(
                "    {{\n        let ix = x0 + {c};\n        let ok = row_ok_{ky} & (ix >= 0) & (ix < i32(p.w));\n        let at = row_{ky} + u32(clamp(ix, 0, i32(p.w) - 1));\n        let v = x[base + at];\n"
            );
            for j in (0..POOL_OUTS).filter(|j| (j * stride..j * stride + kw).contains(&c)) {
                window += &format!(
                    "        let take_{j} = ok & (!found_{j} | (v > best_{j}));\n        best_{j} = select(best_{j}, v, take_{j});\n        at_{j} = select(at_{j}, at, take_{j});\n        found_{j} = found_{j} | ok;\n"
                );
            }
            window += "    }\n";
        }
    }
    format!("const OUTS: u32 = {POOL_OUTS}u;\nconst STRIDE: u32 = {stride}u;\n")
        + &expand("max_pool_forward.wgsl", MAX_POOL_FORWARD, &[("window", &window), ("store", &store)])
}

/// Invocations max_pool_forward.wgsl needs for `planes` planes of oh×ow outputs.
pub(crate) fn max_pool_forward_invocations(planes: usize, oh: usize, ow: usize) -> usize {
    planes * oh * ow.div_ceil(POOL_OUTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_replaced_exactly_once() {
        let out = expand("t", "a\n    //! body\nb\n", &[("body", "    x;\n")]);
        assert_eq!(out, "a\n    x;\nb\n");
        // Indentation does not matter; the marker's name does.
        assert_eq!(expand("t", "\t//!  body \n", &[("body", "y\n")]), "y\n");
        let missing = std::panic::catch_unwind(|| expand("t", "a\n", &[("body", "x")])).unwrap_err();
        assert_eq!(missing.downcast_ref::<String>().unwrap(), "assertion `left == right` failed: t: the marker `//! body` occurs 0 times, expected exactly once\n  left: 0\n right: 1");
        let twice = std::panic::catch_unwind(|| expand("t", "//! body\n//! body\n", &[("body", "x")]));
        assert!(twice.is_err());
        let unknown = std::panic::catch_unwind(|| expand("t", "//! bdoy\n", &[("body", "x")]));
        assert!(unknown.is_err());
    }

    fn has_marker(source: &str) -> bool {
        source.lines().any(|l| l.trim_start().starts_with("//!"))
    }

    #[test]
    fn every_template_expands() {
        let tile = Tile { wgx: 8, wgy: 8, tm: 8, tn: 4, bk: 8 };
        for core in [GemmCore::Tiled, GemmCore::Subgroup] {
            let source = gemm_source(core, tile, &[]);
            assert!(source.contains("fma(") && !has_marker(&source), "{core:?}");
        }
        let pool = max_pool_forward_source(3, 3, 2);
        assert!(pool.contains("best_3 = select(") && !has_marker(&pool));
    }
}
