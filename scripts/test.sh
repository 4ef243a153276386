#!/usr/bin/env bash
# Runs every test: installs prerequisites (scripts/setup.sh), then the engine, network, data,
# training and CLI tests natively (wgpu on Vulkan; Mesa lavapipe without a GPU), the engine tests
# again in headless Chromium on its WebGPU, and the browser app end to end in Chromium.
# Each stage's time is printed at the end (also when a stage fails), the figures a newcomer's run
# is measured by (docs/TESTING.md, "A newcomer's run, stage by stage").
set -euo pipefail
cd "$(dirname "$0")/.."

began=$(date +%s)
stage_began=$began
stage_name=""
timings=()
stage() {
    local now
    now=$(date +%s)
    [ -z "$stage_name" ] || timings+=("$(printf '%5d s  %s' $(( now - stage_began )) "$stage_name")")
    stage_name=$1
    stage_began=$now
    [ -z "$stage_name" ] || echo "== $stage_name"
}
report() {
    local rc=$?
    stage ""
    echo "== stage times ($(( ($(date +%s) - began) / 60 )) min in all$([ $rc = 0 ] || echo ", failed in the last one"))"
    printf '%s\n' "${timings[@]}"
}
trap report EXIT

stage "setup: what a fresh Debian/Ubuntu machine lacks (scripts/setup.sh)"
scripts/setup.sh

stage "native: cargo test (wgpu on Vulkan)"
cargo test --all-targets

stage "clippy: no unwrap, expect or unchecked indexing where files, flags and knobs are read"
# The modules that read user input deny those lints themselves (#![deny(...)] at their top); the
# rest of clippy's advice is not a gate here.
cargo clippy -q --lib --bins -- -A clippy::all

stage "the PyTorch half: torchrun continues a cnnscope run and back, one step equal both ways, ONNX"
# The debug binary cargo test built (a release build would cost CI minutes for the same answers).
scripts/pytorch_test.sh target/debug/cnnscope

stage "native, 4-wide lavapipe: the engine tests again at subgroup size 4 (8 above)"
# lavapipe's SIMD width sets its subgroup size, which the subgroup GEMM core is compiled for; other
# drivers ignore the variable and simply run the tests twice.
LP_NATIVE_VECTOR_WIDTH=128 cargo test --test kernels

stage "native, 16-wide lavapipe: the engine tests again at subgroup size 16"
# The widest subgroup the core takes (4 to 16 lanes); llvmpipe builds 512-bit vectors from narrower
# instructions where the processor has no AVX-512.
LP_NATIVE_VECTOR_WIDTH=512 cargo test --test kernels

stage "native, no GPU timestamps: a step timed by round trips, as on adapters without timestamp-query"
CNNSCOPE_NO_TIMESTAMPS=1 cargo test --test training a_timed_step

stage "native on SwiftShader: the engine tests with the browser's CPU driver and kernels"
# Chromium ships SwiftShader as a Vulkan driver; without subgroups (which wgpu does not offer in
# the browser) the engine picks the browser's kernels, so they are checked in a native process too.
VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json CNNSCOPE_NO_SUBGROUPS=1 cargo test --test kernels

stage "browser: wasm-pack test --headless --chrome (Chromium's WebGPU)"
# webdriver.json passes --enable-unsafe-webgpu to Chromium. The runner's default 20 s budget for
# the whole suite is too short for WebGPU on SwiftShader (a CPU): allow 10 minutes.
export WASM_BINDGEN_TEST_TIMEOUT=600
# `--test kernels`: the engine tests (the native-only benchmark example is not built for wasm).
CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- --test kernels

stage "app: its logic in headless Chromium (wasm-pack test in app/)"
(cd app && CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver)

stage "app: end to end in Chromium and Firefox (trunk build, playwright-core, puppeteer-core)"
scripts/e2e.sh
