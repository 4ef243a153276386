//! The WGSL sources (in `shaders/`, one file per kernel) and how kernels built on the GEMM core are
//! assembled from them.

use crate::recorder::GemmCore;

macro_rules! wgsl {
    ($($name:ident = $file:literal;)*) => {
        $(pub(crate) const $name: &str = include_str!(concat!("../shaders/", $file));)*
    };
}

wgsl! {
    GEMM_TILED = "gemm_tiled.wgsl";
    GEMM_NAIVE = "gemm_naive.wgsl";
    CONV2D_PARAMS = "conv2d_params.wgsl";
    CONV2D_FORWARD = "conv2d_forward.wgsl";
    CONV2D_BACKWARD_INPUT = "conv2d_backward_input.wgsl";
    CONV2D_BACKWARD_WEIGHT = "conv2d_backward_weight.wgsl";
    MATMUL = "matmul.wgsl";
    REDUCE_SPLITS = "reduce_splits.wgsl";
    CHANNEL_SUM = "channel_sum.wgsl";
    POOL_PARAMS = "pool_params.wgsl";
    MAX_POOL_FORWARD = "max_pool_forward.wgsl";
    MAX_POOL_BACKWARD = "max_pool_backward.wgsl";
    AVG_POOL_FORWARD = "avg_pool_forward.wgsl";
    AVG_POOL_BACKWARD = "avg_pool_backward.wgsl";
    RELU = "relu.wgsl";
    DROPOUT = "dropout.wgsl";
    COPY_CHANNELS = "copy_channels.wgsl";
    SOFTMAX_CROSS_ENTROPY = "softmax_cross_entropy.wgsl";
    SOFTMAX = "softmax.wgsl";
    SGD = "sgd.wgsl";
    ADAM = "adam.wgsl";
    GATHER_RESIZE = "gather_resize.wgsl";
}

/// Outputs per invocation (along rows, along columns) of a tiled GEMM; a workgroup covers 16× that.
pub(crate) type Tile = (u32, u32);

/// A kernel built on a GEMM core: the loaders in `parts` followed by the core.
pub(crate) fn gemm_source(core: GemmCore, tile: Tile, parts: &[&str]) -> String {
    let mut source = format!("const TM: u32 = {}u;\nconst TN: u32 = {}u;\n", tile.0, tile.1);
    for part in parts {
        source.push_str(part);
        source.push('\n');
    }
    source.push_str(match core {
        GemmCore::Tiled => GEMM_TILED,
        GemmCore::Naive => GEMM_NAIVE,
    });
    source
}
