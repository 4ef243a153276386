//! ONNX export: a network description and its parameters as an ONNX model, written from the
//! module tree ([`crate::net::Layer`]) with ONNX's own protobuf types ([`proto`], generated from
//! `third_party/onnx/onnx.proto` by prost), so every runtime that reads ONNX can run a net trained
//! here — natively (`cnnscope export`) and in the page ([`crate::model::Model::save_onnx`]).
//!
//! The model, opset [`OPSET`]:
//! - input [`INPUT`]: `batch × 1 × side × side` float32, the batch dimension named [`BATCH`] (any
//!   size), each image exactly as cnnscope's evaluation feeds it: the 28×28 grey picture resized
//!   to side × side (bilinear, half-pixel centres, no antialiasing: torchvision's tensor `Resize`,
//!   `F.interpolate(mode="bilinear", align_corners=False)`) and divided by 255, so in [0, 1];
//! - output [`OUTPUT`]: `batch × 10` float32, the class scores before softmax (Fashion-MNIST's
//!   classes in [`crate::data::CLASS_NAMES`] order);
//! - initializers named by PyTorch's `state_dict` keys (`conv.0.weight`, `4.1.p2_2.bias`) in
//!   PyTorch's layouts; each node is named by its module's path, as `named_modules()` names it;
//! - the weights file's metadata (`net`, `ratio`, `side`, `second_hidden`, `design`) as the
//!   model's metadata properties.
//!
//! Evaluation semantics: dropout is the identity (no node); a linear layer that meets an image
//! flattens it first (`Flatten(axis=1)`, PyTorch's `view(batch, -1)` order); pools floor their
//! output size, max pools pad with −∞ and average pools count padding as zeros and divide by the
//! whole window (PyTorch's defaults); Inception's four paths meet in one `Concat` on channels.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
#[rustfmt::skip]
pub mod proto;

use prost::Message;

use crate::engine::error::{EngineError, Result};
use crate::model::weights;
use crate::net::{CLASSES, Inception, Layer, Net, Shape};
use crate::ops::{Conv2d, Pool2d, PoolKind};
use proto::attribute_proto::AttributeType;
use proto::tensor_proto::DataType;
use proto::tensor_shape_proto::{Dimension, dimension};
use proto::type_proto;
use proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

/// The operator set the graph is written against: opset 17 (ONNX 1.12, 2022), which every
/// runtime of the last years reads; every operator used here is unchanged in it since opset 13
/// or earlier.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
pub const IR_VERSION: i64 = 8;
/// The input's name: `batch × 1 × side × side` float32 images in [0, 1].
pub const INPUT: &str = "image";
/// The output's name: `batch × 10` float32 class scores (logits).
pub const OUTPUT: &str = "logits";
/// The symbolic name of the batch dimension.
pub const BATCH: &str = "batch";

/// The ONNX model's bytes (a serialised `ModelProto`) for `net` with `values`, one per parameter
/// in `net.root.params("")` order (as [`crate::model::Parameters::read`] and
/// [`weights::from_safetensors`] give them).
pub fn to_bytes<V: AsRef<[f32]>>(net: &Net, values: &[V]) -> Result<Vec<u8>> {
    encode_within(&model(net, values)?, MAX_MESSAGE_BYTES)
}

/// The largest message protobuf reads: 2 GiB − 1 (its sizes are signed 32-bit). A model past it
/// would need ONNX's external data (the tensors in files beside the model), which cnnscope does
/// not write; every runtime refuses the whole message instead.
pub const MAX_MESSAGE_BYTES: usize = (1 << 31) - 1;

/// `model`'s bytes, refused when they pass `limit`.
fn encode_within(model: &ModelProto, limit: usize) -> Result<Vec<u8>> {
    let bytes = model.encoded_len();
    if bytes > limit {
        return Err(error(format!(
            "the model would be {} bytes ({}), past the {limit} bytes one protobuf message holds (ONNX's limit without external data files, which cnnscope does not write): export a narrower network (a larger width ratio)",
            bytes,
            crate::engine::error::human(bytes as u64)
        )));
    }
    Ok(model.encode_to_vec())
}

/// The ONNX model for `net` with `values` (see [`to_bytes`]).
pub fn model<V: AsRef<[f32]>>(net: &Net, values: &[V]) -> Result<ModelProto> {
    let specs = net.root.params("");
    if specs.len() != values.len() {
        return Err(error(format!("{} tensors given for the {} parameters of {}", values.len(), specs.len(), net.config.arch)));
    }
    let initializer = specs
        .iter()
        .zip(values)
        .map(|(spec, v)| {
            let v = v.as_ref();
            if v.len() != spec.len() {
                return Err(error(format!("{} needs {} values, got {}", spec.name, spec.len(), v.len())));
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(error(format!("{} holds {} at index {i}: the network has diverged", spec.name, v.get(i).copied().unwrap_or(f32::NAN))));
            }
            let dims = spec.shape.iter().map(|&d| dim(d)).collect::<Result<_>>()?;
            Ok(TensorProto {
                name: Some(spec.name.clone()),
                dims,
                data_type: Some(DataType::Float as i32),
                raw_data: Some(bytemuck::cast_slice::<f32, u8>(v).to_vec()),
                ..TensorProto::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // Values are named after the modules that produce them, but never like the graph's input or
    // output or an initializer (a module named `image` or `logits` would define a name twice,
    // which runtimes refuse).
    let mut graph = Builder { nodes: Vec::new(), names: [INPUT, OUTPUT].into_iter().map(String::from).chain(specs.iter().map(|s| s.name.clone())).collect() };
    let input = net.input_shape();
    let (last, shape) = graph.layer(&net.root, "", INPUT.to_string(), input)?;
    if shape != Shape::Flat(CLASSES) {
        return Err(error(format!("the network ends in {shape}, not the {CLASSES} class scores")));
    }
    // The last node's output is the graph's output (a net of dropout alone would have none).
    match graph.nodes.last_mut().and_then(|node| node.output.first_mut()) {
        Some(output) if *output == last => *output = OUTPUT.to_string(),
        _ => graph.node("Identity", "output", vec![last], OUTPUT.to_string(), Vec::new()),
    }

    let side = dim(net.config.side)?;
    let mut metadata: Vec<StringStringEntryProto> = weights::net_metadata(&net.config)
        .into_iter()
        .map(|(key, value)| StringStringEntryProto { key: Some(key), value: Some(value) })
        .collect();
    // Sorted: the same network gives the same bytes.
    metadata.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("cnnscope".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(format!(
            "{} trained by cnnscope. Input {INPUT}: batch × 1 × {s} × {s} float32, each Fashion-MNIST image resized to \
             {s} × {s} (bilinear, half-pixel centres, no antialiasing) and divided by 255. Output {OUTPUT}: batch × {CLASSES} \
             class scores before softmax.",
            crate::net::Summary::new(net).map(|s| s.title).unwrap_or_else(|_| net.config.arch.to_string()),
            s = net.config.side
        )),
        graph: Some(GraphProto {
            name: Some(net.config.arch.id().to_string()),
            node: graph.nodes,
            initializer,
            input: vec![value_info(INPUT, vec![Dim::Batch, Dim::Fixed(1), Dim::Fixed(side), Dim::Fixed(side)])],
            output: vec![value_info(OUTPUT, vec![Dim::Batch, Dim::Fixed(dim(CLASSES)?)])],
            ..GraphProto::default()
        }),
        metadata_props: metadata,
        ..ModelProto::default()
    })
}

/// An export error: what the network or its values hold that ONNX cannot be written from.
fn error(detail: String) -> EngineError {
    EngineError::shape("ONNX export", detail)
}

/// A size as ONNX's int64.
fn dim(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| error(format!("a size of {n} does not fit ONNX's int64")))
}

enum Dim {
    Batch,
    Fixed(i64),
}

/// A float32 tensor's name, type and shape, for the graph's input and output.
fn value_info(name: &str, dims: Vec<Dim>) -> ValueInfoProto {
    let dim = dims
        .into_iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Batch => dimension::Value::DimParam(BATCH.into()),
                Dim::Fixed(n) => dimension::Value::DimValue(n),
            }),
            ..Dimension::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

fn ints(name: &str, values: &[usize]) -> Result<AttributeProto> {
    Ok(AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.iter().map(|&v| dim(v)).collect::<Result<_>>()?,
        ..AttributeProto::default()
    })
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(AttributeType::Int as i32), i: Some(value), ..AttributeProto::default() }
}

/// The graph's nodes, in order; each value is named after the module that produced it.
struct Builder {
    nodes: Vec<NodeProto>,
    /// Every name the graph defines so far: its input and output, the initializers, the values.
    names: std::collections::HashSet<String>,
}

impl Builder {
    /// `name`, or the first of `name_1`, `name_2`, … that the graph does not define yet.
    fn fresh(&mut self, name: &str) -> String {
        let mut candidate = name.to_string();
        let mut n = 1;
        while !self.names.insert(candidate.clone()) {
            candidate = format!("{name}_{n}");
            n += 1;
        }
        candidate
    }

    fn node(&mut self, op: &str, name: &str, input: Vec<String>, output: String, attribute: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            name: Some(name.into()),
            op_type: Some(op.into()),
            input,
            output: vec![output],
            attribute,
            ..NodeProto::default()
        });
    }

    /// One node whose output is named like the node (or as near as the graph's other names let
    /// it, [`Builder::fresh`]).
    fn op(&mut self, op: &str, name: &str, input: Vec<String>, attribute: Vec<AttributeProto>) -> String {
        let output = self.fresh(name);
        self.node(op, name, input, output.clone(), attribute);
        output
    }

    /// `layer` (named `path`) applied to the value `input` of shape `shape`: its output's name and
    /// shape.
    fn layer(&mut self, layer: &Layer, path: &str, input: String, shape: Shape) -> Result<(String, Shape)> {
        let output_shape = layer.output_shape(shape)?;
        // A node needs a name: only the root has none, and it is always a Sequential.
        let name = if path.is_empty() { "output" } else { path };
        let output = match layer {
            Layer::Conv(conv) => self.conv(conv, name, input)?,
            Layer::Relu => self.op("Relu", name, vec![input], Vec::new()),
            Layer::Pool(pool) => self.pool(pool, name, input)?,
            Layer::GlobalAvgPool => self.op("GlobalAveragePool", name, vec![input], Vec::new()),
            // Identity at inference: no node.
            Layer::Dropout(_) => input,
            Layer::Flatten => self.op("Flatten", name, vec![input], vec![int("axis", 1)]),
            Layer::Linear { .. } => {
                let flat = match shape {
                    Shape::Image { .. } => self.op("Flatten", &format!("{name}.flatten"), vec![input], vec![int("axis", 1)]),
                    Shape::Flat(_) => input,
                };
                let (weight, bias) = (format!("{name}.weight"), format!("{name}.bias"));
                self.op("Gemm", name, vec![flat, weight, bias], vec![int("transB", 1)])
            }
            Layer::Inception(block) => self.inception(block, name, input)?,
            Layer::Sequential(children) => {
                let (mut value, mut shape) = (input, shape);
                for (child_name, child) in children {
                    let child_path = if path.is_empty() { child_name.clone() } else { format!("{path}.{child_name}") };
                    (value, shape) = self.layer(child, &child_path, value, shape)?;
                }
                value
            }
        };
        Ok((output, output_shape))
    }

    /// A convolution (and its fused ReLU, when it has one) with `{name}.weight` and `{name}.bias`.
    fn conv(&mut self, conv: &Conv2d, name: &str, input: String) -> Result<String> {
        let (k, s, p) = (conv.kernel, conv.stride, conv.padding);
        let attributes = vec![ints("kernel_shape", &[k, k])?, ints("strides", &[s, s])?, ints("pads", &[p, p, p, p])?, ints("dilations", &[1, 1])?, int("group", 1)];
        let output = self.op("Conv", name, vec![input, format!("{name}.weight"), format!("{name}.bias")], attributes);
        Ok(if conv.relu { self.op("Relu", &format!("{name}.relu"), vec![output], Vec::new()) } else { output })
    }

    fn pool(&mut self, pool: &Pool2d, name: &str, input: String) -> Result<String> {
        let p = pool.padding;
        let mut attributes = vec![
            ints("kernel_shape", &[pool.kernel_h, pool.kernel_w])?,
            ints("strides", &[pool.stride, pool.stride])?,
            ints("pads", &[p, p, p, p])?,
            int("ceil_mode", 0),
        ];
        let op = match pool.kind {
            PoolKind::Max => "MaxPool",
            PoolKind::Average => {
                // PyTorch's default: padding counts as zeros, the divisor is the whole window.
                attributes.push(int("count_include_pad", 1));
                "AveragePool"
            }
        };
        Ok(self.op(op, name, vec![input], attributes))
    }

    /// GoogLeNet's four paths, each convolution followed by ReLU, concatenated on channels in the
    /// order 1×1 · 1×1→3×3 · 1×1→5×5 · 3×3 max pool→1×1.
    fn inception(&mut self, block: &Inception, name: &str, input: String) -> Result<String> {
        let convs = block.convs();
        let path = |conv: &str| format!("{name}.{conv}");
        let mut ends = Vec::with_capacity(4);
        let mut last = input.clone();
        for (conv_name, conv) in &convs {
            let from = match *conv_name {
                // The second convolution of paths 2 and 3 takes the first's output.
                "p2_2" | "p3_2" => last.clone(),
                "p4_2" => self.pool(&Inception::pool(), &path("p4_1"), input.clone())?,
                _ => input.clone(),
            };
            last = self.conv(conv, &path(conv_name), from)?;
            if matches!(*conv_name, "p1_1" | "p2_2" | "p3_2" | "p4_2") {
                ends.push(last.clone());
            }
        }
        Ok(self.op("Concat", name, ends, vec![int("axis", 1)]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::net::{Arch, NetConfig};

    fn zeros(net: &Net) -> Vec<Vec<f32>> {
        net.root.params("").iter().map(|s| vec![0.0; s.len()]).collect()
    }

    /// Every parameter becomes one initializer under its PyTorch key, and every initializer is
    /// read by a node: the graph and the weights file name the same tensors.
    #[test]
    fn initializers_are_the_state_dict_and_all_used() {
        for arch in Arch::ALL {
            let net = Net::new(NetConfig::new(arch, 16)).unwrap();
            let model = model(&net, &zeros(&net)).unwrap();
            let graph = model.graph.unwrap();
            let names: Vec<_> = graph.initializer.iter().map(|t| t.name.clone().unwrap()).collect();
            let keys: Vec<_> = net.root.params("").into_iter().map(|s| s.name).collect();
            assert_eq!(names, keys);
            for key in &keys {
                assert!(graph.node.iter().any(|n| n.input.contains(key)), "{key} unused");
            }
            assert_eq!(graph.node.last().unwrap().output, [OUTPUT]);
        }
    }

    /// Wrong values are refused with the reason, never written.
    #[test]
    fn bad_values_are_refused() {
        let net = Net::new(NetConfig::new(Arch::Nin, 16)).unwrap();
        let mut values = zeros(&net);
        values.pop();
        assert!(model(&net, &values).unwrap_err().to_string().contains("tensors given"));
        let mut values = zeros(&net);
        values[0].push(0.0);
        assert!(model(&net, &values).unwrap_err().to_string().contains("0.0.weight needs"));
        let mut values = zeros(&net);
        values[2][3] = f32::NAN;
        assert!(model(&net, &values).unwrap_err().to_string().contains("0.2.weight holds NaN at index 3"));
    }

    /// Modules named like the graph's input and output get values of their own names, so each
    /// name is defined once (onnxruntime refused the graph that defined `image` twice); the output
    /// is the last node's.
    #[test]
    fn every_value_is_defined_once() {
        let design = "image: conv 4 k=3 p=1\nlogits: relu\nmaxpool k=2\nflatten\nlinear 10\n";
        let net = Net::new(NetConfig::new(Arch::Own(design.into()), 1).with_side(28)).unwrap();
        let graph = model(&net, &zeros(&net)).unwrap().graph.unwrap();
        let mut defined: Vec<String> = graph.input.iter().map(|v| v.name.clone().unwrap()).collect();
        defined.extend(graph.initializer.iter().map(|t| t.name.clone().unwrap()));
        defined.extend(graph.node.iter().flat_map(|n| n.output.clone()));
        let unique: std::collections::HashSet<_> = defined.iter().collect();
        assert_eq!(unique.len(), defined.len(), "{defined:?}");
        assert_eq!(graph.node[0].output, ["image_1"]);
        assert_eq!(graph.node[1].output, ["logits_1"]);
        assert_eq!(graph.node.last().unwrap().output, [OUTPUT]);
        assert_eq!(graph.node[1].input, ["image_1"], "the next node reads the renamed value");
    }

    /// A model past what one protobuf message holds is refused with its size, not written.
    #[test]
    fn a_model_past_protobufs_limit_is_refused() {
        let net = Net::new(NetConfig::new(Arch::Nin, 16)).unwrap();
        let model = model(&net, &zeros(&net)).unwrap();
        let size = model.encoded_len();
        assert_eq!(encode_within(&model, size).unwrap().len(), size);
        let err = encode_within(&model, size - 1).unwrap_err().to_string();
        assert!(err.contains(&format!("the model would be {size} bytes")) && err.contains("external data"), "{err}");
    }

    /// The same network and values give the same bytes.
    #[test]
    fn bytes_are_a_function_of_the_model() {
        let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
        assert_eq!(to_bytes(&net, &zeros(&net)).unwrap(), to_bytes(&net, &zeros(&net)).unwrap());
    }
}
