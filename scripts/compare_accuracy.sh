#!/usr/bin/env bash
# Trains each of the four nets for one epoch on all 60,000 Fashion-MNIST images with cnnscope (on
# this machine's WebGPU adapter) and with PyTorch on the CPU, same recipe and the very same initial
# weights (cnnscope draws them for the seed and saves them; PyTorch loads that file), and prints
# both test accuracies. What still differs is the shuffle order and the dropout masks. PyTorch comes
# from scripts/pytorch_python.sh (installed when missing); needs the data (scripts/data.sh). About 2 minutes per net and seed on a 2-core
# machine without a GPU. CONFIGS="net:ratio:side:lr ..." and SEEDS="0 1 2" override the defaults.
set -euo pipefail
caller=$PWD
repo=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$repo"
# PyTorch from target/pytorch-venv (or $PYTHON): sets $python.
source scripts/pytorch_python.sh
CONFIGS=${CONFIGS:-"alexnet:16:96:1e-3 vgg11:16:32:1e-3 nin:16:96:2e-3 googlenet:16:48:1e-3"}
SEEDS=${SEEDS:-0}
BATCH=${BATCH:-64}
cargo build --release -q
init=$(mktemp --suffix=.safetensors)
trap 'rm -f "$init"' EXIT
echo "| net | ratio | side | batch | Adam lr | seed | cnnscope test acc | PyTorch test acc | cnnscope images/s | PyTorch images/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for config in $CONFIGS; do
    IFS=: read -r net ratio side lr <<<"$config"
    for seed in $SEEDS; do
        recipe=(--net "$net" --ratio "$ratio" --side "$side" --batch "$BATCH" --opt adam --lr "$lr" --seed "$seed")
        target/release/cnnscope train "${recipe[@]}" --epochs 0 --save "$init" >/dev/null 2>&1
        ours=$(target/release/cnnscope train "${recipe[@]}" --epochs 1 2>/dev/null | grep "^epoch 1")
        echo "cnnscope $net seed $seed: $ours" >&2
        theirs=$("$python" pytorch/train.py "${recipe[@]}" --epochs 1 --weights "$init" | grep "^epoch 1")
        echo "PyTorch  $net seed $seed: $theirs" >&2
        field() { sed -E "s/.*$1 ([0-9.]+).*/\1/" <<<"$2"; }
        echo "| $net | $ratio | $side | $BATCH | $lr | $seed | $(field 'test acc' "$ours") | $(field 'test acc' "$theirs") | $(field "sec," "$ours") | $(field 'sec,' "$theirs") |"
    done
done
