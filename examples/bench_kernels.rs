//! Kernel benchmark: GFLOP/s of convolution forward, input gradient and weight gradient, and of the
//! linear layers' GEMMs, on the real layer shapes of AlexNet, VGG-11, NiN (side 224) and GoogLeNet
//! (side 96) at width ratio 1 and 8. Every shape runs on each GEMM core the adapter has (subgroup,
//! tiled) and on the naive one-output-per-invocation core in the same process, so the speed-up of
//! the core the engine uses on this adapter is a ratio measured under the same conditions.
//!
//!     cargo run --release --example bench_kernels            # both ratios
//!     cargo run --release --example bench_kernels -- 8       # one ratio
//!     cargo run --release --example bench_kernels -- 8 fast  # the engine's core only (quick A/B)
//!
//! Prints a Markdown table (the README's) and the geometric-mean speed-up per pass.

use std::time::Instant;

use cnnscope::ops::{Conv2d, Matmul};
use cnnscope::{DType, Device, GemmCore, Gpu, Recorder, Tensor};

/// A convolution at its place in a net: (label, cin, cout, kernel, stride, padding, input side).
type ConvLayer = (&'static str, usize, usize, usize, usize, usize, usize);

/// Every convolution shape of AlexNet, VGG-11 and NiN, and GoogLeNet's stem plus one Inception
/// block per stage (its 1×1, 3×3 and 5×5 paths), at ratio 1 (DESIGN.md §1).
const CONVS: &[(&str, &[ConvLayer])] = &[
    ("AlexNet", &[
        ("conv1 11×11/4", 1, 96, 11, 4, 0, 224),
        ("conv2 5×5", 96, 256, 5, 1, 2, 26),
        ("conv3 3×3", 256, 384, 3, 1, 1, 12),
        ("conv4 3×3", 384, 384, 3, 1, 1, 12),
        ("conv5 3×3", 384, 256, 3, 1, 1, 12),
    ]),
    ("VGG-11", &[
        ("block1 3×3", 1, 64, 3, 1, 1, 224),
        ("block2 3×3", 64, 128, 3, 1, 1, 112),
        ("block3a 3×3", 128, 256, 3, 1, 1, 56),
        ("block3b 3×3", 256, 256, 3, 1, 1, 56),
        ("block4a 3×3", 256, 512, 3, 1, 1, 28),
        ("block4b 3×3", 512, 512, 3, 1, 1, 28),
        ("block5 3×3", 512, 512, 3, 1, 1, 14),
    ]),
    ("NiN", &[
        ("nin1 11×11/4", 1, 96, 11, 4, 0, 224),
        ("nin1 1×1", 96, 96, 1, 1, 0, 54),
        ("nin2 5×5", 96, 256, 5, 1, 2, 26),
        ("nin2 1×1", 256, 256, 1, 1, 0, 26),
        ("nin3 3×3", 256, 384, 3, 1, 1, 12),
        ("nin3 1×1", 384, 384, 1, 1, 0, 12),
        ("nin4 3×3", 384, 10, 3, 1, 1, 5),
    ]),
    ("GoogLeNet", &[
        ("b1 7×7/2", 1, 64, 7, 2, 3, 96),
        ("b2 1×1", 64, 64, 1, 1, 0, 24),
        ("b2 3×3", 64, 192, 3, 1, 1, 24),
        ("3a 1×1", 192, 64, 1, 1, 0, 12),
        ("3a 3×3", 96, 128, 3, 1, 1, 12),
        ("3a 5×5", 16, 32, 5, 1, 2, 12),
        ("4a 3×3", 96, 208, 3, 1, 1, 6),
        ("5b 3×3", 192, 384, 3, 1, 1, 3),
    ]),
];

/// The fully connected layers (in, out) at ratio 1; hidden widths scale with the ratio, 10 classes
/// do not.
const DENSE: &[(&str, &str, usize, usize)] = &[
    ("AlexNet", "fc1", 6400, 4096),
    ("AlexNet", "fc2", 4096, 4096),
    ("VGG-11", "fc1", 25088, 4096),
    ("VGG-11", "fc3", 4096, 10),
];

fn scale(c: usize, ratio: usize) -> usize {
    if c == 1 || c == 10 { c } else { (c / ratio).max(1) }
}

/// Seconds per run of `record` (pipelines compiled and caches warm first; repeated until 0.5 s).
/// The WGSL engine's GPU: this benchmark measures its GEMM cores.
fn wgsl(device: &Device) -> &Gpu {
    device.gpu_ref().expect("the kernel benchmark runs on a GPU adapter")
}

fn time(gpu: &Device, core: GemmCore, record: &dyn Fn(&mut Recorder)) -> f64 {
    let run = || {
        let mut rec = Recorder::new(gpu);
        rec.set_gemm_core(core);
        record(&mut rec);
        rec.submit();
        wgsl(gpu).device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    };
    run();
    let start = Instant::now();
    let mut runs = 0;
    while runs == 0 || start.elapsed().as_secs_f64() < 0.5 {
        run();
        runs += 1;
    }
    start.elapsed().as_secs_f64() / runs as f64
}

struct Row {
    net: &'static str,
    layer: String,
    pass: &'static str,
    flops: f64,
    /// Seconds on the subgroup core, where the adapter has one.
    subgroup: Option<f64>,
    tiled: f64,
    naive: f64,
    /// Seconds on the core the engine uses on this adapter.
    engine: f64,
}

fn zeros(gpu: &Device, shape: &[usize]) -> cnnscope::Result<Tensor> {
    Tensor::zeros(gpu, shape, DType::F32, "bench")
}

/// Benchmarks every shape at `ratio`; shapes this adapter cannot hold are reported in `skipped`.
fn bench_ratio(gpu: &Device, ratio: usize, batch: usize, rows: &mut Vec<Row>, skipped: &mut Vec<String>) {
    for &(net, layers) in CONVS {
        for &(label, cin, cout, k, s, p, side) in layers {
            let conv = Conv2d { in_channels: scale(cin, ratio), out_channels: scale(cout, ratio), kernel: k, stride: s, padding: p, relu: true };
            let (oh, ow) = conv.output_size(side, side).unwrap();
            let tensors = (|| {
                let x = zeros(gpu, &[batch, conv.in_channels, side, side])?;
                let y = zeros(gpu, &[batch, conv.out_channels, oh, ow])?;
                let (w, b) = (zeros(gpu, &conv.weight_shape())?, zeros(gpu, &[conv.out_channels])?);
                Ok::<_, cnnscope::EngineError>((zeros(gpu, x.shape())?, zeros(gpu, &conv.weight_shape())?, x, y, w, b))
            })();
            let (gx, gw, x, y, w, b) = match tensors {
                Ok(t) => t,
                Err(e) => {
                    skipped.push(format!("{net} {label}: {e}"));
                    continue;
                }
            };
            let flops = 2.0 * (batch * conv.out_channels * oh * ow * conv.in_channels * k * k) as f64;
            let layer = format!("{label} {}→{} @{side}", conv.in_channels, conv.out_channels);
            let forward = |r: &mut Recorder| conv.forward(r, x.view().unwrap(), &w, &b, y.view().unwrap()).unwrap();
            let input = |r: &mut Recorder| conv.backward_input(r, y.view().unwrap(), &w, gx.view().unwrap(), false).unwrap();
            let weight = |r: &mut Recorder| conv.backward_weight(r, y.view().unwrap(), x.view().unwrap(), &gw).unwrap();
            let mut passes: Vec<(&'static str, &dyn Fn(&mut Recorder))> = vec![("conv forward", &forward), ("conv weight grad", &weight)];
            // A first layer's input is the image: no gradient is ever needed there.
            if conv.in_channels > 1 {
                passes.insert(1, ("conv input grad", &input));
            }
            measure(gpu, ratio, net, &layer, flops, &passes, rows);
        }
    }
    for &(net, label, inp, out) in DENSE {
        let (i, o) = (scale(inp, ratio), scale(out, ratio));
        let tensors = (|| Ok::<_, cnnscope::EngineError>((zeros(gpu, &[batch, i])?, zeros(gpu, &[o, i])?, zeros(gpu, &[batch, o])?, zeros(gpu, &[o, i])?)))();
        let (x, w, y, gw) = match tensors {
            Ok(t) => t,
            Err(e) => {
                skipped.push(format!("{net} {label} {i}→{o}: {e}"));
                continue;
            }
        };
        let flops = 2.0 * (batch * i * o) as f64;
        let layer = format!("{label} {i}→{o}");
        let forward = |r: &mut Recorder| Matmul { m: batch, n: o, k: i, trans_a: false, trans_b: true }.record(r, &x, &w, None, false, &y).unwrap();
        let weight = |r: &mut Recorder| Matmul { m: o, n: i, k: batch, trans_a: true, trans_b: false }.record(r, &y, &x, None, false, &gw).unwrap();
        let passes: [(&'static str, &dyn Fn(&mut Recorder)); 2] = [("GEMM forward", &forward), ("GEMM weight grad", &weight)];
        measure(gpu, ratio, net, &layer, flops, &passes, rows);
    }
}

/// Times each pass on every core, one row each, with a progress line.
fn measure(
    gpu: &Device,
    ratio: usize,
    net: &'static str,
    layer: &str,
    flops: f64,
    passes: &[(&'static str, &dyn Fn(&mut Recorder))],
    rows: &mut Vec<Row>,
) {
    let fast = std::env::args().nth(2).as_deref() == Some("fast");
    for &(pass, record) in passes {
        let subgroup = wgsl(gpu).subgroup_size.map(|_| time(gpu, GemmCore::Subgroup, record));
        let tiled = if fast && subgroup.is_some() { f64::NAN } else { time(gpu, GemmCore::Tiled, record) };
        let naive = if fast { f64::NAN } else { time(gpu, GemmCore::Naive, record) };
        let engine = if wgsl(gpu).fastest_gemm() == GemmCore::Subgroup { subgroup.unwrap() } else { tiled };
        let gflops = |s: f64| flops / s / 1e9;
        eprintln!("  r{ratio} {net} {layer} {pass}: {:.1} GFLOP/s, naive {:.2}", gflops(engine), gflops(naive));
        rows.push(Row { net, layer: layer.to_string(), pass, flops, subgroup, tiled, naive, engine });
    }
}

fn main() {
    let ratios: Vec<usize> = match std::env::args().nth(1) {
        Some(r) => vec![r.parse().expect("usage: bench_kernels [ratio] [fast]")],
        None => vec![8, 1],
    };
    let gpu = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap_or_else(|e| panic!("{e}")));
    println!("Adapter: {}; the engine runs the {:?} core\n", gpu.describe(), wgsl(&gpu).fastest_gemm());
    for ratio in ratios {
        // Batches small enough that the naive kernels finish in seconds at ratio 1.
        let batch = if ratio == 1 { 2 } else { 32 };
        let (mut rows, mut skipped) = (Vec::new(), Vec::new());
        bench_ratio(&gpu, ratio, batch, &mut rows, &mut skipped);
        println!("### Width ratio {ratio}, batch {batch}\n");
        println!("| net | layer | pass | subgroup GFLOP/s | tiled GFLOP/s | naive GFLOP/s | speed-up |");
        println!("|---|---|---|---:|---:|---:|---:|");
        for r in &rows {
            let gflops = |s: f64| r.flops / s / 1e9;
            let subgroup = r.subgroup.map_or("–".to_string(), |s| format!("{:.1}", gflops(s)));
            println!(
                "| {} | {} | {} | {subgroup} | {:.1} | {:.2} | {:.1}× |",
                r.net, r.layer, r.pass, gflops(r.tiled), gflops(r.naive), r.naive / r.engine
            );
        }
        for s in &skipped {
            println!("\nSkipped on this adapter: {s}");
        }
        println!();
        for pass in ["conv forward", "conv input grad", "conv weight grad", "GEMM forward", "GEMM weight grad"] {
            let ratios: Vec<f64> = rows.iter().filter(|r| r.pass == pass).map(|r| (r.naive / r.engine).ln()).collect();
            let (flops, engine): (f64, f64) = rows.iter().filter(|r| r.pass == pass).fold((0.0, 0.0), |(f, t), r| (f + r.flops, t + r.engine));
            println!(
                "- {pass}: geometric-mean speed-up {:.1}× over {} shapes; {:.1} GFLOP/s over all of them",
                (ratios.iter().sum::<f64>() / ratios.len() as f64).exp(),
                ratios.len(),
                flops / engine / 1e9
            );
        }
        let total = |time: &dyn Fn(&Row) -> f64| rows.iter().map(time).sum::<f64>();
        let flops: f64 = rows.iter().map(|r| r.flops).sum();
        let (engine, tiled, naive) = (total(&|r| r.engine), total(&|r| r.tiled), total(&|r| r.naive));
        let subgroup = match wgsl(&gpu).subgroup_size {
            Some(_) => format!("subgroup {:.1}, ", flops / total(&|r| r.subgroup.unwrap()) / 1e9),
            None => String::new(),
        };
        println!(
            "- all passes together (as a training step weighs them): {subgroup}tiled {:.1}, naive {:.2} GFLOP/s: the engine's core takes {:.1}× less time than the naive one",
            flops / tiled / 1e9,
            flops / naive / 1e9,
            naive / engine
        );
        println!();
    }
}
