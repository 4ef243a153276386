//! Your own network: a small text format for a sequence of the engine's blocks, one module per
//! line as `print(net)` lists them, and the four nets written in it (`presets/*.net`, proven equal
//! to [`crate::net::zoo`]'s trees by `tests/nets.rs`).
//!
//! ```text
//! # comments run to the end of the line
//! conv 96 k=11 s=4        # nn.Conv2d(in, 96, kernel_size=11, stride=4): `in` is what reaches it
//! relu
//! maxpool k=3 s=2         # nn.MaxPool2d(3, 2); avgpool alike; the stride defaults to the kernel
//! fc: {                   # a named nn.Sequential; `{` alone opens one numbered by its place
//!   linear 4096           # nn.Linear(in, 4096): `in` is whatever reaches it, flattened
//!   dropout 0.5
//!   linear 10
//! }
//! ```
//!
//! Modules are numbered by their place in their group, as `nn.Sequential` numbers them, unless a
//! `name:` prefix names them; the names make the weights file's keys (`fc.2.weight`). Every width
//! is divided by the width ratio (at least 1 channel), except the last one written, which makes
//! the 10 class scores. docs/APP.md has the whole grammar.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::engine::error::{EngineError, Result};
use crate::net::layer::{Inception, Layer, Shape};
use crate::net::layer::{CLASSES, MAX_RATIO, MAX_SIDE};
use crate::ops::{Conv2d, Pool2d, PoolKind};

/// The widest module: as wide as the widest layer of the four nets.
pub const MAX_WIDTH: usize = MAX_RATIO;
/// Lines with a module, and groups within groups: far beyond GoogLeNet's 60 and 3.
pub const MAX_MODULES: usize = 1000;
pub const MAX_DEPTH: usize = 8;
/// Values in one example's activation or in one parameter tensor (1 GiB of f32): keeps every size
/// inside 32-bit arithmetic (wasm32's usize); the fit check then decides what the adapter takes.
pub const MAX_VALUES: u64 = 1 << 28;
/// Characters of a design (GoogLeNet's preset has about 1,500).
pub const MAX_CHARS: usize = 64 * 1024;

/// A parsed design: modules and groups, widths as written (before the width ratio).
#[derive(Clone, Debug, PartialEq)]
pub struct Design {
    items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
struct Item {
    line: usize,
    name: Option<String>,
    module: Module,
}

#[derive(Clone, Debug, PartialEq)]
enum Module {
    Conv { width: usize, kernel: usize, stride: usize, padding: usize },
    Pool(Pool2d),
    GlobalAvgPool,
    Relu,
    Dropout(f32),
    Flatten,
    Linear { width: usize },
    /// d2l's `vgg_block(num_convs, in, out)`: convs × (3×3 conv, ReLU), then a 2×2 max pool.
    VggBlock { convs: usize, width: usize },
    /// d2l's `nin_block(in, out, kernel, stride, padding)`: the conv, then two 1×1 convs, each
    /// followed by ReLU.
    NinBlock { width: usize, kernel: usize, stride: usize, padding: usize },
    Inception { c1: usize, c2: (usize, usize), c3: (usize, usize), c4: usize },
    Group(Vec<Item>),
}

impl Module {
    /// The word that writes it.
    fn keyword(&self) -> &'static str {
        match self {
            Module::Conv { .. } => "conv",
            Module::Pool(pool) if pool.kind == PoolKind::Max => "maxpool",
            Module::Pool(_) => "avgpool",
            Module::GlobalAvgPool => "global_avg_pool",
            Module::Relu => "relu",
            Module::Dropout(_) => "dropout",
            Module::Flatten => "flatten",
            Module::Linear { .. } => "linear",
            Module::VggBlock { .. } => "vgg_block",
            Module::NinBlock { .. } => "nin_block",
            Module::Inception { .. } => "inception",
            Module::Group(_) => "{",
        }
    }
}

/// An error at a line of the design.
fn at(line: usize, detail: impl Into<String>) -> EngineError {
    EngineError::Design { line, detail: detail.into() }
}

const MODULES: &str = "conv, maxpool, avgpool, global_avg_pool, relu, dropout, flatten, linear, vgg_block, nin_block or inception";

impl std::str::FromStr for Design {
    type Err = EngineError;

    /// Reads a design, or says at which line and why not.
    fn from_str(text: &str) -> Result<Design> {
        if text.len() > MAX_CHARS {
            return Err(at(1, format!("the design has {} characters; at most {MAX_CHARS} are read", text.len())));
        }
        // The groups open at this point: the line that opened each, its name and its modules.
        let mut open: Vec<(usize, Option<String>, Vec<Item>)> = vec![(0, None, Vec::new())];
        let mut modules = 0;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let code = raw.split('#').next().unwrap_or_default().trim();
            if code.is_empty() {
                continue;
            }
            if code == "}" {
                let closed = if open.len() > 1 { open.pop() } else { None };
                let Some((opened, name, items)) = closed else {
                    return Err(at(line, "this } closes no group"));
                };
                if items.is_empty() {
                    return Err(at(opened, "this group is empty: put at least one module between { and }"));
                }
                push(&mut open, Item { line: opened, name, module: Module::Group(items) });
                continue;
            }
            let (name, rest) = split_name(code).map_err(|e| at(line, e))?;
            modules += 1;
            if modules > MAX_MODULES {
                return Err(at(line, format!("a design has at most {MAX_MODULES} modules and groups")));
            }
            if rest == "{" {
                if open.len() > MAX_DEPTH {
                    return Err(at(line, format!("groups nest at most {MAX_DEPTH} deep")));
                }
                open.push((line, name, Vec::new()));
                continue;
            }
            let module = parse_module(rest).map_err(|e| at(line, e))?;
            push(&mut open, Item { line, name, module });
        }
        if open.len() > 1 {
            let opened = open.last().map_or(0, |g| g.0);
            return Err(at(opened, "this { is never closed: end the group with a line holding }"));
        }
        let items = open.pop().map(|g| g.2).unwrap_or_default();
        if items.is_empty() {
            return Err(at(1, format!("the design has no modules: write one per line ({MODULES})")));
        }
        Ok(Design { items })
    }
}

fn push(open: &mut [(usize, Option<String>, Vec<Item>)], item: Item) {
    if let Some(group) = open.last_mut() {
        group.2.push(item);
    }
}

/// `name: rest` → (Some(name), rest); a line without a name → (None, line).
fn split_name(code: &str) -> std::result::Result<(Option<String>, &str), String> {
    let Some((head, rest)) = code.split_once(':') else {
        return Ok((None, code));
    };
    let head = head.trim();
    if head.is_empty() || !head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("«{head}» cannot name a module: use letters, digits and _ (the name goes into weight keys like {head}.weight)"));
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(format!("{head}: names nothing: write a module or {{ after the colon"));
    }
    Ok((Some(head.to_string()), rest))
}

/// A module line's words: its kind, its numbers in order and its `key=value` options.
struct Words<'a> {
    kind: &'a str,
    numbers: Vec<&'a str>,
    options: Vec<(&'a str, &'a str)>,
}

impl<'a> Words<'a> {
    fn new(code: &'a str) -> Words<'a> {
        // Inception's widths may be written as d2l writes them, `(96, 128)`.
        let mut words = code.split(|c: char| c.is_whitespace() || "(),".contains(c)).filter(|w| !w.is_empty());
        let kind = words.next().unwrap_or_default();
        let (mut numbers, mut options) = (Vec::new(), Vec::new());
        for w in words {
            match w.split_once('=') {
                Some(kv) => options.push(kv),
                None => numbers.push(w),
            }
        }
        Words { kind, numbers, options }
    }

    /// Exactly `names.len()` numbers, each a whole number in `range`.
    fn numbers<const N: usize>(&self, names: [&str; N], range: std::ops::RangeInclusive<usize>) -> std::result::Result<[usize; N], String> {
        if self.numbers.len() != N {
            let wanted = if N == 0 { "no numbers".to_string() } else { names.join(" ") };
            return Err(format!("{} takes {wanted}, got «{}»", self.kind, self.numbers.join(" ")));
        }
        let mut out = [0; N];
        for ((slot, text), name) in out.iter_mut().zip(&self.numbers).zip(names) {
            *slot = whole(name, text, &range)?;
        }
        Ok(out)
    }

    /// The option written as one of `keys` (`k` or `kernel_size`), or `default`.
    fn option(&self, keys: [&str; 2], range: std::ops::RangeInclusive<usize>, default: Option<usize>) -> std::result::Result<usize, String> {
        match self.options.iter().find(|(k, _)| keys.contains(k)) {
            Some((k, v)) => whole(k, v, &range),
            None => default.ok_or_else(|| format!("{} needs {}=…", self.kind, keys[0])),
        }
    }

    /// Refuses options other than `known`.
    fn only(&self, known: &[&str]) -> std::result::Result<(), String> {
        match self.options.iter().find(|(k, _)| !known.contains(k)) {
            Some((k, _)) if known.is_empty() => Err(format!("{} takes no options, got {k}=", self.kind)),
            Some((k, _)) => Err(format!("{} has no option {k}=: it takes {}", self.kind, known.iter().map(|k| format!("{k}=")).collect::<Vec<_>>().join(", "))),
            None => Ok(()),
        }
    }
}

fn whole(name: &str, text: &str, range: &std::ops::RangeInclusive<usize>) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("{name} = «{text}» is not a whole number from {} to {}", range.start(), range.end())),
    }
}

const WINDOW: [&str; 6] = ["k", "kernel_size", "s", "stride", "p", "padding"];

/// A window's kernel, stride (default `stride`, or the kernel) and padding.
fn window(words: &Words, stride: Option<usize>) -> std::result::Result<(usize, usize, usize), String> {
    words.only(&WINDOW)?;
    let kernel = words.option(["k", "kernel_size"], 1..=MAX_SIDE, None)?;
    let stride = words.option(["s", "stride"], 1..=MAX_SIDE, Some(stride.unwrap_or(kernel)))?;
    let padding = words.option(["p", "padding"], 0..=MAX_SIDE, Some(0))?;
    Ok((kernel, stride, padding))
}

fn parse_module(code: &str) -> std::result::Result<Module, String> {
    let words = Words::new(code);
    let widths = 1..=MAX_WIDTH;
    Ok(match words.kind {
        "conv" => {
            let [width] = words.numbers(["width"], widths)?;
            let (kernel, stride, padding) = window(&words, Some(1))?;
            Module::Conv { width, kernel, stride, padding }
        }
        "maxpool" | "avgpool" => {
            words.numbers([], 0..=0)?;
            let (kernel, stride, padding) = window(&words, None)?;
            let kind = if words.kind == "maxpool" { PoolKind::Max } else { PoolKind::Average };
            Module::Pool(Pool2d { kind, kernel_h: kernel, kernel_w: kernel, stride, padding })
        }
        "nin_block" => {
            let [width] = words.numbers(["width"], widths)?;
            let (kernel, stride, padding) = window(&words, Some(1))?;
            Module::NinBlock { width, kernel, stride, padding }
        }
        "dropout" => {
            words.only(&[])?;
            let [rate] = words.numbers.as_slice() else {
                return Err(format!("dropout takes one rate from 0 up to 1, got «{}»", words.numbers.join(" ")));
            };
            match rate.parse::<f32>() {
                Ok(p) if (0.0..1.0).contains(&p) => Module::Dropout(p),
                _ => return Err(format!("dropout's rate «{rate}» is not a number from 0 up to (not including) 1")),
            }
        }
        "linear" => {
            words.only(&[])?;
            let [width] = words.numbers(["width"], widths)?;
            Module::Linear { width }
        }
        "vgg_block" => {
            words.only(&[])?;
            let [convs, width] = words.numbers(["convs", "width"], 1..=MAX_WIDTH)?;
            if convs > 16 {
                return Err(format!("vgg_block takes at most 16 convolutions, got {convs}"));
            }
            Module::VggBlock { convs, width }
        }
        "inception" => {
            words.only(&[])?;
            let [c1, c2a, c2b, c3a, c3b, c4] = words.numbers(["c1", "(c2_1,", "c2_2)", "(c3_1,", "c3_2)", "c4"], widths)?;
            Module::Inception { c1, c2: (c2a, c2b), c3: (c3a, c3b), c4 }
        }
        "relu" | "flatten" | "global_avg_pool" => {
            words.only(&[])?;
            words.numbers([], 0..=0)?;
            match words.kind {
                "relu" => Module::Relu,
                "flatten" => Module::Flatten,
                _ => Module::GlobalAvgPool,
            }
        }
        other => return Err(format!("unknown module «{other}»: use {MODULES}")),
    })
}

impl Design {
    /// The module tree for a 1-channel side × side input with every width divided by `ratio`
    /// (but the last), or the line where it stops fitting and why.
    pub fn build(&self, ratio: usize, side: usize) -> Result<Layer> {
        let (root, shape, mistake) = self.build_fitting(ratio, side);
        if let Some(e) = mistake {
            return Err(e);
        }
        if shape != Shape::Flat(CLASSES) {
            let last = self.items.last().map_or(1, |i| i.line);
            let flatten = if matches!(shape, Shape::Image { c: CLASSES, h: 1, w: 1 }) { ": add flatten" } else { "" };
            return Err(at(last, format!("the network must end in the {CLASSES} class scores; it ends in {shape}{flatten}")));
        }
        Ok(root)
    }

    /// The modules that fit, up to the first that does not, and why it does not: what the page's
    /// layer table shows while a design has a mistake.
    pub fn fitting(&self, ratio: usize, side: usize) -> (Layer, Option<EngineError>) {
        let (root, _, mistake) = self.build_fitting(ratio, side);
        (root, mistake)
    }

    fn build_fitting(&self, ratio: usize, side: usize) -> (Layer, Shape, Option<EngineError>) {
        let scores = last_width_line(&self.items).unwrap_or(0);
        let mut shape = Shape::Image { c: 1, h: side, w: side };
        let mut mistake = None;
        let root = group(&self.items, &Scale { ratio, scores }, &mut shape, &mut mistake);
        (root, shape, mistake)
    }
}

/// The line of the last module with a width, in order: it makes the class scores, so it is not
/// scaled.
fn last_width_line(items: &[Item]) -> Option<usize> {
    items.iter().rev().find_map(|item| match &item.module {
        Module::Group(inner) => last_width_line(inner),
        Module::Pool(_) | Module::GlobalAvgPool | Module::Relu | Module::Dropout(_) | Module::Flatten => None,
        _ => Some(item.line),
    })
}

struct Scale {
    ratio: usize,
    /// The line whose width is kept.
    scores: usize,
}

impl Scale {
    fn width(&self, line: usize, width: usize) -> usize {
        if line == self.scores { width } else { (width / self.ratio).max(1) }
    }
}

/// `items` as a Sequential, for an input of `shape` (updated to its output); at the first module
/// that does not fit, `mistake` says why and the group holds the modules before it.
fn group(items: &[Item], scale: &Scale, shape: &mut Shape, mistake: &mut Option<EngineError>) -> Layer {
    let mut children: Vec<(String, Layer)> = Vec::new();
    for (place, item) in items.iter().enumerate() {
        if mistake.is_some() {
            break;
        }
        let name = item.name.clone().unwrap_or_else(|| place.to_string());
        if children.iter().any(|(n, _)| *n == name) {
            *mistake = Some(at(item.line, format!("this group already has a module named {name}")));
            break;
        }
        let layer = match &item.module {
            Module::Group(inner) => group(inner, scale, shape, mistake),
            module => {
                let made = leaf(module, scale, item.line, *shape).and_then(|layer| {
                    let output = fits(&layer, *shape).map_err(|e| at(item.line, format!("{}: {e}", module.keyword())))?;
                    Ok((layer, output))
                });
                match made {
                    Ok((layer, output)) => {
                        *shape = output;
                        layer
                    }
                    Err(e) => {
                        *mistake = Some(e);
                        break;
                    }
                }
            }
        };
        children.push((name, layer));
    }
    Layer::Sequential(children)
}

/// The layer `module` makes for `input`.
fn leaf(module: &Module, scale: &Scale, line: usize, input: Shape) -> Result<Layer> {
    let w = |width: usize| scale.width(line, width);
    let channels = || match input {
        Shape::Image { c, .. } => Ok(c),
        Shape::Flat(n) => Err(at(line, format!("{}: needs an image input, but {n} flat features reach it", module.keyword()))),
    };
    let conv = |cin, cout, kernel, stride, padding| Layer::Conv(Conv2d { in_channels: cin, out_channels: cout, kernel, stride, padding, relu: false });
    let numbered = |layers: Vec<Layer>| Layer::Sequential(layers.into_iter().enumerate().map(|(i, l)| (i.to_string(), l)).collect());
    Ok(match *module {
        Module::Conv { width, kernel, stride, padding } => conv(channels()?, w(width), kernel, stride, padding),
        Module::Pool(pool) => Layer::Pool(pool),
        Module::GlobalAvgPool => Layer::GlobalAvgPool,
        Module::Relu => Layer::Relu,
        Module::Dropout(rate) => Layer::Dropout(rate),
        Module::Flatten => Layer::Flatten,
        Module::Linear { width } => Layer::Linear { in_features: input.elements(), out_features: w(width) },
        Module::VggBlock { convs, width } => {
            let (cin, cout) = (channels()?, w(width));
            let mut layers = Vec::new();
            for j in 0..convs {
                layers.extend([conv(if j == 0 { cin } else { cout }, cout, 3, 1, 1), Layer::Relu]);
            }
            layers.push(Layer::Pool(Pool2d::max(2, 2, 0)));
            numbered(layers)
        }
        Module::NinBlock { width, kernel, stride, padding } => {
            let (cin, cout) = (channels()?, w(width));
            numbered(vec![conv(cin, cout, kernel, stride, padding), Layer::Relu, conv(cout, cout, 1, 1, 0), Layer::Relu, conv(cout, cout, 1, 1, 0), Layer::Relu])
        }
        Module::Inception { c1, c2, c3, c4 } => {
            Layer::Inception(Inception { in_channels: channels()?, c1: w(c1), c2: (w(c2.0), w(c2.1)), c3: (w(c3.0), w(c3.1)), c4: w(c4) })
        }
        Module::Group(_) => unreachable!("groups are built by `group`"),
    })
}

/// `layer`'s output for `input`, refused if it or any of its parameter tensors would hold more
/// than [`MAX_VALUES`] values (counted in u64, before any usize product can wrap).
fn fits(layer: &Layer, input: Shape) -> std::result::Result<Shape, String> {
    let too_many = |what: &str, dims: &[usize]| {
        let values = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        match values {
            Some(v) if v <= MAX_VALUES => Ok(()),
            _ => Err(format!("{what} of {} values is more than the 2^28 one module may hold", dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×"))),
        }
    };
    // The input passed this check already, so `output_shape`'s products stay in range.
    let output = layer.output_shape(input).map_err(|e| match e {
        EngineError::InvalidShape { detail, .. } => detail,
        other => other.to_string(),
    })?;
    too_many("its output", &output.dims())?;
    // Inception's inner paths hold tensors of their own (docs/NETWORKS.md): the 1×1 reductions'
    // outputs before the 3×3 and 5×5 convolutions can be far larger than the block's output.
    if let (Layer::Inception(block), Shape::Image { h, w, .. }) = (layer, input) {
        too_many("its path 2's 1×1 output", &[block.c2.0, h, w])?;
        too_many("its path 3's 1×1 output", &[block.c3.0, h, w])?;
    }
    for spec in layer.params("") {
        too_many("its weight", &spec.shape)?;
    }
    Ok(output)
}
