"""What the tests share: the cnnscope binary ($CNNSCOPE_BIN, else target/release/cnnscope), the data
($CNNSCOPE_DATA, else public/data/fashion-mnist), running commands, comparing checkpoints."""
import json
import os
import subprocess
import sys
import tempfile

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("CNNSCOPE_BIN") or os.path.join(ROOT, "target", "release", "cnnscope")
DATA = os.environ.get("CNNSCOPE_DATA") or os.path.join(ROOT, "public", "data", "fashion-mnist")
PY = sys.executable
# In-process imports find the package even where `pip install -e pytorch` has not run.
sys.path.insert(0, os.path.join(ROOT, "pytorch"))

# A small network without dropout (so one step is decidable): the design format of docs/APP.md.
TINY = """conv 8 k=3 p=1
relu
maxpool k=2
conv 16 k=3 p=1
relu
maxpool k=2
linear 32
relu
linear 10
"""


def env():
    e = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    e["PYTHONPATH"] = os.path.join(ROOT, "pytorch") + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run(args, ok=True, timeout=600):
    """Runs a command; returns (returncode, stdout, stderr); fails the test with its output when
    `ok` and it fails."""
    p = subprocess.run(args, capture_output=True, text=True, env=env(), timeout=timeout, cwd=ROOT)
    if ok and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.returncode, p.stdout, p.stderr


def cnnscope(*args, ok=True):
    return run([BIN, *map(str, args), "--device", "cpu", "--data", DATA], ok=ok)


def torch_train(*args, nproc=None, ok=True):
    base = [PY, "-m", "cnnscope_torch"] if nproc is None else \
        [PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m", "cnnscope_torch"]
    return run([*base, "train", *map(str, args), "--device", "cpu", "--data", DATA], ok=ok)


def tmpdir(test):
    d = tempfile.mkdtemp(prefix="cnnscope-torch-")
    test.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def tensors(path):
    from safetensors.torch import load_file
    return load_file(path)


def state(path):
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        return json.loads(f.metadata()["cnnscope.checkpoint"])


def worst_relative(a, b, parameters_only=False):
    """The largest difference of two checkpoints' tensors relative to the tensor's own scale
    (max |a - b| / max |b| per tensor), with its key; the key sets must be equal."""
    ta, tb = tensors(a), tensors(b)
    assert set(ta) == set(tb), f"keys differ: {sorted(set(ta) ^ set(tb))[:4]}"
    worst = (0.0, None)
    for k in ta:
        if parameters_only and k.startswith("optimizer."):
            continue
        scale = tb[k].abs().max().item()
        d = (ta[k] - tb[k]).abs().max().item() / max(scale, 1e-30)
        if d > worst[0]:
            worst = (d, k)
    return worst
