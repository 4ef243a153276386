"""Fashion-MNIST for the PyTorch side, preprocessed exactly as cnnscope does it: the IDX .gz files
(by default the repository's public/data/fashion-mnist, or `root`, or $CNNSCOPE_DATA), bilinear
resize with half-pixel centres (no antialiasing), /255."""
import gzip
import os

import numpy as np
import torch
import torch.nn.functional as F

# The repository's data directory, as scripts/data.sh fills it (this file is
# pytorch/cnnscope_torch/fashion_mnist.py).
ROOT = os.environ.get("CNNSCOPE_DATA") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "public", "data", "fashion-mnist")


class DataError(Exception):
    """A data file that is missing or not Fashion-MNIST's IDX format, with the reason."""


def _read(root, name):
    path = os.path.join(root, name)
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(f"{path} is missing: run scripts/data.sh, or pass --data DIR") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path} cannot be read as gzip ({e})") from None


def load(split, root=None):
    """(images u8 [n, 1, 28, 28], labels i64 [n]) of "train" or "test"."""
    root = root or ROOT
    prefix = "train" if split == "train" else "t10k"
    images, labels = _read(root, f"{prefix}-images-idx3-ubyte.gz"), _read(root, f"{prefix}-labels-idx1-ubyte.gz")
    if images[:4] != b"\x00\x00\x08\x03" or labels[:4] != b"\x00\x00\x08\x01":
        raise DataError(f"{root}: the {split} files are not IDX images and labels")
    n = int.from_bytes(images[4:8], "big")
    if len(images) != 16 + n * 784 or len(labels) != 8 + n or int.from_bytes(labels[4:8], "big") != n:
        raise DataError(f"{root}: the {split} files are truncated or their counts disagree")
    images = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 1, 28, 28)
    labels = np.frombuffer(labels, np.uint8, offset=8)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def batch(images, side):
    """u8 [n, 1, 28, 28] -> f32 [n, 1, side, side] in [0, 1]."""
    x = images.float()
    if side != 28:
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=False)
    return x / 255.0
