"""An own network's design (docs/APP.md, "Your own network") as a PyTorch module: a second reader
of the format, written apart from cnnscope's (src/net/design.rs), so the fixtures can check that
a design means in cnnscope what it means in PyTorch. It refuses what cnnscope refuses, with
cnnscope's limits and messages (`DesignError`, "line N: why"), before it allocates anything: a
design comes from a file someone else wrote (a checkpoint's or weights file's metadata). The
blocks are d2l's (d2l_nets.py).

    model = cnnscope_torch.design.build(open("my.net").read(), ratio=2, side=28)
"""
import math
import re
from collections import namedtuple

import numpy as np
from torch import nn

from .d2l_nets import GlobalAvgPool2d, FlattenLayer, Inception, nin_block, vgg_block

# cnnscope's limits, one for one: a design one reader refuses, the other refuses too
# (tests/fixtures/hostile_designs.json holds designs both must refuse).
MAX_CHARS = 64 * 1024   # design.rs MAX_CHARS: the text's length in UTF-8 bytes (Rust's str::len)
MAX_MODULES = 1000      # design.rs MAX_MODULES: lines with a module or a group's `{`
MAX_DEPTH = 8           # design.rs MAX_DEPTH: groups within groups
MAX_RATIO = 4096        # layer.rs MAX_RATIO: the width ratio, 1 to this
MAX_WIDTH = MAX_RATIO   # design.rs MAX_WIDTH: a module's width (and vgg_block's convs), 1 to this
MAX_SIDE = 1024         # layer.rs MAX_SIDE: the input side (1 to this), kernel and stride (1 to
                        # this) and padding (0 to this)
MAX_VALUES = 1 << 28    # design.rs MAX_VALUES: one module's output, or one parameter tensor
MAX_VGG_CONVS = 16      # design.rs parse_module: vgg_block takes at most 16 convolutions
CLASSES = 10            # layer.rs CLASSES: what the network must end in

MODULES = ("conv, maxpool, avgpool, global_avg_pool, relu, dropout, flatten, linear, vgg_block, "
           "nin_block or inception")
# Rust's char::is_whitespace (Unicode's White_Space), which splits and trims a line; Python's
# str.isspace also takes U+001C to U+001F.
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
              "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_SPLIT = re.compile("[" + re.escape(WHITESPACE + "(),") + "]+")
# Rust's integer and f32 `parse`: ASCII digits only ("²" and "١" are digits to str.isdigit and
# int, "1_0" to float). The one home of both rules: checkpoint.py and cli.py read numbers with them.
WHOLE = re.compile(r"\+?[0-9]+")
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z0-9_]+")
WINDOW = ("k", "kernel_size", "s", "stride", "p", "padding")


class DesignError(ValueError):
    """A design cnnscope refuses, and why: `line N: ...` as cnnscope says it (`line` None for the
    width ratio or the input side, which are no line's)."""

    def __init__(self, line, detail):
        super().__init__(f"line {line}: {detail}" if line is not None else detail)
        self.line, self.detail = line, detail


class _Why(Exception):
    """A line's mistake, before its line number is put to it."""


# A module or group of the design as written: `module` is (kind, numbers...) or ("{", items).
Item = namedtuple("Item", "line name module")


class Design(nn.Sequential):
    """nn.Sequential, except that a linear layer takes whatever reaches it, flattened (as AlexNet's
    forward flattens between its two Sequentials)."""

    def forward(self, x):
        for module in self:
            if isinstance(module, nn.Linear) and x.dim() > 2:
                x = x.flatten(1)
            x = module(x)
        return x


def whole_number(text, largest):
    """`text` as a whole number from 0 to `largest` if it is one written in ASCII digits (as Rust
    parses it), else None."""
    if not isinstance(text, str) or not WHOLE.fullmatch(text):
        return None
    digits = text.lstrip("+").lstrip("0") or "0"
    # int() refuses 4,300 digits with a ValueError; past 40 digits it is past u128 anyway.
    n = int(digits) if len(digits) <= 40 else largest + 1
    return n if n <= largest else None


def whole(name, text, low, high):
    """`text` as a whole number from `low` to `high` (ASCII digits, as Rust's `parse` reads them),
    or cnnscope's reason it is not one."""
    n = whole_number(text, high)
    if n is not None and n >= low:
        return n
    raise _Why(f"{name} = «{text}» is not a whole number from {low} to {high}")


def check_scale(title, ratio, side):
    """The width ratio and input side every network takes (src/net/zoo.rs `Net::new`), else
    DesignError with cnnscope's words (`title` as cnnscope names the network: "Own network")."""
    integer = lambda v: isinstance(v, int) and not isinstance(v, bool)
    if not (integer(ratio) and 1 <= ratio <= MAX_RATIO):
        raise DesignError(None, f"{title}: the width ratio must be 1 to {MAX_RATIO} (÷{MAX_RATIO} already leaves one "
                                f"channel per layer), got {ratio}")
    if not (integer(side) and 1 <= side <= MAX_SIDE):
        raise DesignError(None, f"{title}: the input side must be 1 to {MAX_SIDE} (Fashion-MNIST's images are 28×28; "
                                f"the papers use 224), got {side}")


def _lines(text):
    """Rust's str::lines: split at \\n, a \\r before it dropped (other line breaks are not)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [l[:-1] if l.endswith("\r") else l for l in lines]


def parse(text):
    """The design's items (Item, nested for groups), or DesignError at the first line cnnscope
    refuses: too long, too many modules, groups too deep, unknown modules, numbers out of range."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise DesignError(1, "the design is not valid UTF-8 text (it holds a lone surrogate)") from None
    if size > MAX_CHARS:
        raise DesignError(1, f"the design has {size} characters; at most {MAX_CHARS} are read")
    # The groups open at this point: the line that opened each, its name and its items.
    groups = [(0, None, [])]
    modules = 0
    for number, raw in enumerate(_lines(text), 1):
        code = raw.split("#", 1)[0].strip(WHITESPACE)
        if not code:
            continue
        if code == "}":
            if len(groups) == 1:
                raise DesignError(number, "this } closes no group")
            opened, name, items = groups.pop()
            if not items:
                raise DesignError(opened, "this group is empty: put at least one module between { and }")
            groups[-1][2].append(Item(opened, name, ("{", items)))
            continue
        try:
            name, rest = _split_name(code)
        except _Why as e:
            raise DesignError(number, str(e)) from None
        modules += 1
        if modules > MAX_MODULES:
            raise DesignError(number, f"a design has at most {MAX_MODULES} modules and groups")
        if rest == "{":
            if len(groups) > MAX_DEPTH:
                raise DesignError(number, f"groups nest at most {MAX_DEPTH} deep")
            groups.append((number, name, []))
            continue
        try:
            groups[-1][2].append(Item(number, name, _parse_module(rest)))
        except _Why as e:
            raise DesignError(number, str(e)) from None
    if len(groups) > 1:
        raise DesignError(groups[-1][0], "this { is never closed: end the group with a line holding }")
    if not groups[0][2]:
        raise DesignError(1, f"the design has no modules: write one per line ({MODULES})")
    return groups[0][2]


def _split_name(code):
    """`name: rest` -> (name, rest); a line without a colon -> (None, line)."""
    if ":" not in code:
        return None, code
    head, rest = code.split(":", 1)
    head = head.strip(WHITESPACE)
    if not _NAME.fullmatch(head):
        raise _Why(f"«{head}» cannot name a module: use letters, digits and _ (the name goes into weight keys like {head}.weight)")
    rest = rest.strip(WHITESPACE)
    if not rest:
        raise _Why(f"{head}: names nothing: write a module or {{ after the colon")
    return head, rest


class _Words:
    """A module line's words: its kind, its numbers in order and its `key=value` options."""

    def __init__(self, code):
        # Inception's widths may be written as d2l writes them, `(96, 128)`.
        words = [w for w in _SPLIT.split(code) if w]
        self.kind = words[0] if words else ""
        self.numbers = [w for w in words[1:] if "=" not in w]
        self.options = [tuple(w.split("=", 1)) for w in words[1:] if "=" in w]

    def take(self, names, low, high):
        """Exactly len(names) numbers, each a whole number from `low` to `high`."""
        if len(self.numbers) != len(names):
            wanted = " ".join(names) if names else "no numbers"
            raise _Why(f"{self.kind} takes {wanted}, got «{' '.join(self.numbers)}»")
        return [whole(name, text, low, high) for name, text in zip(names, self.numbers)]

    def option(self, keys, low, high, default):
        """The first option written as one of `keys` (`k` or `kernel_size`), or `default`."""
        for key, value in self.options:
            if key in keys:
                return whole(key, value, low, high)
        if default is None:
            raise _Why(f"{self.kind} needs {keys[0]}=…")
        return default

    def only(self, known):
        """Refuses options other than `known`."""
        for key, _ in self.options:
            if key not in known:
                if not known:
                    raise _Why(f"{self.kind} takes no options, got {key}=")
                raise _Why(f"{self.kind} has no option {key}=: it takes {', '.join(k + '=' for k in known)}")

    def window(self, stride):
        """Kernel, stride (default `stride`, or the kernel) and padding."""
        self.only(WINDOW)
        kernel = self.option(("k", "kernel_size"), 1, MAX_SIDE, None)
        stride = self.option(("s", "stride"), 1, MAX_SIDE, stride or kernel)
        padding = self.option(("p", "padding"), 0, MAX_SIDE, 0)
        return kernel, stride, padding


def _parse_module(code):
    words = _Words(code)
    kind = words.kind
    if kind in ("conv", "nin_block"):
        (width,) = words.take(["width"], 1, MAX_WIDTH)
        return (kind, width, *words.window(1))
    if kind in ("maxpool", "avgpool"):
        words.take([], 0, 0)
        return (kind, *words.window(None))
    if kind == "dropout":
        words.only(())
        if len(words.numbers) != 1:
            raise _Why(f"dropout takes one rate from 0 up to 1, got «{' '.join(words.numbers)}»")
        rate = words.numbers[0]
        # As Rust reads an f32: ASCII only, rounded to f32 before the range is checked (0.99999999
        # is 1 as an f32, -1e-50 is -0).
        value = float(rate) if DECIMAL.fullmatch(rate) else math.nan
        value = float(np.float32(value)) if abs(value) < 2 else value
        if not 0.0 <= value < 1.0:
            raise _Why(f"dropout's rate «{rate}» is not a number from 0 up to (not including) 1")
        return (kind, value)
    if kind == "linear":
        words.only(())
        return (kind, *words.take(["width"], 1, MAX_WIDTH))
    if kind == "vgg_block":
        words.only(())
        convs, width = words.take(["convs", "width"], 1, MAX_WIDTH)
        if convs > MAX_VGG_CONVS:
            raise _Why(f"vgg_block takes at most {MAX_VGG_CONVS} convolutions, got {convs}")
        return (kind, convs, width)
    if kind == "inception":
        words.only(())
        return (kind, *words.take(["c1", "(c2_1,", "c2_2)", "(c3_1,", "c3_2)", "c4"], 1, MAX_WIDTH))
    if kind in ("relu", "flatten", "global_avg_pool"):
        words.only(())
        words.take([], 0, 0)
        return (kind,)
    raise _Why(f"unknown module «{kind}»: use {MODULES}")


# --- Shapes, checked as cnnscope checks them (src/net/layer.rs, src/ops): an image is (c, h, w),
# flat features an int. A layer is (kind, ...): ("conv", cin, cout, k, s, p), ("maxpool" or
# "avgpool", k, s, p), ("global_avg_pool",), ("relu",), ("dropout", rate), ("flatten",),
# ("linear", in, out), ("inception", cin, c1, c2a, c2b, c3a, c3b, c4), or ("seq", [(name, layer,
# line, module)]) for a group, vgg_block or nin_block (`module` the design's, None inside a block).

def _elements(shape):
    return shape if isinstance(shape, int) else shape[0] * shape[1] * shape[2]


def _dims(shape):
    return [shape] if isinstance(shape, int) else list(shape)


def _shown(shape):
    return "×".join(map(str, _dims(shape)))


def _image(shape):
    if isinstance(shape, int):
        raise _Why(f"needs an image input, got {shape} flat features")
    return shape


def output_shape(layer, shape):
    """`layer`'s output for an input of `shape`, or why it cannot take it (cnnscope's words)."""
    kind = layer[0]
    if kind == "conv":
        _, cin, cout, k, s, p = layer
        c, h, w = _image(shape)
        if c != cin:
            raise _Why(f"expects {cin} input channels, got {c}")
        ph, pw = h + 2 * p, w + 2 * p
        if k > ph or k > pw:
            raise _Why(f"kernel {k}×{k} is larger than the padded input {ph}×{pw} ({h}×{w} plus padding {p})")
        return cout, (ph - k) // s + 1, (pw - k) // s + 1
    if kind in ("maxpool", "avgpool"):
        _, k, s, p = layer
        c, h, w = _image(shape)
        if 2 * p > k:
            raise _Why(f"padding {p} must be at most half the kernel {k}×{k}")
        if k > h + 2 * p or k > w + 2 * p:
            raise _Why(f"window {k}×{k} is larger than the padded input {h + 2 * p}×{w + 2 * p} ({h}×{w} plus padding {p})")
        return c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if kind == "global_avg_pool":
        return _image(shape)[0], 1, 1
    if kind in ("relu", "dropout"):
        return shape
    if kind == "flatten":
        return _elements(shape)
    if kind == "linear":
        if _elements(shape) != layer[1]:
            raise _Why(f"expects {layer[1]} input features, got {_shown(shape)}")
        return layer[2]
    if kind == "inception":
        _, cin, c1, c2a, c2b, c3a, c3b, c4 = layer
        c, h, w = _image(shape)
        if c != cin:
            raise _Why(f"expects {cin} input channels, got {c}")
        return c1 + c2b + c3b + c4, h, w
    for _, child, _, _ in layer[1]:
        shape = output_shape(child, shape)
    return shape


def parameter_shapes(layer):
    """The shapes of `layer`'s parameter tensors, in state_dict order."""
    kind = layer[0]
    if kind == "conv":
        _, cin, cout, k, _, _ = layer
        return [[cout, cin, k, k], [cout]]
    if kind == "linear":
        return [[layer[2], layer[1]], [layer[2]]]
    if kind == "inception":
        _, cin, c1, c2a, c2b, c3a, c3b, c4 = layer
        convs = [(cin, c1, 1), (cin, c2a, 1), (c2a, c2b, 3), (cin, c3a, 1), (c3a, c3b, 5), (cin, c4, 1)]
        return [s for i, o, k in convs for s in ([o, i, k, k], [o])]
    if kind == "seq":
        return [s for _, child, _, _ in layer[1] for s in parameter_shapes(child)]
    return []


def _fits(layer, shape):
    """`layer`'s output, refused if it or any of its parameter tensors would hold more than
    MAX_VALUES values (design.rs `fits`)."""
    def too_many(what, dims):
        if math.prod(dims) > MAX_VALUES:
            raise _Why(f"{what} of {'×'.join(map(str, dims))} values is more than the 2^28 one module may hold")

    output = output_shape(layer, shape)
    too_many("its output", _dims(output))
    if layer[0] == "inception":
        # Inception's inner paths hold tensors of their own: the 1×1 reductions' outputs.
        _, h, w = shape
        too_many("its path 2's 1×1 output", [layer[3], h, w])
        too_many("its path 3's 1×1 output", [layer[5], h, w])
    for dims in parameter_shapes(layer):
        too_many("its weight", dims)
    return output


def _last_width_line(items):
    """The line of the last module with a width: it makes the class scores, so it keeps its width."""
    for item in reversed(items):
        if item.module[0] == "{":
            found = _last_width_line(item.module[1])
            if found is not None:
                return found
        elif item.module[0] not in ("maxpool", "avgpool", "global_avg_pool", "relu", "dropout", "flatten"):
            return item.line
    return None


def _leaf(module, shape, width):
    """The layer `module` makes for an input of `shape`."""
    kind = module[0]

    def channels():
        if isinstance(shape, int):
            raise _Why(f"{kind}: needs an image input, but {shape} flat features reach it")
        return shape[0]

    if kind == "conv":
        return ("conv", channels(), width(module[1]), *module[2:])
    if kind == "linear":
        return ("linear", _elements(shape), width(module[1]))
    if kind == "vgg_block":
        _, convs, out = module
        cin, cout = channels(), width(out)
        layers = []
        for j in range(convs):
            layers += [("conv", cin if j == 0 else cout, cout, 3, 1, 1), ("relu",)]
        return ("seq", [(str(i), l, None, None) for i, l in enumerate(layers + [("maxpool", 2, 2, 0)])])
    if kind == "nin_block":
        _, out, k, s, p = module
        cin, cout = channels(), width(out)
        layers = [("conv", cin, cout, k, s, p), ("relu",), ("conv", cout, cout, 1, 1, 0), ("relu",), ("conv", cout, cout, 1, 1, 0), ("relu",)]
        return ("seq", [(str(i), l, None, None) for i, l in enumerate(layers)])
    if kind == "inception":
        return ("inception", channels(), *map(width, module[1:]))
    return module


def plan(items, ratio, side):
    """The layer tree for a 1-channel side × side input, every width divided by `ratio` but the
    last one written, checked as cnnscope checks it (design.rs `Design::build`): each module fits
    what reaches it, none holds more than MAX_VALUES values, and the network ends in the 10 class
    scores. DesignError at the first line that does not."""
    scores = _last_width_line(items)
    shape = (1, side, side)

    def group(items):
        nonlocal shape
        children = []
        for place, item in enumerate(items):
            name = item.name if item.name is not None else str(place)
            if any(n == name for n, _, _, _ in children):
                raise DesignError(item.line, f"this group already has a module named {name}")
            if item.module[0] == "{":
                layer = group(item.module[1])
            else:
                width = (lambda c: c) if item.line == scores else (lambda c: max(1, c // ratio))
                try:
                    layer = _leaf(item.module, shape, width)
                except _Why as e:
                    raise DesignError(item.line, str(e)) from None
                try:
                    shape = _fits(layer, shape)
                except _Why as e:
                    raise DesignError(item.line, f"{item.module[0]}: {e}") from None
            children.append((name, layer, item.line, item.module))
        return ("seq", children)

    root = group(items)
    if shape != CLASSES:
        flatten = ": add flatten" if shape == (CLASSES, 1, 1) else ""
        raise DesignError(items[-1].line, f"the network must end in the {CLASSES} class scores; it ends in {_shown(shape)}{flatten}")
    return root


def minimum_side(items, ratio):
    """The smallest input side the design builds at, or None (src/net/zoo.rs)."""
    for side in range(1, MAX_SIDE + 1):
        try:
            plan(items, ratio, side)
            return side
        except DesignError:
            pass
    return None


def check(text, ratio=1, side=28):
    """The checked layer tree of `text` at this ratio and side, as cnnscope's `Net::new` checks an
    own network: DesignError (one line, cnnscope's words) for anything cnnscope refuses."""
    check_scale("Own network", ratio, side)
    items = parse(text)
    try:
        return plan(items, ratio, side)
    except DesignError as e:
        least = minimum_side(items, ratio)
        if least is not None and least > side:
            raise DesignError(e.line, f"{e.detail} (this design needs an input side of at least {least})") from None
        raise


def _module(layer, module):
    """The PyTorch module of a checked layer; `module` is the design's (d2l's blocks by name)."""
    kind = layer[0]
    if kind == "seq":
        return _sequential(layer[1])
    if kind == "conv":
        return nn.Conv2d(*layer[1:])
    if kind == "maxpool":
        return nn.MaxPool2d(*layer[1:])
    if kind == "avgpool":
        return nn.AvgPool2d(*layer[1:])
    if kind == "global_avg_pool":
        return GlobalAvgPool2d()
    if kind == "relu":
        return nn.ReLU()
    if kind == "dropout":
        return nn.Dropout(layer[1])
    if kind == "flatten":
        return FlattenLayer()
    if kind == "linear":
        return nn.Linear(layer[1], layer[2])
    _, cin, c1, c2a, c2b, c3a, c3b, c4 = layer
    return Inception(cin, c1, (c2a, c2b), (c3a, c3b), c4)


def _sequential(children):
    out = Design()
    for name, layer, line, module in children:
        if module is not None and module[0] == "vgg_block":
            child = vgg_block(module[1], layer[1][0][1][1], layer[1][0][1][2])
        elif module is not None and module[0] == "nin_block":
            _, cin, cout, k, s, p = layer[1][0][1]
            child = nin_block(cin, cout, k, s, p)
        else:
            child = _module(layer, module)
        try:
            out.add_module(name, child)
        except KeyError:
            # cnnscope takes any name of letters, digits and _; PyTorch refuses the names of
            # nn.Module's own attributes (forward, training, ...).
            raise DesignError(line, f"{name}: PyTorch cannot name a module {name} (nn.Module has an attribute of that name): "
                                    "name it otherwise") from None
    return out


def build(text, ratio=1, side=28):
    """The design as a PyTorch module (d2l's blocks, state_dict keys as cnnscope names its weights),
    or DesignError for anything cnnscope refuses, checked before any tensor is made."""
    return _sequential(check(text, ratio, side)[1])
