"""Fashion-MNIST for the PyTorch side, preprocessed exactly as cnnscope does it: the IDX .gz files
from public/data/fashion-mnist, bilinear resize with half-pixel centres (no antialiasing), /255."""
import gzip
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "public", "data", "fashion-mnist")


def _read(name):
    with gzip.open(os.path.join(ROOT, name), "rb") as f:
        return f.read()


def load(split):
    prefix = "train" if split == "train" else "t10k"
    images = np.frombuffer(_read(f"{prefix}-images-idx3-ubyte.gz"), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    labels = np.frombuffer(_read(f"{prefix}-labels-idx1-ubyte.gz"), np.uint8, offset=8)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def batch(images, side):
    """u8 [n, 1, 28, 28] -> f32 [n, 1, side, side] in [0, 1]."""
    x = images.float()
    if side != 28:
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=False)
    return x / 255.0
