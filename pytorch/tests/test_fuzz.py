"""A fuzz pass with hypothesis over the three readers of what others write: every damaged
checkpoint, weights file or design gets the reader's one-line error — CheckpointError from
`checkpoint.read` and `export.model_of`, DesignError from `design.build` — or reads; never another
exception (a traceback). Up to 300 examples a reader (hypothesis skips repeats), derandomized (the
same examples every run, so a failure reproduces), without hypothesis's example database and with
its cache in the temporary directory (nothing is written to the checkout). Needs hypothesis
(pytorch/pyproject.toml's `test` extra, pinned; scripts/setup.sh installs it)."""
import json
import os
import struct
import tempfile
import unittest

# Hypothesis keeps a cache (.hypothesis/) in the working directory: in the temporary one instead.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "cnnscope-torch-hypothesis"))
try:
    from hypothesis import HealthCheck, given, settings, strategies as st
except ImportError as e:  # one clear line rather than a bare ModuleNotFoundError
    raise ImportError("test_fuzz needs hypothesis: pip install -e 'pytorch[test]' (scripts/setup.sh --pytorch installs it)") from e

import torch

import common  # noqa: F401 (puts pytorch/ on sys.path where the package is not installed)
from cnnscope_torch import checkpoint as ck
from cnnscope_torch import cli, design

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

# A small network, so each example writes and reads a file of a few kilobytes (mostly header).
SMALL = "conv 2 k=3\nrelu\nmaxpool k=2\nflatten\nlinear 10\n"

# Design text: lines of the format's modules, mostly well formed (so that many designs reach the
# shape checks and build) with numbers and options out of range, not ASCII ("²", "١", "８") or not
# numbers mixed in, names and separators of every sort; or any text at all. Widths, kernels and
# paddings stay small where they are in range, and sides at most 32, so what builds allocates little.
def mostly(common, rare, odds=6):
    """`common` `odds` times in `odds` + 1, else `rare` (st.one_of draws each branch alike, however
    often it is listed)."""
    return st.sampled_from([True] * odds + [False]).flatmap(lambda c: common if c else rare)


HOSTILE = st.sampled_from(["0", "4097", "1025", "+3", "-1", "²", "١", "٣", "８", "0.5", ".5", "1e-1", "nan", "inf", "9" * 23,
                           "0" * 30 + "3", "0.99999999", "-0.0", "", "=", "3.0"])
SMALL_NUMBER = st.integers(1, 12).map(str)
NUMBERS = mostly(SMALL_NUMBER, HOSTILE)
RATES = mostly(st.sampled_from(["0", "0.5", ".5", "0.25", "5e-1", "+0.1"]), HOSTILE, 3)
VALUES = mostly(st.integers(0, 3).map(str), HOSTILE, 3)
KEYS = st.sampled_from(["k", "kernel_size", "s", "stride", "p", "padding"] * 3 + ["x", "", "K", "k "])
OPTIONS = st.tuples(KEYS, VALUES).map("=".join)
ARITY = {"conv": 1, "linear": 1, "nin_block": 1, "vgg_block": 2, "inception": 6, "dropout": 1}
WINDOWED = ("conv", "nin_block", "maxpool", "avgpool")
KINDS = st.sampled_from(["conv", "maxpool", "avgpool", "global_avg_pool", "relu", "dropout", "flatten", "linear", "vgg_block",
                         "nin_block", "inception"] * 3 + ["{", "}"] * 2 + ["Conv", "pool", "", "#", "linear10"])
NAMES = mostly(st.none(), st.sampled_from(["a", "fc", "0", "stem", "fc.1", "α", "", "forward", "a b", "training", "x" * 40]), 4)
SEPARATORS = mostly(st.just(" "), st.sampled_from([", ", "(", ")", "\t", "\u3000", "\x1c", "  ", "\r", "\u2028", "\x0b"]), 4)


@st.composite
def lines(draw):
    kind = draw(KINDS)
    if kind in ("{", "}"):
        return kind if kind == "}" or draw(st.booleans()) else f"{draw(NAMES) or 'g'}: {{"
    count = draw(mostly(st.just(ARITY.get(kind, 0)), st.integers(0, 7), 10))
    words = [kind] + [draw(RATES if kind == "dropout" else NUMBERS) for _ in range(count)]
    if kind in WINDOWED and draw(st.sampled_from([True] * 10 + [False])):
        words.append(f"k={draw(st.integers(1, 5))}")
    words += draw(mostly(st.just([]), st.lists(OPTIONS, min_size=1, max_size=3 if kind in WINDOWED else 1), 1 if kind in WINDOWED else 8))
    text = "".join(w + draw(SEPARATORS) for w in words)
    name = draw(NAMES)
    return text if name is None else f"{name}:{draw(SEPARATORS)}{text}"


DESIGNS = mostly(
    st.tuples(st.lists(mostly(lines(), st.text(max_size=16), 8), max_size=8), st.integers(0, 3))
      .map(lambda t: "\n".join(t[0]) + ("\nflatten\nlinear 10\n" if t[1] else "")),
    st.text(max_size=120), 8)
# The width ratio and side out of range are refused before the text is read (the fixtures hold them).
RATIOS = mostly(st.sampled_from([1, 1, 2, 3, 16, 4096]), st.sampled_from([4097, 0, -1]), 12)
SIDES = mostly(st.integers(4, 32), st.sampled_from([1, 2, 0, 1025, -3]), 12)

# JSON values to put anywhere in a header or a training state.
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**130) | st.floats(allow_nan=True) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
META_VALUES = st.one_of(st.sampled_from(["own", "nin", "resnet", "", "1", "2", "8", "16", "28", "4097", "1025", "0", "²", "١٦",
                                         "+8", "08", "true", "false", "yes", SMALL, SMALL.replace("2", "²"), "linear 10"]),
                        st.text(max_size=20))
STATE_KEYS = ["format", "batch", "optimizer", "seed", "epochs", "steps", "epoch", "batch_in_epoch", "optimizer_steps",
              "order_position", "sums", "train_images", "notes", "augment"]


def split(data):
    """(header dict, tensor bytes) of a safetensors file's bytes."""
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, body):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


@st.composite
def damaged(draw, base):
    """`base` (a safetensors file's bytes) damaged one of several ways: bytes overwritten, cut or
    inserted anywhere; or its header's entries, metadata or training state changed or removed."""
    how = draw(st.sampled_from(["bytes", "cut", "entry", "metadata", "state", "state", "header"]))
    data = bytearray(base)
    if how == "bytes":
        header_end = 8 + struct.unpack("<Q", base[:8])[0]
        for _ in range(draw(st.integers(1, 8))):
            # Mostly in the header, where the meaning is.
            at = draw(st.integers(0, header_end - 1) if draw(st.booleans()) else st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "cut":
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at]) + draw(st.binary(max_size=16))
    header, body = split(base)
    meta = header.setdefault("__metadata__", {})
    if how == "entry":
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets", None]))
        if field is None and draw(st.booleans()):
            header[name] = draw(JSON)
        elif field is None:
            del header[name]
        else:
            header[name][field] = draw(st.one_of(JSON, st.sampled_from(["F16", "F64", "I32", "BF16", "F8_E4M3", [0, 4], [2, 2], [1 << 40]])))
        if draw(st.booleans()):
            header[draw(st.sampled_from(["extra", "optimizer.second.0.weight", "1.weight"]))] = draw(st.sampled_from(
                [{"dtype": "F32", "shape": [0], "data_offsets": [len(body), len(body)]}, {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}]))
    elif how == "metadata":
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(["net", "ratio", "side", "second_hidden", "design", ck.METADATA_KEY, "other"]))
            if draw(st.integers(0, 4)) == 0:
                meta.pop(key, None)
            else:
                meta[key] = draw(META_VALUES)
        if draw(st.integers(0, 9)) == 0:
            header["__metadata__"] = draw(JSON)
    elif how == "state" and ck.METADATA_KEY in meta:
        state = json.loads(meta[ck.METADATA_KEY])
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(STATE_KEYS + ["optimizer.kind", "optimizer.lr", "optimizer.momentum", "optimizer.beta1", "optimizer.eps"]))
            value = draw(st.one_of(JSON, st.sampled_from(["sgd", "adam", "١٢", "²", "+5", " 5", "1_000", -1, 2**64, 2**128, 0.5,
                                                          float("nan"), float("inf"), 1e300, [0, 0], [0, 0, 2**32]])))
            target, key = (state.setdefault("optimizer", {}), key.split(".")[1]) if key.startswith("optimizer.") else (state, key)
            if not isinstance(target, dict):
                continue
            if draw(st.integers(0, 4)) == 0:
                target.pop(key, None)
            else:
                target[key] = value
        meta[ck.METADATA_KEY] = json.dumps(state) if draw(st.integers(0, 9)) else json.dumps(state)[:draw(st.integers(0, 40))]
    else:
        header = draw(JSON) if draw(st.booleans()) else {**header, draw(st.text(max_size=8)): draw(JSON)}
    return join(header, body)


def one_line_error(test, error_type, read, path):
    """`read(path)` reads, or raises `error_type` with a message that prints as one line."""
    try:
        read(path)
    except error_type as e:
        message = cli.one_line(e)
        test.assertTrue(message, f"{error_type.__name__} without a message")
        test.assertEqual(len(message.splitlines()), 1, message)


class Fuzz(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cnnscope-torch-fuzz-")
        torch.manual_seed(0)
        model = design.build(SMALL, 1, 8)
        params = {k: v.detach() for k, v in model.state_dict().items()}
        state = {"format": 1, "batch": 16, "optimizer": {"kind": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                                          "weight_decay": 0.0},
                 "seed": 3, "epochs": 2, "steps": 4, "epoch": 1, "batch_in_epoch": 0, "optimizer_steps": 4,
                 "order_position": "12", "sums": [0, 0, 0], "train_images": 64, "notes": "", "augment": False}
        path = os.path.join(cls.dir, "base.ckpt")
        first, second = ({k: torch.rand_like(v) for k, v in params.items()} for _ in range(2))
        ck.write(path, ck.Checkpoint("own", 1, 8, True, SMALL, state, params, first, second))
        with open(path, "rb") as f:
            cls.checkpoint = f.read()
        from safetensors.torch import save_file
        path = os.path.join(cls.dir, "base.safetensors")
        save_file(params, path, metadata={"net": "own", "design": SMALL, "ratio": "1", "side": "8", "second_hidden": "true"})
        with open(path, "rb") as f:
            cls.weights = f.read()
        cls.path = os.path.join(cls.dir, "fuzzed")

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir)

    def write(self, data):
        with open(self.path, "wb") as f:
            f.write(data)
        return self.path

    def test_the_bases_read(self):
        self.assertTrue(ck.read(self.write(self.checkpoint)).adam)
        from cnnscope_torch.export import model_of
        self.assertEqual(model_of(self.write(self.weights))[1], 8)

    @FUZZ
    @given(st.data())
    def test_checkpoints(self, data):
        one_line_error(self, ck.CheckpointError, ck.read, self.write(data.draw(damaged(self.checkpoint))))

    @FUZZ
    @given(st.data())
    def test_weights_files(self, data):
        from cnnscope_torch.export import model_of
        base = self.checkpoint if data.draw(st.integers(0, 4)) == 0 else self.weights
        one_line_error(self, ck.CheckpointError, model_of, self.write(data.draw(damaged(base))))

    @FUZZ
    @given(DESIGNS, RATIOS, SIDES)
    def test_designs(self, text, ratio, side):
        one_line_error(self, design.DesignError, lambda t: design.build(t, ratio, side), text)


if __name__ == "__main__":
    unittest.main()
