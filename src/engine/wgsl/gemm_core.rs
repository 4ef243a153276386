//! Which GEMM core a kernel is built on: a leaf that the adapter (which cores it offers), the
//! recorder (which one a step uses), the shader sources (each core's WGSL) and the GEMM policy
//! ([`super::gemm`]) all name, so none of them needs another to say it.

/// Which GEMM core the convolution and linear kernels are built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GemmCore {
    /// Workgroup-memory tiles, several outputs per invocation (the engine's kernel).
    #[default]
    Tiled,
    /// One output per invocation reading straight from memory: the baseline the benchmark compares to.
    Naive,
    /// Each workgroup one subgroup, rows of A exchanged by subgroupBroadcast (gemm_subgroup.wgsl):
    /// the fastest core on CPU adapters, where workgroup memory costs as much as any memory. On an
    /// adapter without subgroups of one fixed size, the tiled core runs instead.
    Subgroup,
}
