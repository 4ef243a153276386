"""`python -m cnnscope_torch train|export|predict …` (see `--help`)."""
import argparse
import sys

from . import checkpoint as ck
from . import design
from . import fashion_mnist


def whole(text):
    """A whole number in ASCII digits, as cnnscope's flags take one (int() takes "١٦" as 16)."""
    n = ck.whole_number(text, ck.U64)
    if n is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (digits 0-9)")
    return n


def decimal(text):
    """A decimal number in ASCII (float() takes "١.٥" and "1_0")."""
    if not design.DECIMAL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number (like 0.001 or 1e-3)")
    return float(text)


def parser():
    p = argparse.ArgumentParser(prog="python -m cnnscope_torch", description=__import__("cnnscope_torch").__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="continue a cnnscope run (a checkpoint) in PyTorch; under torchrun, on several processes",
                       description="Continues the run a cnnscope checkpoint holds with its own recipe and prints d2l's epoch line. "
                                   "Under `torchrun --nproc_per_node K` it trains with DistributedDataParallel (gloo on CPUs, NCCL on "
                                   "GPUs), the global batch split K ways; rank 0 writes the checkpoint.")
    t.add_argument("--resume", required=True, metavar="CKPT", help="the checkpoint to continue (cnnscope's, the page's, or this package's)")
    t.add_argument("--epochs", type=whole, help="the total number of epochs, as in `cnnscope train --resume` [default: the checkpoint's]")
    t.add_argument("--save-checkpoint", metavar="FILE", help="write the run here after every epoch whose loss and tensors are all "
                                                             "finite (cnnscope's format); a run that diverges stops, exit 1, and "
                                                             "leaves FILE as its last finite epoch wrote it. Not the --resume file "
                                                             "itself unless --overwrite")
    t.add_argument("--overwrite", action="store_true", help="let --save-checkpoint be the --resume checkpoint itself, replaced "
                                                            "after each finite epoch (refused without it: the run you resume "
                                                            "stays as it was)")
    t.add_argument("--lr", type=decimal, help="another learning rate [default: the checkpoint's]")
    t.add_argument("--batch", type=whole, help="another global batch size (at an epoch boundary) [default: the checkpoint's]")
    t.add_argument("--limit", type=whole, metavar="N", help="the first N training (and test) images, as the run was trained on")
    t.add_argument("--data", metavar="DIR", help=f"Fashion-MNIST's .gz files [default: {fashion_mnist.ROOT}]")
    t.add_argument("--device", choices=["auto", "cuda", "cpu", "mps"], default="auto", help="[default: cuda when there is one]")
    t.add_argument("--progress", action="store_true", help="a line on stderr every 20 batches")
    e = sub.add_parser("export", help="write a checkpoint's or weights file's network as ONNX")
    e.add_argument("src", metavar="CKPT")
    e.add_argument("dst", metavar="MODEL.onnx")
    r = sub.add_parser("predict", help="the predicted class of the first N test images, one a line (PyTorch, or onnxruntime with --onnx)")
    r.add_argument("src", metavar="CKPT_OR_ONNX")
    r.add_argument("--limit", type=whole, default=1000, metavar="N")
    r.add_argument("--data", metavar="DIR")
    return p


def one_line(text):
    """`text` with its line breaks and other control characters escaped (a name read from a file
    may hold any): what is printed stays one line."""
    breaks = [c for c in set(str(text)) if ord(c) < 32 or c in "\x7f\x85\u2028\u2029"]
    return str(text).translate({ord(c): c.encode("unicode_escape").decode("ascii") for c in breaks})


def _error(text):
    """One line on stderr; under torchrun from rank 0 only (every rank meets the same bad input)."""
    import os
    if os.environ.get("RANK", "0") == "0":
        print(f"cnnscope_torch: error: {one_line(text)}", file=sys.stderr)
    return 1


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.command == "train":
            from . import run
            return run.train(args)
        if args.command == "export":
            from . import export
            title, side = export.export(args.src, args.dst)
            print(f"wrote {args.dst}: {title}, input image [N, 1, {side}, {side}] float in [0, 1], output logits [N, 10], opset {export.OPSET}")
            return 0
        if args.command == "predict":
            from . import predict
            for c in predict.predict(args.src, args.limit, args.data):
                print(c)
            return 0
    except (ck.CheckpointError, fashion_mnist.DataError) as e:
        return _error(e)
    except Exception as e:
        from .run import RunError
        if isinstance(e, RunError):
            return _error(e)
        if isinstance(e, OSError):
            return _error(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "))
        raise
    return 2
