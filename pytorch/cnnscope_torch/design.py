"""An own network's design (docs/APP.md, "Your own network") as a PyTorch module: a second reader
of the format, written apart from cnnscope's (src/net/design.rs), so the fixtures can check that
a design means in cnnscope what it means in PyTorch. It reads valid designs only: the error
messages are cnnscope's job. The blocks are d2l's (d2l_nets.py).

    model = cnnscope_torch.design.build(open("my.net").read(), ratio=2, side=28)
"""
import re
from collections import OrderedDict

import torch
from torch import nn

from .d2l_nets import GlobalAvgPool2d, FlattenLayer, Inception, nin_block, vgg_block

WIDTHS = {"conv": 1, "linear": 1, "nin_block": 1, "vgg_block": 1, "inception": 6}


class Design(nn.Sequential):
    """nn.Sequential, except that a linear layer takes whatever reaches it, flattened (as AlexNet's
    forward flattens between its two Sequentials)."""

    def forward(self, x):
        for module in self:
            if isinstance(module, nn.Linear) and x.dim() > 2:
                x = x.flatten(1)
            x = module(x)
        return x


def _parse(text):
    """Nested lists of (line, name, kind, numbers, options); a group is (line, name, "{", items)."""
    stack = [[]]
    for number, raw in enumerate(text.splitlines(), 1):
        code = raw.split("#")[0].strip()
        if not code:
            continue
        if code == "}":
            items = stack.pop()
            stack[-1][-1] = stack[-1][-1][:3] + (items,)
            continue
        name, rest = (None, code)
        m = re.match(r"^(\w+):\s*(.*)$", code)
        if m:
            name, rest = m.group(1), m.group(2)
        if rest == "{":
            stack[-1].append((number, name, "{"))
            stack.append([])
            continue
        words = [w for w in re.split(r"[\s(),]+", rest) if w]
        numbers = [w for w in words[1:] if "=" not in w]
        options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        stack[-1].append((number, name, words[0], numbers, options))
    return stack[0]


def _last_width_line(items):
    for item in reversed(items):
        if item[2] == "{":
            found = _last_width_line(item[3])
            if found:
                return found
        elif item[2] in WIDTHS:
            return item[0]
    return None


def build(text, ratio=1, side=28):
    items = _parse(text)
    scores = _last_width_line(items)
    probe = torch.zeros(1, 1, side, side)

    def group(items, x):
        modules = OrderedDict()
        for place, item in enumerate(items):
            line, name, kind = item[:3]
            if kind == "{":
                module, x = group(item[3], x)
            else:
                module = _module(kind, item[3], item[4], x, (lambda c: c) if line == scores else (lambda c: max(1, c // ratio)))
                with torch.no_grad():
                    x = Design(module)(x)
            modules[name or str(place)] = module
        return Design(modules), x

    model, _ = group(items, probe)
    return model


def _module(kind, numbers, options, x, w):
    n = [int(v) for v in numbers if v.isdigit()]
    opt = lambda short, long, default: int(options.get(short, options.get(long, default)))
    k = opt("k", "kernel_size", 0)
    if kind == "conv":
        return nn.Conv2d(x.shape[1], w(n[0]), k, opt("s", "stride", 1), opt("p", "padding", 0))
    if kind in ("maxpool", "avgpool"):
        pool = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
        return pool(k, opt("s", "stride", k), opt("p", "padding", 0))
    if kind == "global_avg_pool":
        return GlobalAvgPool2d()
    if kind == "relu":
        return nn.ReLU()
    if kind == "dropout":
        return nn.Dropout(float(numbers[0]))
    if kind == "flatten":
        return FlattenLayer()
    if kind == "linear":
        return nn.Linear(x[0].numel(), w(n[0]))
    if kind == "vgg_block":
        return vgg_block(n[0], x.shape[1], w(n[1]))
    if kind == "nin_block":
        return nin_block(x.shape[1], w(n[0]), k, opt("s", "stride", 1), opt("p", "padding", 0))
    if kind == "inception":
        return Inception(x.shape[1], w(n[0]), (w(n[1]), w(n[2])), (w(n[3]), w(n[4])), w(n[5]))
    raise ValueError(f"unknown module {kind}")
