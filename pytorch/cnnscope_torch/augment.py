"""cnnscope's augmentation (src/engine/augment.rs), draw for draw: each training image, after resizing,
gets a horizontal flip (probability ½), a pad-and-crop shift of up to side/8 pixels (black padding)
and brightness/contrast jitter v <- clamp((v*b - 1/2)*c + 1/2, 0, 1), b and c uniform in [0.75, 1.25].

The draws are a stateless PCG hash of the run's seed, the step number and the image's place in
its batch, so the same step of the same run draws the same augmentations here as in cnnscope.
Which image sits at a place differs (PyTorch's batch order is its own), so an augmented image is
the same only when the batch order is (one batch per epoch).
"""
import torch

M32 = 0xFFFFFFFF


def pcg(v):
    state = (v * 747_796_405 + 2_891_336_453) & M32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277_803_737) & M32
    return ((word >> 22) ^ word) & M32


def salt(seed, step):
    """The hash input shared by a step's images."""
    return pcg((seed & M32) ^ pcg(((seed >> 32) & M32) ^ pcg(step & M32)))


def draw(salt_, index, side):
    """(flip, dy, dx, brightness, contrast) of image `index` of a batch (Augmentation::draw)."""
    pad = side // 8
    r0 = pcg(salt_ ^ pcg(index))
    r1 = pcg(r0)
    r2 = pcg(r1)
    r3 = pcg(r2)
    r4 = pcg(r3)
    offset = lambda r: (r % (2 * pad + 1)) - pad  # noqa: E731
    unit = lambda r: (r >> 8) / 16_777_216.0  # noqa: E731
    return bool(r0 & 1), offset(r1), offset(r2), 0.75 + 0.5 * unit(r3), 0.75 + 0.5 * unit(r4)


def apply(images, salt_, places):
    """Augments resized images [n, 1, side, side] in [0, 1]; image i has place `places[i]` in its
    (global) batch."""
    n, _, side, _ = images.shape
    draws = [draw(salt_, int(p), side) for p in places]
    dev = images.device
    flip = torch.tensor([d[0] for d in draws], device=dev)
    dy = torch.tensor([d[1] for d in draws], device=dev)
    dx = torch.tensor([d[2] for d in draws], device=dev)
    # Computed in f32 as cnnscope does: 0.75 + 0.5 * unit in f32.
    bright = torch.tensor([d[3] for d in draws], dtype=torch.float32, device=dev)
    contrast = torch.tensor([d[4] for d in draws], dtype=torch.float32, device=dev)
    r = torch.arange(side, device=dev)
    x = torch.where(flip[:, None], side - 1 - r[None, :], r[None, :]) + dx[:, None]  # [n, side]
    y = r[None, :] + dy[:, None]  # [n, side]
    inside = ((y >= 0) & (y < side))[:, :, None] & ((x >= 0) & (x < side))[:, None, :]
    yc, xc = y.clamp(0, side - 1), x.clamp(0, side - 1)
    b = torch.arange(n, device=dev)[:, None, None]
    v = images[:, 0][b, yc[:, :, None], xc[:, None, :]] * inside
    v = ((v * bright[:, None, None] - 0.5) * contrast[:, None, None] + 0.5).clamp(0.0, 1.0)
    return v[:, None]
