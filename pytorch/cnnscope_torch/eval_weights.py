#!/usr/bin/env python3
"""Loads a weights file saved by cnnscope (`cnnscope train --save w.safetensors`) into the d2l
PyTorch module (strict: every key and shape must match) and reports its test accuracy, to compare
with `cnnscope eval --weights w.safetensors`. Usage: python3 pytorch/eval_weights.py w.safetensors
(or python -m cnnscope_torch.eval_weights w.safetensors)
"""
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from . import d2l_nets
from . import design
from . import fashion_mnist


def main(path=None):
    if path is None:
        if len(sys.argv) != 2:
            sys.exit("usage: python3 pytorch/eval_weights.py w.safetensors")
        path = sys.argv[1]
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    net, ratio, side = meta["net"], int(meta["ratio"]), int(meta["side"])
    if net == "own":
        # An own network: its design is in the file (pytorch/design.py reads the format).
        model = design.build(meta["design"], ratio, side)
    else:
        second_hidden = meta.get("second_hidden", "true") != "false"
        model = d2l_nets.build(net, ratio, side, second_hidden)
    model.load_state_dict(d2l_nets.parameters(load_file(path)), strict=True)
    model.eval()
    x, y = fashion_mnist.load("test")
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(y), 256):
            logits = model(fashion_mnist.batch(x[i:i + 256], side))
            loss += torch.nn.functional.cross_entropy(logits, y[i:i + 256], reduction="sum").item()
            correct += (logits.argmax(1) == y[i:i + 256]).sum().item()
    print(f"PyTorch {net} ratio {ratio} side {side}: test loss {loss / len(y):.4f}, test acc {correct / len(y):.4f}")


if __name__ == "__main__":
    main()
