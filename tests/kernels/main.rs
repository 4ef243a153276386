//! Every kernel, forward and backward, against (a) the CPU reference, (b) finite differences and
//! (c) PyTorch fixtures. Each test is written once and runs natively (`cargo test`, wgpu on Vulkan,
//! Mesa lavapipe here) and in the browser (`wasm-pack test --headless --chrome`, Chromium's WebGPU).

#[macro_use]
mod common;

mod bounds;
mod check;
mod context;
mod conv2d;
mod input;
mod linear;
mod loss;
mod micro_batch;
mod model;
mod optim;
mod pool;
mod small_ops;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
