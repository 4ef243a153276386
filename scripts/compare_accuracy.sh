#!/usr/bin/env bash
# Trains each of the four nets for one epoch on all 60,000 Fashion-MNIST images with cnnscope (on
# this machine's WebGPU adapter) and with PyTorch on the CPU, same recipe, and prints both test
# accuracies. Needs `pip install torch` and the data (scripts/data.sh). Takes about 20 minutes on a
# 2-core machine without a GPU (cnnscope ~1.5 min an epoch on lavapipe, PyTorch 2–5). Override the configurations with CONFIGS="net:ratio:side:lr ...".
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIGS=${CONFIGS:-"alexnet:16:96:1e-3 vgg11:16:32:1e-3 nin:16:96:2e-3 googlenet:16:48:1e-3"}
BATCH=${BATCH:-64}
cargo build --release -q
echo "| net | ratio | side | batch | Adam lr | cnnscope test acc | PyTorch test acc | cnnscope images/s | PyTorch images/s |"
echo "|---|---|---|---|---|---|---|---|---|"
for config in $CONFIGS; do
    IFS=: read -r net ratio side lr <<<"$config"
    common=(--net "$net" --ratio "$ratio" --side "$side" --batch "$BATCH" --opt adam --lr "$lr" --epochs 1)
    ours=$(target/release/cnnscope train "${common[@]}" 2>/dev/null | grep "^epoch 1")
    echo "cnnscope $net: $ours" >&2
    theirs=$(python3 pytorch/train.py "${common[@]}" | grep "^epoch 1")
    echo "PyTorch  $net: $theirs" >&2
    field() { sed -E "s/.*$1 ([0-9.]+).*/\1/" <<<"$2"; }
    echo "| $net | $ratio | $side | $BATCH | $lr | $(field 'test acc' "$ours") | $(field 'test acc' "$theirs") | $(field "sec," "$ours") | $(field 'sec,' "$theirs") |"
done
