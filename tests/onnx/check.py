"""Checks an ONNX model cnnscope exported (`cnnscope export`) with onnx and onnxruntime: the model
is valid (onnx's full checker, shape inference included), takes `image` [batch, 1, side, side]
float32 with a dynamic batch and gives `logits` [batch, 10]; on the first N Fashion-MNIST test
images, fed as cnnscope's evaluation feeds them (resized to the side, bilinear with half-pixel
centres and no antialiasing, then / 255), onnxruntime's predicted classes equal cnnscope's
(`cnnscope eval --predictions`) image for image, and its logits equal cnnscope's within the
tolerance (a share of the largest |logit|). Needs onnx, onnxruntime and numpy only (no torch). Run by tests/onnx.rs:

    python3 tests/onnx/check.py model.onnx --data public/data/fashion-mnist \
        --predictions predictions.txt [--logits logits.f32] [--count 1000]

`--logits` is a file of count × 10 little-endian float32 (cnnscope's logits, row by row). Prints
one line of figures; exits 1 with the reason when anything differs.
"""
import argparse
import gzip
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

CLASSES = 10


def fail(message):
    print(f"check.py: {message}", file=sys.stderr)
    sys.exit(1)


def test_images(data, count):
    """The first `count` test images as uint8 [count, 28, 28], from the IDX file."""
    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    magic, n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    if magic != 2051 or n < count:
        fail(f"t10k-images-idx3-ubyte.gz: magic {magic}, {n} images; {count} needed")
    return np.frombuffer(raw, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)


def source(side, size):
    """Per output index along one axis: the two source indices and the weight of the second, as
    PyTorch's area_pixel_compute_source_index and cnnscope's gather_resize compute them (f32)."""
    scale = np.float32(size) / np.float32(side)
    s = np.maximum((np.arange(side, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), np.float32(0))
    i0 = np.minimum(np.floor(s).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    return i0, i1, (s - i0.astype(np.float32)).astype(np.float32)


def preprocess(images, side):
    """[count, 1, side, side] float32: bilinear resize (half-pixel centres, no antialiasing) of the
    pixel values, then / 255 — cnnscope's evaluation input."""
    pixels = images.astype(np.float32)
    y0, y1, ly = source(side, images.shape[1])
    x0, x1, lx = source(side, images.shape[2])
    across = pixels[:, :, x0] * (np.float32(1) - lx) + pixels[:, :, x1] * lx
    out = across[:, y0, :] * (np.float32(1) - ly)[:, None] + across[:, y1, :] * ly[:, None]
    return (out / np.float32(255)).astype(np.float32)[:, None, :, :]


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--data", required=True)
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--logits")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--tolerance", type=float, default=1e-4, help="of the largest |logit|")
    parser.add_argument("--min-classes", type=int, default=3, help="predicted classes needed to call it a test")
    args = parser.parse_args()

    model = onnx.load(args.model)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 17:
        fail(f"opset {opset}, 17 or newer wanted")
    (inp,), (out,) = model.graph.input, model.graph.output
    side = dims(inp)[2]
    if inp.name != "image" or dims(inp) != ["batch", 1, side, side] or inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        fail(f"input {inp.name} {dims(inp)}: want image [batch, 1, side, side] float32")
    if out.name != "logits" or dims(out) != ["batch", CLASSES]:
        fail(f"output {out.name} {dims(out)}: want logits [batch, {CLASSES}]")

    x = preprocess(test_images(args.data, args.count), side)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    # The batch is dynamic: one image alone, then the rest in batches of 250.
    parts = [session.run(["logits"], {"image": x[:1]})[0]]
    parts += [session.run(["logits"], {"image": x[i:i + 250]})[0] for i in range(1, args.count, 250)]
    logits = np.concatenate(parts)
    if logits.shape != (args.count, CLASSES):
        fail(f"onnxruntime gave logits of shape {logits.shape}")
    ours = logits.argmax(1)

    with open(args.predictions) as f:
        theirs = np.array([int(line) for line in f.read().split()])
    if len(theirs) != args.count:
        fail(f"{args.predictions} holds {len(theirs)} predictions, {args.count} expected")
    # A tie (several classes share the largest logit, as when every ReLU before the scores is off
    # for an image: all ten are 0) has no one answer: cnnscope's evaluation names the last of the
    # tied classes, numpy's argmax the first. Either of them agrees.
    reference = logits
    if args.logits:
        expected = np.fromfile(args.logits, dtype="<f4")
        if expected.size != args.count * CLASSES:
            fail(f"{args.logits} holds {expected.size} values, {args.count * CLASSES} expected")
        reference = expected.reshape(args.count, CLASSES)
    rows = np.arange(args.count)
    tied = (ours != theirs) & (reference[rows, ours] == reference[rows, theirs]) & (reference[rows, theirs] == reference.max(1))
    differ = np.flatnonzero((ours != theirs) & ~tied)
    classes = len(np.unique(theirs))
    figures = (f"{args.count} images, side {side}, opset {opset}, {len(model.graph.node)} nodes: "
               f"{args.count - len(differ)} predictions agree ({classes} classes predicted, {tied.sum()} ties)")
    if args.logits:
        expected = reference
        diff = np.abs(logits - expected)
        worst = np.unravel_index(diff.argmax(), diff.shape)
        scale = np.abs(expected).max()
        figures += f"; logits within {diff.max():.2e} (largest |logit| {scale:.3g})"
        bad = diff > args.tolerance * scale
        if bad.any():
            fail(f"{figures}; {bad.sum()} logits differ by more than {args.tolerance} × {scale:.3g}, the worst at image "
                 f"{worst[0]} class {worst[1]}: onnxruntime {logits[worst]:.6g}, cnnscope {expected[worst]:.6g}")
    print(figures)
    if classes < args.min_classes:
        fail(f"cnnscope predicts {classes} class(es) for all {args.count} images: too few for the comparison to mean much")
    if len(differ):
        i = differ[0]
        fail(f"{len(differ)} predictions differ, the first at test image {i}: onnxruntime {ours[i]}, cnnscope {theirs[i]} "
             f"(logits {np.array2string(logits[i], precision=4)})")


if __name__ == "__main__":
    main()
