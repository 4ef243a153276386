//! The layers a network description is made of, mirroring PyTorch's module tree so that names,
//! shapes and parameter counts line up with what `d2l` builds.

use crate::engine::error::{EngineError, Result};
use crate::ops::{Conv2d, Pool2d, PoolKind};

/// Fashion-MNIST's ten classes.
pub const CLASSES: usize = 10;

/// The widest divisor: the widest layer of the four nets has 4096 channels, so beyond it every
/// layer is one channel wide and a larger ratio changes nothing.
pub const MAX_RATIO: usize = 4096;

/// The largest input side. The papers use 224 (96 for GoogLeNet) and the images are 28×28; 1024
/// keeps every per-image size far inside 32-bit arithmetic (wasm32's usize): VGG-11's widest
/// activation at ÷1 is 64 × 1024² = 2^26 values.
pub const MAX_SIDE: usize = 1024;

/// The shape of one example as it flows through the network (the batch dimension is implicit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Channels × height × width.
    Image { c: usize, h: usize, w: usize },
    /// A flat vector of features.
    Flat(usize),
}

impl Shape {
    pub fn elements(&self) -> usize {
        match *self {
            Shape::Image { c, h, w } => c * h * w,
            Shape::Flat(n) => n,
        }
    }

    /// As PyTorch prints a tensor's shape, with the batch as `b`: `(b, 96, 54, 54)`.
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Image { c, h, w } => vec![c, h, w],
            Shape::Flat(n) => vec![n],
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Image { c, h, w } => write!(f, "{c}×{h}×{w}"),
            Shape::Flat(n) => write!(f, "{n}"),
        }
    }
}

/// GoogLeNet's Inception block: four paths over the same input, concatenated on channels in the
/// order 1×1 · 1×1→3×3 · 1×1→5×5 · 3×3 max pool→1×1, every convolution followed by ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inception {
    pub in_channels: usize,
    pub c1: usize,
    pub c2: (usize, usize),
    pub c3: (usize, usize),
    pub c4: usize,
}

impl Inception {
    pub fn out_channels(&self) -> usize {
        self.c1 + self.c2.1 + self.c3.1 + self.c4
    }

    /// The six convolutions with their PyTorch attribute names (`p4_1` is the max pool).
    pub fn convs(&self) -> [(&'static str, Conv2d); 6] {
        let conv = |cin, cout, kernel, padding| Conv2d { in_channels: cin, out_channels: cout, kernel, stride: 1, padding, relu: true };
        let cin = self.in_channels;
        [
            ("p1_1", conv(cin, self.c1, 1, 0)),
            ("p2_1", conv(cin, self.c2.0, 1, 0)),
            ("p2_2", conv(self.c2.0, self.c2.1, 3, 1)),
            ("p3_1", conv(cin, self.c3.0, 1, 0)),
            ("p3_2", conv(self.c3.0, self.c3.1, 5, 2)),
            ("p4_2", conv(cin, self.c4, 1, 0)),
        ]
    }

    /// The pool at the head of the fourth path.
    pub fn pool() -> Pool2d {
        Pool2d::max(3, 1, 1)
    }
}

/// One node of a network description. Containers hold named children exactly as the PyTorch
/// module tree does, so a parameter's name is the path of names down to it (`fc.3.weight`).
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// `nn.Conv2d`; its `relu` flag is false here, a following [`Layer::Relu`] is fused when the
    /// model is built.
    Conv(Conv2d),
    Relu,
    /// `nn.MaxPool2d` or `nn.AvgPool2d`, by the pool's kind.
    Pool(Pool2d),
    /// d2l's `GlobalAvgPool2d`: every channel averaged to 1×1.
    GlobalAvgPool,
    Dropout(f32),
    Flatten,
    /// `nn.Linear(in, out)`.
    Linear { in_features: usize, out_features: usize },
    Inception(Inception),
    Sequential(Vec<(String, Layer)>),
}

/// A parameter tensor's PyTorch name and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Layer {
    /// PyTorch's class name, as the summary shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv(_) => "Conv2d",
            Layer::Relu => "ReLU",
            Layer::Pool(pool) => match pool.kind {
                PoolKind::Max => "MaxPool2d",
                PoolKind::Average => "AvgPool2d",
            },
            Layer::GlobalAvgPool => "GlobalAvgPool2d",
            Layer::Dropout(_) => "Dropout",
            Layer::Flatten => "Flatten",
            Layer::Linear { .. } => "Linear",
            Layer::Inception(_) => "Inception",
            Layer::Sequential(_) => "Sequential",
        }
    }

    /// The output shape for an input of `input`, or why this layer cannot take it.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        let image = |what: &str| match input {
            Shape::Image { c, h, w } => Ok((c, h, w)),
            Shape::Flat(n) => Err(EngineError::shape(what, format!("needs an image input, got {n} flat features"))),
        };
        let check_channels = |what: &str, expected: usize, got: usize| {
            if expected != got {
                return Err(EngineError::shape(what, format!("expects {expected} input channels, got {got}")));
            }
            Ok(())
        };
        Ok(match self {
            Layer::Conv(conv) => {
                let (c, h, w) = image("Conv2d")?;
                check_channels("Conv2d", conv.in_channels, c)?;
                let (h, w) = conv.output_size(h, w)?;
                Shape::Image { c: conv.out_channels, h, w }
            }
            Layer::Pool(pool) => {
                let (c, h, w) = image(self.kind())?;
                let (h, w) = pool.output_size(h, w)?;
                Shape::Image { c, h, w }
            }
            Layer::GlobalAvgPool => {
                let (c, _, _) = image("GlobalAvgPool2d")?;
                Shape::Image { c, h: 1, w: 1 }
            }
            Layer::Relu | Layer::Dropout(_) => input,
            Layer::Flatten => Shape::Flat(input.elements()),
            Layer::Linear { in_features, out_features } => {
                if input.elements() != *in_features {
                    return Err(EngineError::shape("Linear", format!("expects {in_features} input features, got {input}")));
                }
                Shape::Flat(*out_features)
            }
            Layer::Inception(block) => {
                let (c, h, w) = image("Inception")?;
                check_channels("Inception", block.in_channels, c)?;
                Shape::Image { c: block.out_channels(), h, w }
            }
            Layer::Sequential(children) => {
                let mut shape = input;
                for (name, child) in children {
                    shape = child.output_shape(shape).map_err(|e| e.in_layer(name))?;
                }
                shape
            }
        })
    }

    /// This layer's parameters (its children's included), named below `prefix`.
    pub fn params(&self, prefix: &str) -> Vec<ParamSpec> {
        let join = |name: &str| if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
        let pair = |at: String, weight: Vec<usize>, bias: usize| {
            vec![ParamSpec { name: format!("{at}.weight"), shape: weight }, ParamSpec { name: format!("{at}.bias"), shape: vec![bias] }]
        };
        match self {
            Layer::Conv(conv) => pair(prefix.to_string(), conv.weight_shape().to_vec(), conv.out_channels),
            Layer::Linear { in_features, out_features } => pair(prefix.to_string(), vec![*out_features, *in_features], *out_features),
            Layer::Inception(block) => block
                .convs()
                .iter()
                .flat_map(|(name, conv)| pair(join(name), conv.weight_shape().to_vec(), conv.out_channels))
                .collect(),
            Layer::Sequential(children) => children.iter().flat_map(|(name, child)| child.params(&join(name))).collect(),
            _ => Vec::new(),
        }
    }

    /// Multiply-adds × 2 of one example's forward pass through convolutions and linear layers (the
    /// usual FLOP count; pooling, ReLU and dropout are memory-bound and not counted).
    pub fn flops(&self, input: Shape) -> Result<u64> {
        let output = self.output_shape(input)?;
        Ok(match self {
            Layer::Conv(conv) => conv_flops(conv, output),
            Layer::Linear { in_features, out_features } => 2 * *in_features as u64 * *out_features as u64,
            Layer::Inception(block) => {
                let Shape::Image { h, w, .. } = output else { unreachable!("Inception outputs an image") };
                block.convs().iter().map(|(_, conv)| conv_flops(conv, Shape::Image { c: conv.out_channels, h, w })).sum()
            }
            Layer::Sequential(children) => {
                let mut shape = input;
                let mut total = 0;
                for (_, child) in children {
                    total += child.flops(shape)?;
                    shape = child.output_shape(shape)?;
                }
                total
            }
            _ => 0,
        })
    }
}

fn conv_flops(conv: &Conv2d, output: Shape) -> u64 {
    // u64 before multiplying: usize is 32 bits in the browser.
    2 * output.elements() as u64 * (conv.in_channels * conv.kernel * conv.kernel) as u64
}
