"""cnnscope's checkpoint format, read and written exactly (src/train/checkpoint.rs, format 1).

A checkpoint is a safetensors file of f32 tensors:

- the parameters under PyTorch's `state_dict` keys (so it is a weights file too);
- `optimizer.first.<key>` for every parameter (SGD's momentum buffer, Adam's first moment) and,
  for Adam only, `optimizer.second.<key>` (the second moment);

and string metadata:

- `net` (alexnet, vgg11, nin, googlenet or own), `ratio`, `side`, `second_hidden` ("true" or
  "false"), and for an own network `design` (its text, docs/APP.md's design format);
- `cnnscope.checkpoint`: a JSON object — format 1, batch, optimizer (kind "sgd" with lr, momentum,
  weight_decay, or "adam" with lr, beta1, beta2, eps, weight_decay; all f32), seed, epochs (asked
  for in all), steps, epoch (completed), batch_in_epoch, optimizer_steps (Adam's bias-correction
  count), order_position (the batch-order generator's word position, a u128 as decimal text), sums
  (the epoch's running loss / correct / example sums as f32 bit patterns), train_images, notes
  (the app's JSON as a string; "" from the CLI) and augment.

`read` refuses anything else with a one-line reason (`CheckpointError`), as cnnscope's reader
(src/train/checkpoint.rs, src/model/weights.rs) refuses it: every tensor F32 and of its shape, the
tensors back to back to the file's end, no key twice, an SGD run without Adam's second moments,
counters and hyperparameters in their ranges, an own network's design within cnnscope's limits
(design.py). `write` writes what cnnscope reads, whole or not at all (a temporary file flushed,
renamed over the target, and the directory flushed so the rename lasts).
"""
import json
import math
import os
import struct
import tempfile
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from . import d2l_nets, design
from .design import whole_number

METADATA_KEY = "cnnscope.checkpoint"
FORMAT = 1
NETS = ("alexnet", "vgg11", "nin", "googlenet")
# As cnnscope names the networks in its messages (src/net/zoo.rs, Arch's Display).
TITLES = {"alexnet": "AlexNet", "vgg11": "VGG-11", "nin": "NiN", "googlenet": "GoogLeNet", "own": "Own network"}
# The largest value of each whole number of the training state: its Rust type's (u32, u64, usize).
U32, U64 = 2**32 - 1, 2**64 - 1
WHOLES = {"format": U32, "batch": U64, "seed": U64, "epochs": U64, "steps": U64, "epoch": U64, "batch_in_epoch": U64,
          "optimizer_steps": U32, "train_images": U64}


class CheckpointError(Exception):
    """A file that is not a cnnscope checkpoint this package can continue, and why."""


def f32(x):
    """`x` rounded to f32, as the shortest decimal that reads back as that f32 (what cnnscope's
    serde_json writes for an f32 field, and the value its engine computes with); past f32's range,
    ±inf, without numpy's overflow warning."""
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(str(np.float32(x)))


def bits_to_f32(bits):
    return struct.unpack("<f", struct.pack("<I", int(bits) & 0xFFFFFFFF))[0]


def f32_to_bits(value):
    return struct.unpack("<I", struct.pack("<f", float(value)))[0]


@dataclass
class Checkpoint:
    """A saved run. `params`, `first`, `second`: name -> f32 CPU tensor, in `state_dict` order
    (`second` empty for SGD). `state` is the `cnnscope.checkpoint` JSON object as a dict (its
    fields named as in the file; `order_position` an int)."""
    net: str
    ratio: int
    side: int
    second_hidden: bool
    design: str | None
    state: dict
    params: "OrderedDict[str, torch.Tensor]"
    first: "OrderedDict[str, torch.Tensor]"
    second: "OrderedDict[str, torch.Tensor]" = field(default_factory=OrderedDict)

    @property
    def optimizer(self):
        return self.state["optimizer"]

    @property
    def adam(self):
        return self.optimizer["kind"] == "adam"

    @property
    def sums(self):
        """The running loss, correct and example sums as floats."""
        return [bits_to_f32(b) for b in self.state["sums"]]

    def title(self):
        return f"{TITLES[self.net]} ÷{self.ratio} at {self.side}"

    def build_model(self):
        """The PyTorch module of this network, with the checkpoint's parameters loaded strictly."""
        model = build_model(self.net, self.ratio, self.side, self.second_hidden, self.design)
        check_keys(model, self.params)
        model.load_state_dict(self.params, strict=True)
        return model


def build_model(net, ratio, side, second_hidden=True, design_text=None):
    """The network a checkpoint or weights file names, as d2l builds it (own networks through
    `design.build`, which refuses what cnnscope refuses); the width ratio and side in cnnscope's
    ranges."""
    try:
        design.check_scale(TITLES[net], ratio, side)
        if net == "own":
            return design.build(design_text, ratio, side)
        return d2l_nets.build(net, ratio, side, second_hidden)
    except design.DesignError as e:
        raise CheckpointError(f"its design, {e}" if e.line is not None else str(e)) from None
    except (ValueError, IndexError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"its network ({net} ÷{ratio} at {side}) cannot be built in PyTorch ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def check_keys(model, params):
    """Refuses parameters that do not fit `model` exactly, listing what is missing or extra."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
        if extra:
            parts.append("unexpected " + ", ".join(extra[:4]) + (f" and {len(extra) - 4} more" if len(extra) > 4 else ""))
        raise CheckpointError(f"it does not fit its network ({'; '.join(parts)})")
    for k, shape in expected.items():
        if tuple(params[k].shape) != shape:
            raise CheckpointError(f"{k} has shape {list(params[k].shape)}, the network needs {list(shape)}")


def _unique(pairs):
    """A JSON object's pairs as a dict, refusing a key given twice (json keeps the last silently;
    cnnscope refuses the file: src/model/weights.rs `duplicate_key`)."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise CheckpointError(f"its header names {key} twice: which one is meant is unclear")
        out[key] = value
    return out


def _header(path):
    """The safetensors header of `path` as a dict, the offset of its first tensor byte and the
    file's size, or a one-line reason it is not one."""
    try:
        with open(path, "rb") as f:
            start = f.read(8)
            size = os.fstat(f.fileno()).st_size
            if len(start) < 8:
                raise CheckpointError("it is not a safetensors file (shorter than 8 bytes)")
            n = int.from_bytes(start, "little")
            if n > size - 8 or n > 100_000_000:
                raise CheckpointError("it is not a safetensors file (its header length runs past the end)")
            text = f.read(n)
    except FileNotFoundError:
        raise CheckpointError("no such file") from None
    except IsADirectoryError:
        raise CheckpointError("it is a directory") from None
    except PermissionError:
        raise CheckpointError("permission denied") from None
    try:
        # UTF-8 only, as safetensors reads it (json.loads would take UTF-16 and UTF-32 bytes too).
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_unique)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, a 4,300-digit int
        raise CheckpointError("it is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError("it is not a safetensors file (its header is not a JSON object)")
    return header, 8 + n, size


def _tensors(path, header, start, size):
    """The file's tensors (name -> f32 CPU tensor), each entry of the header checked first as
    cnnscope checks it: F32 (src/model/weights.rs `values`: "NAME is F16, expected F32"), a shape
    whose bytes its offsets hold, the tensors back to back to the file's end."""
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = entry.get("dtype") if isinstance(entry, dict) else repr(entry)
        if dtype != "F32":
            raise CheckpointError(f"{name} is {dtype}, expected F32")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        naturals = lambda v: isinstance(v, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in v)
        if not (naturals(shape) and naturals(offsets) and len(offsets) == 2):
            raise CheckpointError(f"{name}: its header entry gives no shape and data_offsets")
        if 4 * math.prod(shape) != offsets[1] - offsets[0]:
            raise CheckpointError(f"{name}: its bytes do not match its shape")
        spans.append(tuple(offsets))
    at = 0
    for begin, end in sorted(spans):
        if begin != at:
            break
        at = end
    if at != size - start:
        raise CheckpointError("it is not a valid safetensors file (its tensors do not fill the file back to back)")
    try:
        from safetensors.torch import load_file
        return load_file(path)
    except Exception as e:  # safetensors raises its own error types for a damaged body
        raise CheckpointError(f"it is not a valid safetensors file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def read_metadata(path):
    """The file's metadata strings (`{}` where it has none)."""
    return _metadata(_header(path)[0])


def _metadata(header):
    """A header's metadata strings (`{}` where it has none)."""
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError("its metadata is not a JSON object of strings")
    return meta


def read_net(meta):
    """(net, ratio, side, second_hidden, design) from a weights file's metadata."""
    net = meta.get("net")
    if net is None:
        raise CheckpointError("its metadata names no network")
    if net not in NETS + ("own",):
        raise CheckpointError(f"unknown network {net!r}: cnnscope_torch knows alexnet, vgg11, nin, googlenet and own designs")
    text = meta.get("design")
    if net == "own" and not text:
        raise CheckpointError("its metadata says net = own but gives no design")

    def number(key, default):
        value = meta.get(key)
        if value is None:
            return default
        n = whole_number(value, U64)
        if not n:
            raise CheckpointError(f"its metadata gives {key} = {value!r}, which is not a positive whole number")
        return n

    ratio = number("ratio", 1)
    side = number("side", 28 if net == "own" else d2l_nets.NATIVE_SIDE[net])
    second_hidden = meta.get("second_hidden", "true")
    if second_hidden not in ("true", "false"):
        raise CheckpointError(f"its metadata gives second_hidden = {second_hidden!r}, not true or false")
    return net, ratio, side, second_hidden == "true", text


def _check_state(state):
    """The training state's fields, each of the type and in the range cnnscope reads (its Rust
    types, `TrainConfig::check`), or the one that is not."""
    need = {"format": int, "batch": int, "optimizer": dict, "seed": int, "epochs": int, "steps": int, "epoch": int,
            "batch_in_epoch": int, "optimizer_steps": int, "order_position": str, "sums": list, "train_images": int}
    for key, kind in need.items():
        if key not in state:
            raise CheckpointError(f"its training state has no {key}")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise CheckpointError(f"its training state's {key} is {state[key]!r}, not a {kind.__name__}")
    for key, largest in WHOLES.items():
        if not 0 <= state[key] <= largest:
            raise CheckpointError(f"its training state's {key} is {state[key]}, not a whole number from 0 to {largest}")
    if state["format"] != FORMAT:
        raise CheckpointError(f"it is a checkpoint of format {state['format']}, cnnscope_torch reads format {FORMAT}")
    opt = state["optimizer"]
    fields = {"adam": ("lr", "beta1", "beta2", "eps", "weight_decay"), "sgd": ("lr", "momentum", "weight_decay")}
    if not isinstance(opt.get("kind"), str) or opt["kind"] not in fields:
        raise CheckpointError(f"its optimizer {opt.get('kind')!r} is neither adam nor sgd")
    for key in fields[opt["kind"]]:
        if not isinstance(opt.get(key), (int, float)) or isinstance(opt.get(key), bool):
            raise CheckpointError(f"its optimizer has no number {key}")
    # As f32, the values cnnscope computes with (src/train/optimizer.rs `check`).
    value = {key: f32(opt[key]) for key in fields[opt["kind"]]}
    if not (math.isfinite(value["lr"]) and value["lr"] > 0):
        raise CheckpointError(f"its learning rate {opt['lr']} is not a finite positive number")
    if not (math.isfinite(value["weight_decay"]) and value["weight_decay"] >= 0):
        raise CheckpointError(f"its weight decay {opt['weight_decay']} is not a finite number ≥ 0")
    for key in ("momentum", "beta1", "beta2"):
        if key in value and not 0 <= value[key] < 1:
            raise CheckpointError(f"its optimizer's {key} {opt[key]} is not at least 0 and below 1")
    if "eps" in value and not (math.isfinite(value["eps"]) and value["eps"] > 0):
        raise CheckpointError(f"its Adam epsilon {opt['eps']} is not a finite positive number")
    if len(state["sums"]) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in state["sums"]):
        raise CheckpointError("its running sums are not three f32 bit patterns")
    position = whole_number(state["order_position"], 2**128 - 1)
    if position is None:
        raise CheckpointError(f"its batch-order position {state['order_position']!r} is not a number")
    state["order_position"] = position
    if state["batch"] < 1:
        raise CheckpointError("its batch is 0")
    state.setdefault("notes", "")
    state.setdefault("augment", False)
    if not isinstance(state["notes"], str):
        raise CheckpointError("its training state's notes are not a string")
    if not isinstance(state["augment"], bool):
        raise CheckpointError(f"its training state's augment is {state['augment']!r}, not true or false")


def read(path):
    """Reads a cnnscope checkpoint; anything else raises CheckpointError with the reason."""
    try:
        return _read(path)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _read(path):
    header, start, size = _header(path)
    meta = read_metadata(path)
    if METADATA_KEY not in meta:
        raise CheckpointError("it holds weights but no training state, so it is not a checkpoint "
                              "(save one with `cnnscope train --checkpoint FILE` or the page's checkpoint download)")
    try:
        state = json.loads(meta[METADATA_KEY])
    except (ValueError, RecursionError) as e:  # JSONDecodeError, a 4,300-digit int, nesting past the stack
        raise CheckpointError(f"its training state cannot be read ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if not isinstance(state, dict):
        raise CheckpointError("its training state is not a JSON object")
    _check_state(state)
    net, ratio, side, second_hidden, text = read_net(meta)
    model = build_model(net, ratio, side, second_hidden, text)
    tensors = _tensors(path, header, start, size)
    names = list(model.state_dict().keys())
    adam = state["optimizer"]["kind"] == "adam"
    if not adam and any(k.startswith("optimizer.second.") for k in tensors):
        # cnnscope reads exactly the tensors of its optimizer: SGD keeps one buffer per parameter.
        extra = sorted(k for k in tensors if k.startswith("optimizer.second."))
        raise CheckpointError(f"it is an SGD run but holds Adam's second moments ({', '.join(extra[:4])}"
                              + (f" and {len(extra) - 4} more" if len(extra) > 4 else "") + "): cnnscope refuses it too")
    params = OrderedDict((k, tensors.pop(k)) for k in names if k in tensors)
    first = OrderedDict((k, tensors.pop("optimizer.first." + k)) for k in names if "optimizer.first." + k in tensors)
    second = OrderedDict((k, tensors.pop("optimizer.second." + k)) for k in names if adam and "optimizer.second." + k in tensors)
    check_keys(model, params)
    for what, buffers, wanted in (("optimizer.first", first, True), ("optimizer.second", second, adam)):
        if wanted and len(buffers) != len(names):
            missing = [k for k in names if k not in buffers]
            raise CheckpointError(f"it lacks {what}.{missing[0]} ({len(missing)} {what} buffers missing)")
        for k, v in buffers.items():
            if v.shape != params[k].shape:
                raise CheckpointError(f"{what}.{k} has shape {list(v.shape)}, its parameter {list(params[k].shape)}")
    if tensors:
        extra = sorted(tensors)
        raise CheckpointError(f"it holds tensors its network does not have: {', '.join(extra[:4])}" + (f" and {len(extra) - 4} more" if len(extra) > 4 else ""))
    return Checkpoint(net, ratio, side, second_hidden, text, state, params, first, second)


def state_json(state):
    """The `cnnscope.checkpoint` JSON, its fields in the order cnnscope writes them."""
    opt = state["optimizer"]
    keys = ("lr", "beta1", "beta2", "eps", "weight_decay") if opt["kind"] == "adam" else ("lr", "momentum", "weight_decay")
    out = OrderedDict(format=FORMAT, batch=int(state["batch"]),
                      optimizer=OrderedDict([("kind", opt["kind"])] + [(k, f32(opt[k])) for k in keys]),
                      seed=int(state["seed"]), epochs=int(state["epochs"]), steps=int(state["steps"]), epoch=int(state["epoch"]),
                      batch_in_epoch=int(state["batch_in_epoch"]), optimizer_steps=int(state["optimizer_steps"]),
                      order_position=str(int(state["order_position"])), sums=[int(s) for s in state["sums"]],
                      train_images=int(state["train_images"]), notes=str(state.get("notes", "")), augment=bool(state.get("augment", False)))
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def write(path, ckpt):
    """Writes `ckpt` as cnnscope's checkpoint, atomically (a temporary file beside `path`, flushed,
    renamed over it)."""
    from safetensors.torch import save_file
    tensors = OrderedDict()
    for k, v in ckpt.params.items():
        tensors[k] = v
    for k, v in ckpt.first.items():
        tensors["optimizer.first." + k] = v
    if ckpt.adam:
        for k, v in ckpt.second.items():
            tensors["optimizer.second." + k] = v
    tensors = OrderedDict((k, v.detach().to("cpu", torch.float32).contiguous()) for k, v in tensors.items())
    meta = {"net": ckpt.net, "ratio": str(ckpt.ratio), "side": str(ckpt.side),
            "second_hidden": "true" if ckpt.second_hidden else "false", METADATA_KEY: state_json(ckpt.state)}
    if ckpt.net == "own":
        meta["design"] = ckpt.design
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cnnscope-", suffix=".partial", dir=directory)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    sync_directory(directory)


def sync_directory(directory):
    """Flushes `directory`'s entries, so a rename into it outlasts a power cut (the file's bytes
    were flushed before); quietly nothing where the OS will not open or flush a directory
    (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
