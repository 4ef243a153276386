#!/usr/bin/env python3
"""Trains one of the four nets with PyTorch on the CPU with the recipe cnnscope uses (same net,
init scheme, optimiser, learning rate, batch, epochs, drop_last, preprocessing) and prints d2l's
per-epoch line. Usage: python3 pytorch/train.py --net alexnet --ratio 16 --side 96 --batch 64 \
    --opt adam --lr 1e-3 --epochs 1 [--init xavier] [--limit N] [--weights start.safetensors]
--weights starts from a file cnnscope saved (`cnnscope train --epochs 0 --save start.safetensors`),
so both trainers can run from the very same initial weights.
"""
import argparse
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from . import d2l_nets
from . import fashion_mnist


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", required=True)
    p.add_argument("--ratio", type=int, default=1)
    p.add_argument("--side", type=int)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--opt", default="adam", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--init", default="default", choices=["default", "xavier"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--one-hidden", action="store_true")
    p.add_argument("--weights", help="start from these weights (safetensors, PyTorch keys)")
    a = p.parse_args()
    side = a.side or d2l_nets.NATIVE_SIDE[a.net]

    torch.manual_seed(a.seed)
    model = d2l_nets.build(a.net, a.ratio, side, not a.one_hidden)
    d2l_nets.init_weights(model, a.init)
    if a.weights:
        model.load_state_dict(d2l_nets.parameters(load_file(a.weights)), strict=True)
    if a.opt == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    train_x, train_y = fashion_mnist.load("train")
    test_x, test_y = fashion_mnist.load("test")
    if a.limit:
        train_x, train_y, test_x, test_y = train_x[:a.limit], train_y[:a.limit], test_x[:a.limit], test_y[:a.limit]
    print(f"PyTorch {torch.__version__} on {torch.get_num_threads()} CPU threads: {a.net} ratio {a.ratio} side {side}, "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {a.batch}, {opt.__class__.__name__} lr {a.lr}",
          flush=True)

    batches = len(train_y) // a.batch  # drop_last, as cnnscope
    for epoch in range(1, a.epochs + 1):
        start = time.time()
        model.train()
        order = torch.randperm(len(train_y))
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(batches):
            idx = order[b * a.batch:(b + 1) * a.batch]
            x, y = fashion_mnist.batch(train_x[idx], side), train_y[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        train_secs = time.time() - start
        model.eval()
        test_correct = 0
        with torch.no_grad():
            for i in range(0, len(test_y), 256):
                test_correct += (model(fashion_mnist.batch(test_x[i:i + 256], side)).argmax(1) == test_y[i:i + 256]).sum().item()
        print(f"epoch {epoch}, loss {loss_sum / seen:.4f}, train acc {correct / seen:.3f}, "
              f"test acc {test_correct / len(test_y):.3f}, time {time.time() - start:.1f} sec, "
              f"{seen / train_secs:.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
