# Sourced, not run: sets $python to the absolute path of the Python the PyTorch half uses, the one
# home of that choice (scripts/pytorch_test.sh, compare_speed.sh and compare_accuracy.sh source it;
# tests/onnx.rs and tests/e2e/app.test.mjs look in the same place).
#   - $PYTHON when it is set (resolved against the caller's directory before any `cd`);
#   - else target/pytorch-venv/bin/python, the environment `scripts/setup.sh --pytorch` makes with
#     the pinned torch, safetensors, numpy, onnx, onnxruntime and hypothesis, made here when it is missing.
# Never the system's python3, even where it has torch: the tests ran with the pinned versions, and
# CI must see what a newcomer sees (a machine that had torch once kept an earlier CI green while a
# newcomer's run failed, issue 30).
# Needs $repo (the checkout's absolute path) and, for a relative $PYTHON, $caller (the directory
# the script was called from).
if [ -n "${PYTHON:-}" ]; then
    case $PYTHON in
        # -s: a venv's python is a link to the base interpreter; resolving it would leave the venv.
        */*) python=$(cd "${caller:-$PWD}" && realpath -s "$PYTHON") ;;
        *) python=$(command -v "$PYTHON") ;;
    esac
    "$repo/scripts/setup.sh" --check-python "$python" || { echo "$python lacks torch, safetensors, numpy, onnx, onnxruntime or hypothesis: run scripts/setup.sh --pytorch (or unset PYTHON)" >&2; exit 1; }
else
    # Made, or checked and left as it is, by setup.sh (which holds the list of what it needs).
    python=$repo/target/pytorch-venv/bin/python
    "$repo/scripts/setup.sh" --pytorch
fi
