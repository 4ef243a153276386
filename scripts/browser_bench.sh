#!/usr/bin/env bash
# cnnscope's page against TensorFlow.js 4.22 (WebGPU; wasm with a JavaScript Conv2DBackpropFilter)
# in the same headless Chromium, on the README's four configurations (width ÷8, batch 64; AlexNet,
# VGG-11, NiN at 224, GoogLeNet at 96): training images/s, their ratios, and the time to the first
# step. Prints a Markdown table. NETS picks the nets (default all four), STEPS the timed steps per
# net (a multiple of 5, default 5), ONLY=page measures the page alone (a quick A/B), PARTS picks
# among cpu,gpu,ahead,webgpu,wasm (the page on its CPU and WGSL engines, the WGSL page's start after
# compiling ahead, TF.js's two backends; all by default). On a 2-core
# machine with SwiftShader the four take about an hour, VGG-11 most of it. Needs the data
# (scripts/data.sh) and Chromium (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
NETS=${NETS:-alexnet,vgg11,nin,googlenet}
STEPS=${STEPS:-5}
site=target/browser-bench
# The page as `scripts/serve.sh` serves it (a release build), in a directory of its own.
trunk build --release --offline --dist "$site" >/dev/null
mkdir -p "$site/data" "$site/tfjs"
cp -r public/data/fashion-mnist "$site/data/"
(cd scripts/browser-bench && npm install --no-audit --no-fund --silent)
modules=scripts/browser-bench/node_modules/@tensorflow
cp "$modules/tfjs/dist/tf.min.js" "$modules/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js" \
   "$modules/tfjs-backend-wasm/dist/tf-backend-wasm.min.js" "$modules"/tfjs-backend-wasm/dist/*.wasm \
   scripts/browser-bench/tfjs.html scripts/browser-bench/nets.js "$site/tfjs/"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 scripts/browser-bench/serve.py "$site" "$port" &
server=$!
trap 'kill $server' EXIT
sleep 1
node scripts/browser-bench/bench.mjs "http://127.0.0.1:$port/" "$NETS" "$STEPS" "${ONLY:-}" "${PARTS:-}"
