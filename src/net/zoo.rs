//! The four networks of d2l's chapter 5, built as PyTorch builds them, with the two scaling knobs:
//! width ratio (every channel count c becomes max(1, c / ratio), except the 1 input channel and the
//! 10 classes) and input side (images are resized to it; each layer takes the previous layer's real
//! output, so the first linear layer's width follows the side).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::engine::error::{EngineError, Result};
use crate::net::design::Design;
use crate::net::layer::{CLASSES, Inception, Layer, MAX_RATIO, MAX_SIDE, Shape};
use crate::ops::{Conv2d, Pool2d};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    AlexNet,
    Vgg11,
    Nin,
    GoogLeNet,
    /// The user's own network, in [`crate::net::design`]'s text format.
    Own(Arc<str>),
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::AlexNet, Arch::Vgg11, Arch::Nin, Arch::GoogLeNet];

    /// The net written in [`crate::net::design`]'s format, as d2l's PyTorch code builds it
    /// (`presets/*.net`); an own network has none.
    pub fn preset(&self) -> Option<&'static str> {
        Some(match self {
            Arch::AlexNet => include_str!("presets/alexnet.net"),
            Arch::Vgg11 => include_str!("presets/vgg11.net"),
            Arch::Nin => include_str!("presets/nin.net"),
            Arch::GoogLeNet => include_str!("presets/googlenet.net"),
            Arch::Own(_) => return None,
        })
    }

    /// The side the original network was designed for (an own network: Fashion-MNIST's).
    pub fn native_side(&self) -> usize {
        match self {
            Arch::GoogLeNet => 96,
            Arch::Own(_) => 28,
            _ => 224,
        }
    }

    /// The short name used on the command line and in file names.
    pub fn id(&self) -> &'static str {
        match self {
            Arch::AlexNet => "alexnet",
            Arch::Vgg11 => "vgg11",
            Arch::Nin => "nin",
            Arch::GoogLeNet => "googlenet",
            Arch::Own(_) => "own",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::AlexNet => "AlexNet",
            Arch::Vgg11 => "VGG-11",
            Arch::Nin => "NiN",
            Arch::GoogLeNet => "GoogLeNet",
            Arch::Own(_) => "Own network",
        })
    }
}

impl FromStr for Arch {
    type Err = String;

    /// One of the four by name (an own network is read from its text, not named).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let key: String = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        Arch::ALL
            .into_iter()
            .find(|a| a.id() == key || (key == "vgg" && *a == Arch::Vgg11))
            .ok_or_else(|| format!("unknown network {s:?}: choose alexnet, vgg11, nin or googlenet"))
    }
}

/// Which network at which scale: everything else is derived from this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    pub arch: Arch,
    /// Width divisor (1 = the paper's widths).
    pub ratio: usize,
    /// Input images are resized to side × side.
    pub side: usize,
    /// AlexNet only: keep the paper's second 4096-wide hidden layer (the seed's code drops it).
    pub second_hidden: bool,
}

impl NetConfig {
    /// `arch` at `ratio` and its native side.
    pub fn new(arch: Arch, ratio: usize) -> Self {
        NetConfig { side: arch.native_side(), arch, ratio, second_hidden: true }
    }

    pub fn with_side(self, side: usize) -> Self {
        NetConfig { side, ..self }
    }
}

/// A network description: its configuration and PyTorch-shaped module tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    pub config: NetConfig,
    pub root: Layer,
}

impl Net {
    /// Builds the description, checking that the side can pass through every layer.
    pub fn new(config: NetConfig) -> Result<Net> {
        let name = config.arch.to_string();
        if !(1..=MAX_RATIO).contains(&config.ratio) {
            return Err(EngineError::shape(
                name,
                format!("the width ratio must be 1 to {MAX_RATIO} (÷{MAX_RATIO} already leaves one channel per layer), got {}", config.ratio),
            ));
        }
        if !(1..=MAX_SIDE).contains(&config.side) {
            return Err(EngineError::shape(
                name,
                format!(
                    "the input side must be 1 to {MAX_SIDE} (Fashion-MNIST's images are 28×28; the papers use 224), got {}",
                    config.side
                ),
            ));
        }
        if let Arch::Own(text) = &config.arch {
            let design: Design = text.parse()?;
            let root = design.build(config.ratio, config.side).map_err(|e| match (e, design_minimum_side(&design, config.ratio)) {
                (EngineError::Design { line, detail }, Some(min)) if min > config.side => {
                    EngineError::Design { line, detail: format!("{detail} (this design needs an input side of at least {min})") }
                }
                (e, _) => e,
            })?;
            return Ok(Net { config, root });
        }
        let root = build(&config, config.side);
        if root.output_shape(Shape::Image { c: 1, h: config.side, w: config.side }).is_err() {
            let min = minimum_side(&config);
            return Err(EngineError::shape(config.arch.to_string(), format!("needs an input side of at least {min}, got {}", config.side)));
        }
        Ok(Net { config, root })
    }

    /// One example's input: a single grey channel of side × side.
    pub fn input_shape(&self) -> Shape {
        Shape::Image { c: 1, h: self.config.side, w: self.config.side }
    }

    /// The top-level blocks, named as `named_children()` names them.
    pub fn blocks(&self) -> &[(String, Layer)] {
        match &self.root {
            Layer::Sequential(children) => children,
            _ => unreachable!("every network is a Sequential"),
        }
    }
}

/// The smallest side every layer admits (none of the four needs more than a few hundred;
/// `usize::MAX` for an own network that no side fits, or that does not parse).
pub fn minimum_side(config: &NetConfig) -> usize {
    if let Arch::Own(text) = &config.arch {
        return text.parse().ok().and_then(|design| design_minimum_side(&design, config.ratio)).unwrap_or(usize::MAX);
    }
    (1..=MAX_SIDE)
        .find(|&side| build(config, side).output_shape(Shape::Image { c: 1, h: side, w: side }).is_ok())
        .unwrap_or(usize::MAX)
}

fn design_minimum_side(design: &Design, ratio: usize) -> Option<usize> {
    (1..=MAX_SIDE).find(|&side| design.build(ratio, side).is_ok())
}

/// One of the four nets' module trees at `side` (the side decides only the first linear layer's
/// width): d2l's PyTorch code transcribed, the reference its presets in the design format are
/// checked against.
fn build(config: &NetConfig, side: usize) -> Layer {
    let w = |c: usize| (c / config.ratio).max(1);
    match config.arch {
        Arch::AlexNet => alexnet(w, side, config.second_hidden),
        Arch::Vgg11 => vgg11(w, side),
        Arch::Nin => nin(w),
        Arch::GoogLeNet => googlenet(w),
        Arch::Own(_) => unreachable!("Net::new builds an own network from its design"),
    }
}

fn conv(cin: usize, cout: usize, kernel: usize, stride: usize, padding: usize) -> Layer {
    Layer::Conv(Conv2d { in_channels: cin, out_channels: cout, kernel, stride, padding, relu: false })
}

fn maxpool(kernel: usize, stride: usize, padding: usize) -> Layer {
    Layer::Pool(Pool2d::max(kernel, stride, padding))
}

fn linear(in_features: usize, out_features: usize) -> Layer {
    Layer::Linear { in_features, out_features }
}

/// Children named "0", "1", … as `nn.Sequential(*layers)` names them.
fn numbered(layers: Vec<Layer>) -> Layer {
    Layer::Sequential(layers.into_iter().enumerate().map(|(i, l)| (i.to_string(), l)).collect())
}

/// Features leaving `layers` for a 1-channel side × side input (0 if the side does not fit).
fn flat_features(layers: &Layer, side: usize) -> usize {
    layers.output_shape(Shape::Image { c: 1, h: side, w: side }).map(|s| s.elements()).unwrap_or(0)
}

fn alexnet(w: impl Fn(usize) -> usize, side: usize, second_hidden: bool) -> Layer {
    let conv_part = numbered(vec![
        conv(1, w(96), 11, 4, 0),
        Layer::Relu,
        maxpool(3, 2, 0),
        conv(w(96), w(256), 5, 1, 2),
        Layer::Relu,
        maxpool(3, 2, 0),
        conv(w(256), w(384), 3, 1, 1),
        Layer::Relu,
        conv(w(384), w(384), 3, 1, 1),
        Layer::Relu,
        conv(w(384), w(256), 3, 1, 1),
        Layer::Relu,
        maxpool(3, 2, 0),
    ]);
    let features = flat_features(&conv_part, side);
    let mut fc = vec![linear(features, w(4096)), Layer::Relu, Layer::Dropout(0.5)];
    if second_hidden {
        fc.extend([linear(w(4096), w(4096)), Layer::Relu, Layer::Dropout(0.5)]);
    }
    fc.push(linear(w(4096), CLASSES));
    // AlexNet's forward flattens between its two Sequentials (`feature.view(batch, -1)`), not a
    // module: the first linear layer takes the image as it is.
    Layer::Sequential(vec![("conv".into(), conv_part), ("fc".into(), numbered(fc))])
}

fn vgg11(w: impl Fn(usize) -> usize, side: usize) -> Layer {
    let arch = [(1, 1, w(64)), (1, w(64), w(128)), (2, w(128), w(256)), (2, w(256), w(512)), (2, w(512), w(512))];
    let mut blocks: Vec<(String, Layer)> = arch
        .iter()
        .enumerate()
        .map(|(i, &(convs, cin, cout))| {
            let mut layers = Vec::new();
            for j in 0..convs {
                layers.extend([conv(if j == 0 { cin } else { cout }, cout, 3, 1, 1), Layer::Relu]);
            }
            layers.push(maxpool(2, 2, 0));
            (format!("vgg_block_{}", i + 1), numbered(layers))
        })
        .collect();
    let features = flat_features(&Layer::Sequential(blocks.clone()), side);
    let hidden = w(4096);
    let fc = numbered(vec![
        Layer::Flatten,
        linear(features, hidden),
        Layer::Relu,
        Layer::Dropout(0.5),
        linear(hidden, hidden),
        Layer::Relu,
        Layer::Dropout(0.5),
        linear(hidden, CLASSES),
    ]);
    blocks.push(("fc".into(), fc));
    Layer::Sequential(blocks)
}

fn nin(w: impl Fn(usize) -> usize) -> Layer {
    let block = |cin, cout, kernel, stride, padding| {
        numbered(vec![
            conv(cin, cout, kernel, stride, padding),
            Layer::Relu,
            conv(cout, cout, 1, 1, 0),
            Layer::Relu,
            conv(cout, cout, 1, 1, 0),
            Layer::Relu,
        ])
    };
    numbered(vec![
        block(1, w(96), 11, 4, 0),
        maxpool(3, 2, 0),
        block(w(96), w(256), 5, 1, 2),
        maxpool(3, 2, 0),
        block(w(256), w(384), 3, 1, 1),
        maxpool(3, 2, 0),
        Layer::Dropout(0.5),
        // The last block maps straight to the classes: its width is not scaled.
        block(w(384), CLASSES, 3, 1, 1),
        Layer::GlobalAvgPool,
        Layer::Flatten,
    ])
}

fn googlenet(w: impl Fn(usize) -> usize) -> Layer {
    let inception = |cin: usize, c1, c2: (usize, usize), c3: (usize, usize), c4| {
        let block = Inception { in_channels: cin, c1: w(c1), c2: (w(c2.0), w(c2.1)), c3: (w(c3.0), w(c3.1)), c4: w(c4) };
        (block.out_channels(), Layer::Inception(block))
    };
    let b1 = numbered(vec![conv(1, w(64), 7, 2, 3), Layer::Relu, maxpool(3, 2, 1)]);
    let b2 = numbered(vec![conv(w(64), w(64), 1, 1, 0), Layer::Relu, conv(w(64), w(192), 3, 1, 1), Layer::Relu, maxpool(3, 2, 1)]);
    // Each block's input width is the previous block's real output.
    let mut c = w(192);
    let mut stage = |specs: &[(usize, (usize, usize), (usize, usize), usize)], tail: Layer| {
        let mut layers = Vec::new();
        for &(c1, c2, c3, c4) in specs {
            let (out, layer) = inception(c, c1, c2, c3, c4);
            layers.push(layer);
            c = out;
        }
        layers.push(tail);
        numbered(layers)
    };
    let b3 = stage(&[(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)], maxpool(3, 2, 1));
    let b4 = stage(
        &[
            (192, (96, 208), (16, 48), 64),
            (160, (112, 224), (24, 64), 64),
            (128, (128, 256), (24, 64), 64),
            (112, (144, 288), (32, 64), 64),
            (256, (160, 320), (32, 128), 128),
        ],
        maxpool(3, 2, 1),
    );
    let b5 = stage(&[(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)], Layer::GlobalAvgPool);
    numbered(vec![b1, b2, b3, b4, b5, Layer::Flatten, linear(c, CLASSES)])
}
