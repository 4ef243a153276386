#!/usr/bin/env bash
# Serves the browser app at http://127.0.0.1:8080/ with Fashion-MNIST in place: installs what is
# missing (scripts/setup.sh: toolchain, trunk, the dataset into public/data; not the PyTorch half),
# then `trunk serve`.
# Open the address in a browser with WebGPU (Chrome/Edge; on Linux with --enable-unsafe-webgpu).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-pytorch
# The release build runs npm's wasm-opt, which setup.sh put in tests/e2e/node_modules.
PATH="$PWD/tests/e2e/node_modules/.bin:$PATH" exec trunk serve --release --offline "$@"
