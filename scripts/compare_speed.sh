#!/usr/bin/env bash
# Training images/s of the four nets at width ratio 8 (AlexNet, VGG-11, NiN at side 224, GoogLeNet
# at 96, batch 64) with cnnscope on this machine's WebGPU adapter and with PyTorch on its CPU, one
# after the other in the same run, so their ratio means something on a noisy machine.
# Needs `pip install torch` and the data (scripts/data.sh). STEPS sets the timed steps per net.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-3}
cargo build --release -q
echo "## cnnscope"
target/release/cnnscope bench --ratio 8 --batch 64 --steps "$STEPS"
echo "## PyTorch"
python3 pytorch/bench.py --ratio 8 --batch 64 --steps "$STEPS"
