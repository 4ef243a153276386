#!/usr/bin/env bash
# Runs every test: installs prerequisites (scripts/setup.sh), then the engine, network, data,
# training and CLI tests natively (wgpu on Vulkan; Mesa lavapipe without a GPU), the engine tests
# again in headless Chromium on its WebGPU, and the browser app end to end in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== native: cargo test (wgpu on Vulkan)"
cargo test --all-targets

echo "== clippy: no unwrap, expect or unchecked indexing where files, flags and knobs are read"
# The modules that read user input deny those lints themselves (#![deny(...)] at their top); the
# rest of clippy's advice is not a gate here.
cargo clippy -q --lib --bins -- -A clippy::all

echo "== the PyTorch half: torchrun continues a cnnscope run and back, one step equal both ways, ONNX"
# The debug binary cargo test built (a release build would cost CI minutes for the same answers).
scripts/pytorch_test.sh target/debug/cnnscope

echo "== native, 4-wide lavapipe: the engine tests again at subgroup size 4 (8 above)"
# lavapipe's SIMD width sets its subgroup size, which the subgroup GEMM core is compiled for; other
# drivers ignore the variable and simply run the tests twice.
LP_NATIVE_VECTOR_WIDTH=128 cargo test --test kernels

echo "== native, no GPU timestamps: a step timed by round trips, as on adapters without timestamp-query"
CNNSCOPE_NO_TIMESTAMPS=1 cargo test --test training a_timed_step

echo "== native on SwiftShader: the engine tests with the browser's CPU driver and kernels"
# Chromium ships SwiftShader as a Vulkan driver; without subgroups (which wgpu does not offer in
# the browser) the engine picks the browser's kernels, so they are checked in a native process too.
VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json CNNSCOPE_NO_SUBGROUPS=1 cargo test --test kernels

echo "== browser: wasm-pack test --headless --chrome (Chromium's WebGPU)"
# webdriver.json passes --enable-unsafe-webgpu to Chromium. The runner's default 20 s budget for
# the whole suite is too short for WebGPU on SwiftShader (a CPU): allow 10 minutes.
export WASM_BINDGEN_TEST_TIMEOUT=600
# `--test kernels`: the engine tests (the native-only benchmark example is not built for wasm).
CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- --test kernels

echo "== app: its logic in headless Chromium (wasm-pack test in app/)"
(cd app && CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver)

echo "== app: end to end in Chromium (trunk build, playwright-core)"
scripts/e2e.sh
