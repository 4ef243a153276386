#!/usr/bin/env bash
# The PyTorch half's tests (issue 23, docs/PYTORCH.md), on CPUs:
#   - a cnnscope checkpoint continued by `torchrun --nproc_per_node 2` (gloo) for an epoch on 640
#     images, resumed and evaluated by cnnscope; two processes train as one (the global batch kept);
#   - one optimiser step in PyTorch equals one in cnnscope both ways (Adam, SGD with momentum,
#     Adam with weight decay and augmentation), weights and moments within 1e-5 relative;
#   - the ONNX export checked by onnxruntime against PyTorch (first 1,000 test images, image for
#     image) and cnnscope eval (the correct count on all 10,000);
#   - bad input answered in one line, the designs both readers refuse (tests/fixtures/
#     hostile_designs.json), and a hypothesis fuzz pass over the checkpoint, weights and design readers.
# Usage: scripts/pytorch_test.sh [path/to/cnnscope] [unittest args, e.g. test_exact]
# The binary is the argument, else $CNNSCOPE_BIN, else this checkout's target/release/cnnscope
# (`cargo build --release`, a no-op when it is up to date). The Python is $PYTHON, else
# target/pytorch-venv (scripts/pytorch_python.sh; `scripts/setup.sh --pytorch` makes it when
# missing). Relative paths are taken from the directory this was called from, and every path is
# made absolute before the tests `cd` (a relative venv path named nothing there: issue 30).
set -euo pipefail
caller=$PWD
repo=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$repo"
absolute() { (cd "$caller" && realpath "$1"); }

if [ $# -gt 0 ] && (cd "$caller" && [ -f "$1" ] && [ -x "$1" ]); then
    bin=$(absolute "$1")
    shift
elif [ -n "${CNNSCOPE_BIN:-}" ]; then
    bin=$(absolute "$CNNSCOPE_BIN")
else
    # This checkout's binary: cargo rebuilds it only when the sources changed.
    bin=$repo/target/release/cnnscope
    cargo build --release --quiet --bin cnnscope
fi
export CNNSCOPE_BIN=$bin
if [ -n "${CNNSCOPE_DATA:-}" ]; then CNNSCOPE_DATA=$(absolute "$CNNSCOPE_DATA"); else CNNSCOPE_DATA=$repo/public/data/fashion-mnist; fi
export CNNSCOPE_DATA
[ -f "$CNNSCOPE_DATA/t10k-images-idx3-ubyte.gz" ] || scripts/data.sh

# Sets $python (absolute), installing the pinned environment where it is missing.
source scripts/pytorch_python.sh

start=$(date +%s)
# The package as a user installs it (editable: the tests run this checkout's code). Without
# build isolation when setuptools is there, so no build backend is downloaded each time.
isolation=()
"$python" -c "import setuptools" 2>/dev/null && isolation=(--no-build-isolation)
"$python" -m pip install -q --no-deps "${isolation[@]}" -e "pytorch[onnx]"
"$python" -c "import cnnscope_torch, sys; sys.exit(0 if cnnscope_torch.__file__.startswith('$repo/pytorch/') else 1)" \
    || { echo "pytorch_test: cnnscope_torch does not import from this checkout" >&2; exit 1; }
echo "pytorch_test: installed in $(( $(date +%s) - start )) s; $("$python" -c 'import torch; print("torch", torch.__version__)') in $python, $bin"

# One thread per process: two gloo processes on 2 cores, and the tests' timings stay steady.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd pytorch/tests
if [ $# -gt 0 ]; then
    "$python" -m unittest -v "$@"
else
    "$python" -m unittest -v test_bad_input test_designs test_fuzz test_exact test_export test_journey
fi
echo "pytorch_test: passed in $(( $(date +%s) - start )) s"
