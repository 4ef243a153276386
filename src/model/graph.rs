//! A network compiled for one batch size: the GPU steps of its forward and backward passes and the
//! activation (and, for training, gradient) tensors between them. A ReLU that follows a
//! convolution or linear layer is fused into that layer's epilogue.

use crate::engine::error::{EngineError, Result};
use crate::engine::device::Device;
use crate::model::inception::InceptionStep;
use crate::model::params::Parameters;
use crate::net::{Layer, Net, Shape};
use crate::ops::{self, Conv2d, Dropout, Linear, Pool2d, PoolKind};
use crate::engine::recorder::Recorder;
use crate::engine::timing::Part;
use crate::engine::tensor::{DType, Tensor};

/// One recorded layer. `x` and `y` index the graph's activations; in-place layers have only `x`;
/// `param` indexes the layer's weight (its bias follows).
enum Step {
    Conv { conv: Conv2d, param: usize, x: usize, y: usize },
    Linear { linear: Linear, param: usize, x: usize, y: usize },
    MaxPool { pool: Pool2d, argmax: Tensor, x: usize, y: usize },
    AvgPool { pool: Pool2d, x: usize, y: usize },
    Relu { x: usize },
    Dropout { dropout: Dropout, index: u32, x: usize },
    /// The output shares the input's memory: nothing to run in either direction.
    Flatten,
    Inception(Box<InceptionStep>),
}

/// A layer with parameters (`Graph::weighted_layers`).
pub struct WeightedLayer<'a> {
    pub name: &'a str,
    /// Indices into the model's parameters (weights and biases, in `state_dict` order).
    pub params: std::ops::Range<usize>,
    /// Its output after the last forward pass (after the fused ReLU, and after a following
    /// dropout, which works in place).
    pub output: &'a Tensor,
    pub relu: bool,
}

pub struct Graph {
    pub batch: usize,
    steps: Vec<(String, Step)>,
    /// acts[0] is the input batch; the last is the logits [batch, classes].
    acts: Vec<Tensor>,
    /// Gradients of the loss with respect to each activation (not the input); training only.
    grads: Vec<Option<Tensor>>,
    /// Every layer of the description and the activation holding its output.
    outputs: Vec<(String, usize)>,
    /// The last forward pass's mode, dropout seed and first row in its step's batch (a
    /// micro-batch's place), which backward follows.
    training: bool,
    seed: u32,
    first_row: usize,
    /// Whether backward also computes the input's gradient (saliency maps, `model::explain`).
    input_gradient: bool,
}

/// Builds a graph by walking the module tree.
struct Builder<'a> {
    device: &'a Device,
    batch: usize,
    training: bool,
    steps: Vec<(String, Step)>,
    acts: Vec<Tensor>,
    grads: Vec<Option<Tensor>>,
    outputs: Vec<(String, usize)>,
    param: usize,
    dropouts: u32,
}

impl Builder<'_> {
    fn tensor(&self, name: &str, shape: Shape, dtype: DType) -> Result<Tensor> {
        let mut dims = vec![self.batch];
        dims.extend(shape.dims());
        Tensor::zeros(self.device, &dims, dtype, name)
    }

    /// A new activation (and its gradient when training).
    fn push(&mut self, name: &str, shape: Shape) -> Result<usize> {
        let act = self.tensor(name, shape, DType::F32)?;
        let grad = if self.training { Some(self.tensor(&format!("{name} gradient"), shape, DType::F32)?) } else { None };
        self.acts.push(act);
        self.grads.push(grad);
        Ok(self.acts.len() - 1)
    }

    /// Compiles `children` from activation `x`; returns the final activation and shape.
    fn sequence(&mut self, prefix: &str, children: &[(String, Layer)], mut x: usize, mut shape: Shape) -> Result<(usize, Shape)> {
        let mut i = 0;
        while i < children.len() {
            let (child, layer) = &children[i];
            let name = if prefix.is_empty() { child.clone() } else { format!("{prefix}.{child}") };
            // Fuse a directly following ReLU into a convolution or linear layer.
            let fused = matches!(layer, Layer::Conv(_) | Layer::Linear { .. }) && matches!(children.get(i + 1), Some((_, Layer::Relu)));
            (x, shape) = self.layer(&name, layer, x, shape, fused).map_err(|e| e.in_layer(&name))?;
            self.outputs.push((name.clone(), x));
            if fused {
                let (relu, _) = &children[i + 1];
                self.outputs.push((if prefix.is_empty() { relu.clone() } else { format!("{prefix}.{relu}") }, x));
                i += 1;
            }
            i += 1;
        }
        Ok((x, shape))
    }

    fn layer(&mut self, name: &str, layer: &Layer, x: usize, shape: Shape, relu: bool) -> Result<(usize, Shape)> {
        let out_shape = layer.output_shape(shape)?;
        let step = match layer {
            Layer::Sequential(children) => return self.sequence(name, children, x, shape),
            Layer::Relu => Step::Relu { x },
            Layer::Dropout(rate) => {
                self.dropouts += 1;
                Step::Dropout { dropout: Dropout { rate: *rate }, index: self.dropouts, x }
            }
            Layer::Flatten => {
                let dims = [self.batch, out_shape.elements()];
                let act = self.acts[x].reshape(&dims)?;
                let grad = self.grads[x].as_ref().map(|g| g.reshape(&dims)).transpose()?;
                self.acts.push(act);
                self.grads.push(grad);
                self.steps.push((name.to_string(), Step::Flatten));
                return Ok((self.acts.len() - 1, out_shape));
            }
            Layer::Conv(conv) => {
                let param = self.take_params(2);
                Step::Conv { conv: Conv2d { relu, ..*conv }, param, x, y: self.push(name, out_shape)? }
            }
            Layer::Linear { in_features, out_features } => {
                let param = self.take_params(2);
                let linear = Linear { in_features: *in_features, out_features: *out_features, relu };
                Step::Linear { linear, param, x, y: self.push(name, out_shape)? }
            }
            Layer::Pool(pool) if pool.kind == PoolKind::Average => Step::AvgPool { pool: *pool, x, y: self.push(name, out_shape)? },
            Layer::Pool(pool) => {
                let argmax = self.tensor(&format!("{name} argmax"), out_shape, DType::U32)?;
                Step::MaxPool { pool: *pool, argmax, x, y: self.push(name, out_shape)? }
            }
            Layer::GlobalAvgPool => {
                let Shape::Image { h, w, .. } = shape else { unreachable!("shape inference checked the input is an image") };
                Step::AvgPool { pool: Pool2d::global(h, w), x, y: self.push(name, out_shape)? }
            }
            Layer::Inception(block) => {
                let param = self.take_params(12);
                let y = self.push(name, out_shape)?;
                Step::Inception(Box::new(InceptionStep::new(self.device, name, *block, param, x, y, self.batch, shape, self.training)?))
            }
        };
        let y = match step {
            Step::Conv { y, .. } | Step::Linear { y, .. } | Step::MaxPool { y, .. } | Step::AvgPool { y, .. } => y,
            Step::Inception(ref s) => s.y,
            _ => x,
        };
        self.steps.push((name.to_string(), step));
        Ok((y, out_shape))
    }

    fn take_params(&mut self, n: usize) -> usize {
        self.param += n;
        self.param - n
    }
}

/// Mixes the step's seed with a dropout layer's index so layers draw independent masks.
fn dropout_seed(seed: u32, index: u32) -> u32 {
    seed.wrapping_mul(0x9E37_79B9) ^ index.wrapping_mul(0x85EB_CA6B)
}

impl Graph {
    /// Allocates the activations (and, if `training`, the gradients) of `net` for `batch` images.
    pub fn new(device: &Device, net: &Net, batch: usize, training: bool) -> Result<Graph> {
        if batch == 0 {
            return Err(EngineError::shape(net.config.arch.to_string(), "the batch size must be at least 1"));
        }
        let mut b = Builder { device, batch, training, steps: Vec::new(), acts: Vec::new(), grads: Vec::new(), outputs: Vec::new(), param: 0, dropouts: 0 };
        // The input's gradient is only computed by a first layer other than a convolution or
        // linear layer (none of the four nets has one), but it keeps every step uniform.
        b.push("input", net.input_shape())?;
        let Layer::Sequential(children) = &net.root else { unreachable!("every network is a Sequential") };
        let (last, shape) = b.sequence("", children, 0, net.input_shape())?;
        if !matches!(shape, Shape::Flat(_)) || last != b.acts.len() - 1 {
            return Err(EngineError::shape(net.config.arch.to_string(), format!("must end in class scores, ends in {shape}")));
        }
        Ok(Graph { batch, steps: b.steps, acts: b.acts, grads: b.grads, outputs: b.outputs, training: false, seed: 0, first_row: 0, input_gradient: false })
    }

    /// The input batch [batch, 1, side, side].
    pub fn input(&self) -> &Tensor {
        &self.acts[0]
    }

    /// Has backward compute the input's gradient too (training graphs only), `input_grad`.
    pub fn compute_input_gradient(&mut self) {
        self.input_gradient = self.grads[0].is_some();
    }

    /// The gradient with respect to the input, when `compute_input_gradient` was asked.
    pub fn input_grad(&self) -> Option<&Tensor> {
        self.grads[0].as_ref().filter(|_| self.input_gradient)
    }

    /// The gradient with respect to layer `name`'s output after backward (training graphs only).
    /// Where a ReLU is fused into the layer, it is the gradient at the ReLU's input: zero where the
    /// unit was off.
    pub fn grad_of(&self, name: &str) -> Option<&Tensor> {
        let (_, i) = self.outputs.iter().find(|(n, _)| n == name)?;
        self.grads[*i].as_ref()
    }

    /// The class scores [batch, classes].
    pub fn logits(&self) -> &Tensor {
        self.acts.last().expect("a graph has activations")
    }

    /// The gradient of the loss with respect to the logits (training graphs only).
    pub fn logits_grad(&self) -> Option<&Tensor> {
        self.grads.last().and_then(|g| g.as_ref())
    }

    /// The layers with parameters (convolutions, linear layers, Inception blocks), each with its
    /// parameters' indices, its output and whether a ReLU is fused into it: what per-layer
    /// statistics summarise (`train::layer_stats`).
    pub fn weighted_layers(&self) -> Vec<WeightedLayer<'_>> {
        let acts = &self.acts;
        self.steps
            .iter()
            .filter_map(|(name, step)| match step {
                Step::Conv { conv, param, y, .. } => Some(WeightedLayer { name, params: *param..*param + 2, output: &acts[*y], relu: conv.relu }),
                Step::Linear { linear, param, y, .. } => Some(WeightedLayer { name, params: *param..*param + 2, output: &acts[*y], relu: linear.relu }),
                // Every path of an Inception block ends in a ReLU.
                Step::Inception(s) => Some(WeightedLayer { name, params: s.param..s.param + 12, output: &acts[s.y], relu: true }),
                _ => None,
            })
            .collect()
    }

    /// Every layer's output by its PyTorch module name (after the forward pass ran).
    pub fn outputs(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.outputs.iter().map(|(name, i)| (name.as_str(), &self.acts[*i]))
    }

    /// The index, in the whole batch's tensor, of `activation`'s first element (u32, wrapping as
    /// the dropout kernel's index does).
    fn first_element(&self, activation: &Tensor) -> u32 {
        let per_image = activation.len() / self.batch.max(1);
        (self.first_row as u64 * per_image as u64) as u32
    }

    fn grad(&self, i: usize) -> &Tensor {
        self.grads[i].as_ref().expect("backward needs a training graph")
    }

    /// Records the forward pass; `training` turns dropout on, with masks drawn from `seed`.
    pub fn forward(&mut self, rec: &mut Recorder, params: &Parameters, training: bool, seed: u32) -> Result<()> {
        self.forward_rows(rec, params, training, seed, 0)
    }

    /// [`Graph::forward`] of a micro-batch whose first image is row `first_row` of its step's
    /// batch: dropout draws the masks of those rows of the whole batch.
    pub fn forward_rows(&mut self, rec: &mut Recorder, params: &Parameters, training: bool, seed: u32, first_row: usize) -> Result<()> {
        self.training = training;
        self.seed = seed;
        self.first_row = first_row;
        let p = &params.tensors;
        for (name, step) in &self.steps {
            let a = &self.acts;
            rec.enter(Part::Forward(name.clone()));
            match step {
                Step::Conv { conv, param, x, y } => conv.forward(rec, a[*x].view()?, &p[*param], &p[param + 1], a[*y].view()?),
                Step::Linear { linear, param, x, y } => linear.forward(rec, &a[*x], &p[*param], &p[param + 1], &a[*y]),
                Step::MaxPool { pool, argmax, x, y } => pool.forward(rec, &a[*x], &a[*y], Some(argmax)),
                Step::AvgPool { pool, x, y } => pool.forward(rec, &a[*x], &a[*y], None),
                Step::Relu { x } => ops::relu_forward(rec, &a[*x]),
                Step::Dropout { dropout, index, x } if training => dropout.forward(rec, &a[*x], dropout_seed(seed, *index), self.first_element(&a[*x])),
                Step::Dropout { .. } | Step::Flatten => Ok(()),
                Step::Inception(block) => block.forward(rec, p, &a[block.x], &a[block.y]),
            }
            .map_err(|e| e.in_layer(name))?;
        }
        Ok(())
    }

    /// Records the backward pass of the last forward pass (in its mode: dropout only if it was
    /// training), from the logits' gradient (already written) to every parameter's gradient in
    /// `param_grads`.
    pub fn backward(&self, rec: &mut Recorder, params: &Parameters, param_grads: &[Tensor]) -> Result<()> {
        let (p, g) = (&params.tensors, param_grads);
        for (name, step) in self.steps.iter().rev() {
            let a = &self.acts;
            rec.enter(Part::Backward(name.clone()));
            let result = match step {
                Step::Conv { conv, param, x, y } => (|| {
                    let gy = self.grad(*y);
                    if conv.relu {
                        ops::relu_backward(rec, &a[*y], gy)?;
                    }
                    conv.backward_weight(rec, gy.view()?, a[*x].view()?, &g[*param])?;
                    conv.backward_bias(rec, gy.view()?, &g[param + 1])?;
                    if *x != 0 || self.input_gradient {
                        conv.backward_input(rec, gy.view()?, &p[*param], self.grad(*x).view()?, false)?;
                    }
                    Ok(())
                })(),
                Step::Linear { linear, param, x, y } => (|| {
                    let gy = self.grad(*y);
                    if linear.relu {
                        ops::relu_backward(rec, &a[*y], gy)?;
                    }
                    linear.backward_weight(rec, gy, &a[*x], &g[*param])?;
                    linear.backward_bias(rec, gy, &g[param + 1])?;
                    if *x != 0 || self.input_gradient {
                        linear.backward_input(rec, gy, &p[*param], self.grad(*x))?;
                    }
                    Ok(())
                })(),
                Step::MaxPool { pool, argmax, x, y } => pool.backward(rec, self.grad(*y), Some(argmax), self.grad(*x)),
                Step::AvgPool { pool, x, y } => pool.backward(rec, self.grad(*y), None, self.grad(*x)),
                Step::Relu { x } => ops::relu_backward(rec, &a[*x], self.grad(*x)),
                Step::Dropout { dropout, index, x } if self.training => {
                    dropout.backward(rec, self.grad(*x), dropout_seed(self.seed, *index), self.first_element(&a[*x]))
                }
                Step::Dropout { .. } | Step::Flatten => Ok(()),
                Step::Inception(block) => block.backward(rec, p, g, &a[block.x], &a[block.y], self.grad(block.y), self.grad(block.x)),
            };
            result.map_err(|e| e.in_layer(name))?;
        }
        Ok(())
    }
}
