//! The layer table: every module's output shape, parameters and forward FLOPs, block by block as
//! d2l's `named_children()` loop prints them, with totals.

use std::fmt;

use crate::engine::error::Result;
use crate::net::layer::{Layer, Shape};
use crate::net::zoo::Net;

/// One module of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Dotted path, PyTorch's module name (`fc.3`); top-level blocks have depth 0.
    pub name: String,
    pub depth: usize,
    /// PyTorch's class name.
    pub kind: &'static str,
    /// One example's output shape.
    pub output: Shape,
    /// Parameters, counted in u64 (a design's total can pass wasm32's 32-bit usize).
    pub params: u64,
    /// Forward FLOPs for one example.
    pub flops: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub title: String,
    pub input: Shape,
    pub rows: Vec<Row>,
    pub params: u64,
    pub flops: u64,
}

impl Summary {
    pub fn new(net: &Net) -> Result<Summary> {
        let mut rows = Vec::new();
        let mut shape = net.input_shape();
        for (name, block) in net.blocks() {
            shape = walk(name, 0, block, shape, &mut rows)?;
        }
        let params = net.root.params("").iter().map(|p| p.len() as u64).sum();
        let flops = net.root.flops(net.input_shape())?;
        let c = &net.config;
        let title = format!("{} · width ÷{} · input {}×{}", c.arch, c.ratio, c.side, c.side);
        Ok(Summary { title, input: net.input_shape(), rows, params, flops })
    }

    /// The top-level blocks only: the seed's `for name, blk in net.named_children()` lines.
    pub fn blocks(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.depth == 0)
    }
}

/// Appends `layer`'s row and its children's; returns its output shape.
fn walk(name: &str, depth: usize, layer: &Layer, input: Shape, rows: &mut Vec<Row>) -> Result<Shape> {
    let output = layer.output_shape(input).map_err(|e| e.in_layer(name))?;
    let params = layer.params(name).iter().map(|p| p.len() as u64).sum();
    let flops = layer.flops(input)?;
    rows.push(Row { name: name.to_string(), depth, kind: layer.kind(), output, params, flops });
    if let Layer::Sequential(children) = layer {
        let mut shape = input;
        for (child_name, child) in children {
            shape = walk(&format!("{name}.{child_name}"), depth + 1, child, shape, rows)?;
        }
    }
    Ok(output)
}

/// 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// 1.23e9 → "1.23 G".
pub fn si(n: f64) -> String {
    let (value, unit) = match n {
        n if n >= 1e9 => (n / 1e9, "G"),
        n if n >= 1e6 => (n / 1e6, "M"),
        n if n >= 1e3 => (n / 1e3, "k"),
        n => (n, ""),
    };
    format!("{value:.2} {unit}")
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title)?;
        writeln!(f, "{:<22} {:<16} {:>14} {:>12} {:>12}", "layer", "type", "output", "params", "FLOPs")?;
        writeln!(f, "{:<22} {:<16} {:>14}", "input", "", self.input.to_string())?;
        for row in &self.rows {
            let name = format!("{}{}", "  ".repeat(row.depth), row.name);
            let params = if row.params > 0 { grouped(row.params) } else { String::new() };
            let flops = if row.flops > 0 { si(row.flops as f64) } else { String::new() };
            writeln!(f, "{name:<22} {:<16} {:>14} {params:>12} {flops:>12}", row.kind, row.output.to_string())?;
        }
        write!(f, "{:<22} {:<16} {:>14} {:>12} {:>12}", "total", "", "", grouped(self.params), si(self.flops as f64))
    }
}
