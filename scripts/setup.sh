#!/usr/bin/env bash
# Installs what building and testing cnnscope needs on Debian/Ubuntu; skips what is already there.
#   - Mesa's Vulkan drivers: lavapipe runs WebGPU compute on the CPU when there is no GPU;
#   - Chromium + ChromeDriver: the browser tests run on Chromium's WebGPU (SwiftShader when headless);
#   - the wasm32 target, wasm-bindgen-cli (the exact version Cargo.lock resolves) and wasm-pack,
#     installed locally so nothing is downloaded at test time;
#   - trunk 0.21.14 (builds and serves the browser app; newer needs a newer rustc), Node.js and npm
#     (the end-to-end test drives Chromium with npm's playwright-core);
#   - Fashion-MNIST in public/data/fashion-mnist (scripts/data.sh), from Debian's package if it has one.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

packages=(mesa-vulkan-drivers chromium chromium-driver curl python3)
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
echo "setup: ready"
