#!/usr/bin/env bash
# The PyTorch half's tests (issue 23, docs/PYTORCH.md), on CPUs:
#   - a cnnscope checkpoint continued by `torchrun --nproc_per_node 2` (gloo) for an epoch on 640
#     images, resumed and evaluated by cnnscope; two processes train as one (the global batch kept);
#   - one optimiser step in PyTorch equals one in cnnscope both ways (Adam, SGD with momentum,
#     Adam with weight decay and augmentation), weights and moments within 1e-5 relative;
#   - the ONNX export checked by onnxruntime against PyTorch (first 1,000 test images, image for
#     image) and cnnscope eval (the correct count on all 10,000);
#   - bad input answered in one line.
# Usage: scripts/pytorch_test.sh [path/to/cnnscope] [unittest args, e.g. test_exact]
# The binary is the argument, else $CNNSCOPE_BIN, else this checkout's target/release/cnnscope
# (`cargo build --release`, a no-op when it is up to date). The
# Python is $PYTHON, else the one scripts/setup.sh prepared (target/pytorch-venv, or python3 when
# it already has torch); `scripts/setup.sh --pytorch` is run first when neither has torch.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ] && [ -x "$1" ] && [ -f "$1" ]; then
    bin=$1
    shift
elif [ -n "${CNNSCOPE_BIN:-}" ]; then
    bin=$CNNSCOPE_BIN
else
    # This checkout's binary: cargo rebuilds it only when the sources changed.
    bin=target/release/cnnscope
    cargo build --release --quiet --bin cnnscope
fi
export CNNSCOPE_BIN=$(realpath "$bin")
export CNNSCOPE_DATA=${CNNSCOPE_DATA:-$PWD/public/data/fashion-mnist}
[ -f "$CNNSCOPE_DATA/t10k-images-idx3-ubyte.gz" ] || scripts/data.sh

needs="import torch, torch.distributed, safetensors, numpy, onnx, onnxruntime"
python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x target/pytorch-venv/bin/python ]; then python=target/pytorch-venv/bin/python; else python=python3; fi
    if ! "$python" -c "$needs" 2>/dev/null; then
        scripts/setup.sh --pytorch
        if [ -x target/pytorch-venv/bin/python ]; then python=target/pytorch-venv/bin/python; fi
    fi
fi
"$python" -c "$needs" || { echo "pytorch_test: $python lacks torch, safetensors, onnx or onnxruntime: run scripts/setup.sh --pytorch" >&2; exit 1; }

start=$(date +%s)
# The package as a user installs it (editable: the tests run this checkout's code). Without
# build isolation when setuptools is there, so no build backend is downloaded each time.
isolation=()
"$python" -c "import setuptools" 2>/dev/null && isolation=(--no-build-isolation)
"$python" -m pip install -q --no-deps "${isolation[@]}" -e "pytorch[onnx]"
"$python" -c "import cnnscope_torch, sys; sys.exit(0 if cnnscope_torch.__file__.startswith('$PWD/pytorch/') else 1)" \
    || { echo "pytorch_test: cnnscope_torch does not import from this checkout" >&2; exit 1; }
echo "pytorch_test: installed in $(( $(date +%s) - start )) s; $("$python" -c 'import torch; print("torch", torch.__version__)'), $bin"

# One thread per process: two gloo processes on 2 cores, and the tests' timings stay steady.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd pytorch/tests
if [ $# -gt 0 ]; then
    "$python" -m unittest -v "$@"
else
    "$python" -m unittest -v test_bad_input test_exact test_export test_journey
fi
echo "pytorch_test: passed in $(( $(date +%s) - start )) s"
