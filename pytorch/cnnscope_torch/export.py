"""ONNX export of a checkpoint's (or weights file's) network: `python -m cnnscope_torch export
run.ckpt model.onnx`.

The graph takes `image`, float32 [N, 1, side, side] — the picture as cnnscope's evaluation feeds
it: resized from 28×28 to the network's side (bilinear, half-pixel centres, no antialiasing) and
scaled to [0, 1] — with N dynamic, and gives `logits`, float32 [N, 10] (softmax them for the
class probabilities). The metadata says the side and where the input came from.
"""
import warnings

import torch
from torch import nn

from . import checkpoint as ck
from . import d2l_nets

OPSET = 17


def model_of(path):
    """The module of a checkpoint or a weights file cnnscope saved (net named in its metadata),
    checked as cnnscope's weights reader checks it (src/model/weights.rs): every tensor F32 ("NAME
    is F16, expected F32") and of its parameter's shape, no other tensor. CheckpointError naming
    `path` otherwise."""
    try:
        header, start, size = ck._header(path)
        meta = ck._metadata(header)
        checkpoint = ck.METADATA_KEY in meta
        if not checkpoint:
            net, ratio, side, second_hidden, text = ck.read_net(meta)
            model = ck.build_model(net, ratio, side, second_hidden, text)
            params = ck._tensors(path, header, start, size)
            ck.check_keys(model, params)
    except ck.CheckpointError as e:
        raise ck.CheckpointError(f"{path}: {e}") from None
    if checkpoint:
        c = ck.read(path)
        return c.build_model(), c.side, c.title()
    model.load_state_dict(params, strict=True)
    return model, side, f"{net} ÷{ratio} at {side}"


def _traceable(module):
    """d2l's GlobalAvgPool2d takes its kernel from the input's size, which the exporter cannot keep
    as a constant: the same mean as AdaptiveAvgPool2d(1) (ONNX's GlobalAveragePool)."""
    for name, child in list(module.named_children()):
        if isinstance(child, d2l_nets.GlobalAvgPool2d):
            module.add_module(name, nn.AdaptiveAvgPool2d(1))
        else:
            _traceable(child)
    return module


def export(src, dst):
    try:
        model, side, title = model_of(src)
    except ck.CheckpointError as e:
        msg = str(e)
        raise ck.CheckpointError(msg if msg.startswith(str(src)) else f"{src}: {msg}") from None
    model = _traceable(model.eval())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 1, side, side),), dst, dynamo=False, opset_version=OPSET,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    try:
        import onnx
    except ImportError:
        return title, side
    m = onnx.load(dst)
    for key, value in {"cnnscope.net": title, "cnnscope.side": str(side),
                       "cnnscope.input": f"grey image resized to {side}x{side} (bilinear, half-pixel centres), /255"}.items():
        p = m.metadata_props.add()
        p.key, p.value = key, value
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    return title, side
