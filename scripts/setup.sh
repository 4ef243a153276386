#!/usr/bin/env bash
# Installs what building and testing cnnscope needs on Debian/Ubuntu; skips what is already there.
#   - Mesa's Vulkan drivers: lavapipe runs WebGPU compute on the CPU when there is no GPU;
#   - Chromium + ChromeDriver: the browser tests run on Chromium's WebGPU (SwiftShader when headless);
#   - the wasm32 target, wasm-bindgen-cli (the exact version Cargo.lock resolves) and wasm-pack,
#     installed locally so nothing is downloaded at test time;
#   - trunk 0.21.14 (builds and serves the browser app; newer needs a newer rustc), Node.js and npm
#     (the end-to-end test drives Chromium with npm's playwright-core);
#   - Fashion-MNIST in public/data/fashion-mnist (scripts/data.sh), from Debian's package if it has one;
#   - torch, safetensors, onnx and onnxruntime for the PyTorch half (`--pytorch`: this part alone).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# The PyTorch half (pytorch/, scripts/pytorch_test.sh, docs/PYTORCH.md): torch, safetensors, numpy,
# onnx, onnxruntime and hypothesis (its readers' fuzz test) at the versions the tests were last run with, from PyPI into
# target/pytorch-venv (an absolute path: the tests `cd`). Always there, never the system's python3,
# even where that has torch: a newcomer's machine has none, and CI must see what a newcomer sees
# (issue 30; scripts/pytorch_python.sh is the one place that chooses the Python).
# `scripts/setup.sh --pytorch` does this part alone.
# Why the full `pip install torch` (measured 2026-12-03, fresh venv, 2 cores, no pip cache):
# `pip install --no-deps torch` (47 s) plus its pure-Python dependencies (filelock, fsspec, jinja2,
# networkx, sympy, typing-extensions, setuptools: 52 s with numpy, onnx, onnxruntime) does not
# import: PyPI's Linux torch wheel is the CUDA build and loads libcudart.so.13 at import. The whole
# install with its nvidia-* wheels took 140 s (5.5 GB) and trains on the CPU. PyTorch's CPU-only
# wheels (~10x smaller) are on download.pytorch.org, which this machine cannot reach:
# CNNSCOPE_TORCH_INDEX=https://download.pytorch.org/whl/cpu uses them where it can.
# What the PyTorch half imports: the one list (scripts/pytorch_python.sh asks `--check-python`).
PYTORCH_IMPORTS="import torch, torch.distributed, safetensors, numpy, onnx, onnxruntime, hypothesis"
setup_pytorch() {
    local venv=$PWD/target/pytorch-venv
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$PYTORCH_IMPORTS" 2>/dev/null; then return; fi
    echo "setup: installing torch, safetensors, onnx and onnxruntime into target/pytorch-venv"
    # A venv made without --system-site-packages: neither the system's nor the user's packages
    # (~/.local) are seen, so what passes here passes on a machine that never had torch.
    python3 -m venv "$venv" 2>/dev/null || {
        $SUDO apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    }
    local index=()
    if [ -n "${CNNSCOPE_TORCH_INDEX:-}" ]; then index=(--index-url "$CNNSCOPE_TORCH_INDEX" --extra-index-url https://pypi.org/simple); fi
    "$venv/bin/pip" install -q --upgrade pip setuptools
    # The versions the tests were last run with (2026-12-03).
    "$venv/bin/pip" install -q "${index[@]}" torch==2.15.0 safetensors==0.8.0 numpy==2.4.6 onnx==1.23.2 onnxruntime==1.32.0 hypothesis==6.170.27
    "$venv/bin/python" -c "$PYTORCH_IMPORTS"
}
# `--pytorch`: the PyTorch half alone; `--no-pytorch`: everything else (scripts/serve.sh: serving
# the app needs no torch).
if [ "${1:-}" = "--pytorch" ]; then
    setup_pytorch
    exit 0
fi
# `--check-python PYTHON`: whether that Python imports all the PyTorch half needs.
if [ "${1:-}" = "--check-python" ]; then
    exec "$2" -c "$PYTORCH_IMPORTS"
fi

# firefox-esr: the end-to-end test's Firefox pass (Debian's; where apt has none it is skipped).
packages=(mesa-vulkan-drivers chromium chromium-driver firefox-esr curl python3)
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# Debian ships the dataset (bookworm and later); elsewhere scripts/data.sh downloads it.
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    available=()
    for p in "${missing[@]}"; do
        apt-cache show "$p" >/dev/null 2>&1 && available+=("$p")
    done
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${available[@]}" >/dev/null
fi
scripts/data.sh

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen" ]; then
    echo "setup: installing wasm-bindgen-cli $bindgen"
    # Not --locked: one of its locked dependencies is no longer in the registry.
    cargo install -q wasm-bindgen-cli --version "$bindgen"
fi
if ! command -v wasm-pack >/dev/null; then
    echo "setup: installing wasm-pack"
    cargo install -q --locked wasm-pack
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk 0.21.14" ]; then
    echo "setup: installing trunk 0.21.14"
    cargo install -q --locked trunk@0.21.14
fi
# npm's binaryen, whose wasm-opt trunk runs on the release build (Trunk.toml pins version_132;
# Debian's binaryen writes broken wasm), and the end-to-end test's drivers: tests/e2e/package.json.
if [ "$(tests/e2e/node_modules/.bin/wasm-opt --version 2>/dev/null)" != "wasm-opt version 132 (version_132)" ]; then
    echo "setup: installing tests/e2e's npm packages (binaryen's wasm-opt, playwright-core, puppeteer-core, axe-core)"
    (cd tests/e2e && npm install --no-audit --no-fund --silent)
fi
if [ "${1:-}" != "--no-pytorch" ]; then setup_pytorch; fi
echo "setup: ready"
