//! Every way the engine can refuse work, each with a message a user can act on.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error(
        "no WebGPU adapter was found: use a browser with WebGPU (Chrome/Edge 113+, Firefox 141+, Safari 26+) \
         or, natively, a Vulkan, Metal or DX12 driver (on Linux without a GPU: Mesa's lavapipe, package mesa-vulkan-drivers). Details: {0}"
    )]
    NoAdapter(String),

    #[error("the GPU adapter refused to create a device: {0}")]
    DeviceRequest(String),

    #[error(
        "the GPU adapter's limit {limit} is {available}, but cnnscope needs at least {required}"
    )]
    LimitsTooSmall { limit: &'static str, required: u64, available: u64 },

    /// Tensors whose shapes, types or sizes an op cannot take, with the numbers that do not fit.
    #[error("{op}: {detail}")]
    InvalidShape { op: String, detail: String },

    /// A tensor or kernel of one engine handed to the other: a bug in the caller, reported
    /// rather than a panic.
    #[error("{what}: {detail}")]
    WrongEngine { what: String, detail: String },

    /// A kernel that would write a buffer it also binds or reads: WebGPU refuses the bind group,
    /// the CPU engine its write lock.
    #[error("{kernel}: {detail}")]
    Aliased { kernel: String, detail: String },

    /// The host (the tab, natively the process) could not give the memory.
    #[error("{what}: the host could not allocate {values} values")]
    HostOutOfMemory { what: String, values: usize },

    /// More workgroups than the adapter's dispatch grid holds.
    #[error("dispatch: {workgroups} workgroups exceed this GPU's grid of {max}×{max}")]
    GridTooLarge { workgroups: u64, max: u64 },

    /// A kernel whose loop would run past the driver's iteration limit and be cut short.
    #[error(
        "{kernel}: a product {depth} deep (k) in one pass: this adapter's driver (llvmpipe) stops every loop of a kernel after {limit} iterations, \
         which would sum it short; train on the CPU engine (--device cpu, or auto), which is faster on this adapter anyway"
    )]
    LoopLimit { kernel: String, depth: usize, limit: u64 },

    #[error(
        "{what} needs a buffer of {bytes} bytes, but this engine takes at most {limit} bytes per buffer; \
         lower the batch size, the input side or the width"
    )]
    BufferTooLarge { what: String, bytes: u64, limit: u64 },

    #[error("{what} needs {}, but {limit}: {advice}", human(*bytes))]
    DoesNotFit { what: String, bytes: u64, limit: String, advice: String },

    /// An own network's description (`net::design`) that does not read or does not fit.
    #[error("line {line}: {detail}")]
    Design { line: usize, detail: String },

    #[error("{name}: {detail}")]
    Setting { name: &'static str, detail: String },

    #[error(
        "training diverged at step {step}: the loss is {loss} (learning rate {lr}); nothing after the last finite \
         readback is kept. Lower the learning rate (try {}) and start again", lr / 10.0
    )]
    Diverged { step: u64, loss: f64, lr: f32 },

    #[error(
        "training diverged at step {step}: {tensor} holds a value that is not finite, so this state is not kept. \
         Lower the learning rate (try {}) and go on from the last keep", lr / 10.0
    )]
    NotFinite { step: u64, tensor: String, lr: f32 },

    #[error(
        "the GPU device was lost ({0}); what it held is gone: open a new device and continue from the run's last checkpoint"
    )]
    DeviceLost(String),

    #[error("the GPU reported an error: {0}")]
    Gpu(String),

    #[error("the CPU engine met an error: {0}")]
    Cpu(String),

    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),

    #[error("{file}: {detail}")]
    Dataset { file: String, detail: String },

    #[error("weights file: {0}; the current model is unchanged")]
    Weights(String),
}

impl EngineError {
    /// A shape error for `op` (the layer or kernel name) with the numbers that do not fit.
    pub fn shape(op: impl Into<String>, detail: impl Into<String>) -> Self {
        EngineError::InvalidShape { op: op.into(), detail: detail.into() }
    }

    /// A knob or flag whose value cannot be used, with what it must be.
    pub fn setting(name: &'static str, detail: impl Into<String>) -> Self {
        EngineError::Setting { name, detail: detail.into() }
    }

    /// A weights error, now naming the file it came from.
    pub fn in_file(self, file: &str) -> Self {
        match self {
            EngineError::Weights(detail) => EngineError::Weights(format!("{file}: {detail}")),
            other => other,
        }
    }

    /// The same error, now naming the layer it happened in ("conv3: ...").
    pub fn in_layer(self, layer: &str) -> Self {
        match self {
            EngineError::InvalidShape { op, detail } => {
                EngineError::InvalidShape { op: format!("{layer} ({op})"), detail }
            }
            EngineError::BufferTooLarge { what, bytes, limit } => {
                EngineError::BufferTooLarge { what: format!("{layer}: {what}"), bytes, limit }
            }
            other => other,
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// 3221225472 → "3.0 GiB", 1536 → "1.5 KiB".
pub fn human(bytes: u64) -> String {
    let units = [("GiB", 30), ("MiB", 20), ("KiB", 10)];
    match units.iter().find(|(_, shift)| bytes >> shift > 0) {
        Some((unit, shift)) => format!("{:.1} {unit}", bytes as f64 / (1u64 << shift) as f64),
        None => format!("{bytes} bytes"),
    }
}
