#!/usr/bin/env python3
"""Training throughput of the four nets in PyTorch on the CPU, measured as `cnnscope bench` does:
real Fashion-MNIST batches (resized), Adam, one warm-up step, then N timed steps.
Usage: python3 pytorch/bench.py [--ratio 8] [--batch 64] [--steps 10] [--net alexnet ...]"""
import argparse
import time

import torch
import torch.nn.functional as F

from . import d2l_nets
from . import fashion_mnist


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", nargs="*", default=["alexnet", "vgg11", "nin", "googlenet"])
    p.add_argument("--ratio", type=int, default=8)
    p.add_argument("--side", type=int)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    images, labels = fashion_mnist.load("train")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print("| net | ratio | side | batch | images/s |")
    print("|---|---|---|---|---|")
    for net in a.net:
        side = a.side or d2l_nets.NATIVE_SIDE[net]
        torch.manual_seed(0)
        model = d2l_nets.build(net, a.ratio, side)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(i):
            x = fashion_mnist.batch(images[i * a.batch:(i + 1) * a.batch], side)
            loss = F.cross_entropy(model(x), labels[i * a.batch:(i + 1) * a.batch])
            opt.zero_grad()
            loss.backward()
            opt.step()

        step(0)
        start = time.time()
        for i in range(1, a.steps + 1):
            step(i)
        rate = a.steps * a.batch / (time.time() - start)
        print(f"| {net} | {a.ratio} | {side} | {a.batch} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
