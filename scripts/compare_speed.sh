#!/usr/bin/env bash
# Training images/s of the four nets at width ratio 8 (AlexNet, VGG-11, NiN at side 224, GoogLeNet
# at 96, batch 64, Adam) on cnnscope's two engines — the WGSL kernels on this machine's WebGPU
# adapter and the CPU engine — and with PyTorch on its CPU, one after the other in the same run,
# so their ratios mean something on a noisy machine.
# PyTorch comes from scripts/pytorch_python.sh (installed when missing); needs the data (scripts/data.sh). STEPS sets the timed steps per
# net; ENGINES the cnnscope engines to measure (default "gpu cpu").
set -euo pipefail
caller=$PWD
repo=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$repo"
# PyTorch from target/pytorch-venv (or $PYTHON): sets $python.
source scripts/pytorch_python.sh
STEPS=${STEPS:-3}
cargo build --release -q
for engine in ${ENGINES:-gpu cpu}; do
    echo "## cnnscope, --device $engine"
    target/release/cnnscope bench --device "$engine" --ratio 8 --batch 64 --steps "$STEPS"
done
echo "## PyTorch"
"$python" pytorch/bench.py --ratio 8 --batch 64 --steps "$STEPS"
