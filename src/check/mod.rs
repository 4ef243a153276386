//! The self-check (issue 31): the WGSL engine proves itself on an adapter before anyone trusts it
//! there. The same work runs on the adapter's WGSL kernels and on the CPU engine, from the same
//! inputs, and the two are compared: each GEMM core the adapter offers at awkward shapes (one
//! row, odd sizes, a long reduction), convolutions (odd sizes, padding, strides, channel counts
//! that are not multiples of 4), max and average pooling, forward and backward; then one whole
//! training step of a net — its loss, every gradient and every updated weight. No GPU in any test
//! machine has run these kernels; this is how a user's does, in seconds (`cnnscope check`), and
//! natively `--device auto` runs it once per adapter before it trains there ([`remembered`]).
//!
//! A case agrees when its largest difference, relative to the largest magnitude the CPU engine
//! computed, is within [`TOLERANCE`]: float sums in another order differ by ~1e-6 of that here
//! (lavapipe, 2 cores), a wrong index or a lost row by order 1.

#[cfg(not(target_arch = "wasm32"))]
pub mod remembered;

use crate::engine::error::Result;
use crate::model::{Init, Model};
use crate::net::{Net, NetConfig};
use crate::ops::{Conv2d, Linear, Pool2d, relu_backward};
use crate::train::{Optimizer, TrainConfig, Trainer};
use crate::{DType, Device, GemmCore, Recorder, Tensor};

/// The largest difference a case may show, relative to the largest magnitude of the CPU engine's
/// result: 1e-3, the kernel tests' own tolerance against PyTorch.
pub const TOLERANCE: f64 = 1e-3;

/// One comparison: which kernel, on what shape, and how far apart the engines came out.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The kernel family and what it computed ("gemm subgroup: grad w").
    pub kernel: String,
    pub shape: String,
    /// The largest difference, relative to the largest magnitude the CPU engine computed.
    pub error: f64,
}

impl Case {
    pub fn agrees(&self) -> bool {
        self.error <= TOLERANCE
    }
}

/// Every case the check compared, on one adapter.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The adapter, as `Device::describe` names it.
    pub adapter: String,
    pub cases: Vec<Case>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.cases.iter().all(Case::agrees)
    }

    /// The verdict in one line: how many cases agree, or how many differ and what to do.
    pub fn verdict(&self) -> String {
        match self.cases.iter().filter(|c| !c.agrees()).count() {
            0 => format!("checked on this GPU: {} cases agree with the CPU engine", self.cases.len()),
            n => format!("{n} of {} cases differ from the CPU engine: do not train on this adapter's WGSL engine (use --device cpu), and report this output", self.cases.len()),
        }
    }

    /// The report as text: a line per case, the failures marked, and the verdict.
    pub fn text(&self) -> String {
        let mut lines = vec![format!("self-check of the WGSL engine on {} against the CPU engine (tolerance {TOLERANCE:e})", self.adapter)];
        for case in &self.cases {
            let verdict = if case.agrees() { "ok" } else { "DIFFERS" };
            lines.push(format!("  {:<36} {:<28} {:>9.2e}  {verdict}", case.kernel, case.shape, case.error));
        }
        lines.push(self.verdict());
        lines.join("\n")
    }
}

/// The largest difference of `got` from `want`, relative to `want`'s largest magnitude (or
/// infinite where a value is not finite, or the lengths differ).
pub fn relative_error(got: &[f32], want: &[f32]) -> f64 {
    if got.len() != want.len() || got.iter().chain(want).any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let scale = want.iter().fold(0f64, |m, &v| m.max(f64::from(v.abs())));
    let worst = got.iter().zip(want).fold(0f64, |m, (&a, &b)| m.max(f64::from((a - b).abs())));
    if scale == 0.0 { worst } else { worst / scale }
}

/// The GEMM shapes checked (batch, in, out): one row, odd sizes around a tile's edge, a long
/// reduction (split-k), wide outputs.
const GEMMS: [(usize, usize, usize); 6] = [(1, 1, 1), (7, 13, 5), (33, 64, 17), (64, 257, 129), (2, 2304, 10), (130, 9, 300)];

/// The convolutions checked (channels in, out, kernel, stride, padding, side): 3×3 with padding,
/// AlexNet's 11×11 at stride 4, 5×5 at stride 2, 1×1 (NiN's and Inception's), channels that are
/// not multiples of 4.
const CONVS: [(usize, usize, usize, usize, usize, usize); 4] = [(3, 5, 3, 1, 1, 9), (1, 6, 11, 4, 1, 35), (7, 6, 5, 2, 2, 13), (9, 4, 1, 1, 0, 6)];

/// What the check runs: GEMMs on each core, convolutions, pools, then a training step of each of
/// `nets`; `progress(done, total)` after each piece.
pub async fn run(gpu: &Device, cpu: &Device, nets: &[NetConfig], mut progress: impl FnMut(usize, usize)) -> Result<Report> {
    let cores = gpu.gpu_ref().map_or_else(|| vec![GemmCore::default()], crate::Gpu::gemm_cores);
    let total = cores.len() * GEMMS.len() + CONVS.len() + 2 + nets.len();
    let mut cases = Vec::new();
    let mut done = 0;
    for core in cores {
        for (i, &(batch, inputs, outputs)) in GEMMS.iter().enumerate() {
            let layer = Linear { in_features: inputs, out_features: outputs, relu: true };
            let seed = i as u64;
            let (got, want) = (linear(gpu, layer, batch, seed, Some(core)).await?, linear(cpu, layer, batch, seed, None).await?);
            compare(&mut cases, &format!("gemm {core:?}"), &format!("{batch}×{inputs} → {outputs}"), &["y", "grad x", "grad w", "grad b"], &got, &want);
            done += 1;
            progress(done, total);
        }
    }
    for (i, &(cin, cout, kernel, stride, padding, side)) in CONVS.iter().enumerate() {
        let conv = Conv2d { in_channels: cin, out_channels: cout, kernel, stride, padding, relu: true };
        let seed = 100 + i as u64;
        let (got, want) = (convolution(gpu, conv, side, seed).await?, convolution(cpu, conv, side, seed).await?);
        let shape = format!("3×{cin}×{side}×{side}, {kernel}×{kernel}/{stride} p{padding} → {cout}");
        compare(&mut cases, "convolution", &shape, &["y", "grad x", "grad w", "grad b"], &got, &want);
        done += 1;
        progress(done, total);
    }
    for (name, pool) in [("max pool", Pool2d::max(3, 2, 1)), ("average pool", Pool2d::average(2, 2, 0))] {
        let (got, want) = (pooling(gpu, pool, 200).await?, pooling(cpu, pool, 200).await?);
        compare(&mut cases, name, "3×5×11×11", &["y", "grad x"], &got, &want);
        done += 1;
        progress(done, total);
    }
    for net in nets {
        let (got, want) = (training_step(gpu, net).await?, training_step(cpu, net).await?);
        let shape = format!("{} ÷{} at {}", net.arch, net.ratio, net.side);
        compare(&mut cases, "training step", &shape, &got.0, &got.1, &want.1);
        done += 1;
        progress(done, total);
    }
    Ok(Report { adapter: gpu.describe(), cases })
}

/// The nets whose training step the check takes: `archs` at width ÷`ratio`, each at its quick
/// recipe's side unless `side` is given (all four when none is named).
pub fn nets(archs: &[crate::net::Arch], ratio: usize, side: Option<usize>) -> Vec<NetConfig> {
    archs
        .iter()
        .cloned()
        .map(|arch| {
            let recipe = crate::train::Recipe::quick(arch.clone());
            NetConfig { arch, ratio, side: side.unwrap_or(recipe.net.side), second_hidden: true }
        })
        .collect()
}

/// Natively, the engine `choice` asks for ([`Device::open`]), where `auto` trusts a real GPU only
/// once its self-check agrees with the CPU engine ([`trusted`]), else trains on the CPU engine
/// and says why. `gpu` still forces the WGSL engine.
#[cfg(not(target_arch = "wasm32"))]
pub async fn open(choice: crate::Choice) -> Result<(Device, crate::engine::device::Picked)> {
    let (device, picked) = Device::open(choice).await?;
    let Some(name) = device.gpu_ref().filter(|_| choice == crate::Choice::Auto).map(crate::Gpu::name) else { return Ok((device, picked)) };
    Ok(match trusted(&device).await {
        Ok(checked) => (device, crate::engine::device::Picked { reason: format!("{} ({checked})", picked.reason) }),
        Err(why) => {
            let reason = format!("the WGSL engine on {name} differs from the CPU engine ({why}; `cnnscope check` prints the report): training on the CPU engine");
            (Device::cpu(), crate::engine::device::Picked { reason })
        }
    })
}

/// Natively, for `--device auto` on a real GPU: whether its WGSL engine may be trusted, by the
/// self-check's verdict on its adapter, remembered ([`remembered`]) or taken now (the four nets at
/// ÷16: about a second on lavapipe). `Ok` says so for the engine's reason; `Err` says why not, and
/// the caller trains on the CPU engine.
#[cfg(not(target_arch = "wasm32"))]
pub async fn trusted(gpu: &Device) -> std::result::Result<String, String> {
    trusted_by(gpu, remembered::file().as_deref(), &nets(&crate::net::Arch::ALL, 16, None)).await
}

/// [`trusted`], remembering in `file` (none: check at every call), checking the training steps of
/// `nets`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn trusted_by(gpu: &Device, file: Option<&std::path::Path>, nets: &[NetConfig]) -> std::result::Result<String, String> {
    let Some(adapter) = gpu.gpu_ref() else { return Ok(String::new()) };
    let identity = remembered::identity(&adapter.info);
    let verdict = match file.and_then(|f| remembered::lookup(f, &identity)) {
        Some(verdict) => verdict,
        None => {
            let verdict = match run(gpu, &Device::cpu(), nets, |_, _| {}).await {
                Ok(report) => remembered::Verdict::of(&report),
                Err(e) => remembered::Verdict { passed: false, summary: format!("its self-check could not run ({e})") },
            };
            if let Some(file) = file {
                let _ = remembered::store(file, &identity, &verdict);
            }
            verdict
        }
    };
    match verdict.passed {
        true => Ok(verdict.summary),
        false => Err(verdict.summary),
    }
}

/// A case per output (`names`, in order) of one piece of work on both engines.
fn compare(cases: &mut Vec<Case>, kernel: &str, shape: &str, names: &[impl AsRef<str>], got: &[Vec<f32>], want: &[Vec<f32>]) {
    for ((name, got), want) in names.iter().zip(got).zip(want) {
        cases.push(Case { kernel: format!("{kernel}: {}", name.as_ref()), shape: shape.to_string(), error: relative_error(got, want) });
    }
}

fn upload(device: &Device, shape: &[usize], seed: u64, what: &str) -> Result<Tensor> {
    Tensor::from_f32(device, shape, &crate::reference::random(shape.iter().product(), seed), what)
}

async fn read_all(device: &Device, tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        out.push(t.read_f32(device).await?);
    }
    Ok(out)
}

/// A linear layer with ReLU, forward and backward: y, grad x, grad w, grad b.
async fn linear(device: &Device, layer: Linear, batch: usize, seed: u64, core: Option<GemmCore>) -> Result<Vec<Vec<f32>>> {
    let (i, o) = (layer.in_features, layer.out_features);
    let x = upload(device, &[batch, i], seed, "x")?;
    let w = upload(device, &[o, i], seed + 1, "w")?;
    let b = upload(device, &[o], seed + 2, "b")?;
    let gy = upload(device, &[batch, o], seed + 3, "grad y")?;
    let y = Tensor::zeros(device, &[batch, o], DType::F32, "y")?;
    let gx = Tensor::zeros(device, &[batch, i], DType::F32, "grad x")?;
    let gw = Tensor::zeros(device, &[o, i], DType::F32, "grad w")?;
    let gb = Tensor::zeros(device, &[o], DType::F32, "grad b")?;
    let mut rec = Recorder::new(device);
    if let Some(core) = core {
        rec.set_gemm_core(core);
    }
    layer.forward(&mut rec, &x, &w, &b, &y)?;
    relu_backward(&mut rec, &y, &gy)?;
    layer.backward_input(&mut rec, &gy, &w, &gx)?;
    layer.backward_weight(&mut rec, &gy, &x, &gw)?;
    layer.backward_bias(&mut rec, &gy, &gb)?;
    rec.submit();
    read_all(device, &[&y, &gx, &gw, &gb]).await
}

/// A convolution with ReLU on 3 images, forward and backward: y, grad x, grad w, grad b.
async fn convolution(device: &Device, conv: Conv2d, side: usize, seed: u64) -> Result<Vec<Vec<f32>>> {
    let (h, w) = conv.output_size(side, side)?;
    let x = upload(device, &[3, conv.in_channels, side, side], seed, "x")?;
    let weight = upload(device, &conv.weight_shape(), seed + 1, "w")?;
    let bias = upload(device, &[conv.out_channels], seed + 2, "b")?;
    let gy = upload(device, &[3, conv.out_channels, h, w], seed + 3, "grad y")?;
    let y = Tensor::zeros(device, &[3, conv.out_channels, h, w], DType::F32, "y")?;
    let gx = Tensor::zeros(device, x.shape(), DType::F32, "grad x")?;
    let gw = Tensor::zeros(device, weight.shape(), DType::F32, "grad w")?;
    let gb = Tensor::zeros(device, &[conv.out_channels], DType::F32, "grad b")?;
    let mut rec = Recorder::new(device);
    conv.forward(&mut rec, x.view()?, &weight, &bias, y.view()?)?;
    relu_backward(&mut rec, &y, &gy)?;
    conv.backward_input(&mut rec, gy.view()?, &weight, gx.view()?, false)?;
    conv.backward_weight(&mut rec, gy.view()?, x.view()?, &gw)?;
    conv.backward_bias(&mut rec, gy.view()?, &gb)?;
    rec.submit();
    read_all(device, &[&y, &gx, &gw, &gb]).await
}

/// A pool over 3 images of 5 channels, 11×11, forward and backward: y, grad x.
async fn pooling(device: &Device, pool: Pool2d, seed: u64) -> Result<Vec<Vec<f32>>> {
    let (h, w) = pool.output_size(11, 11)?;
    let x = upload(device, &[3, 5, 11, 11], seed, "x")?;
    let gy = upload(device, &[3, 5, h, w], seed + 1, "grad y")?;
    let y = Tensor::zeros(device, &[3, 5, h, w], DType::F32, "y")?;
    let gx = Tensor::zeros(device, x.shape(), DType::F32, "grad x")?;
    let argmax = match pool.kind {
        crate::ops::PoolKind::Max => Some(Tensor::zeros(device, &[3, 5, h, w], DType::U32, "argmax")?),
        _ => None,
    };
    let mut rec = Recorder::new(device);
    pool.forward(&mut rec, &x, &y, argmax.as_ref())?;
    pool.backward(&mut rec, &gy, argmax.as_ref(), &gx)?;
    rec.submit();
    read_all(device, &[&y, &gx]).await
}

/// One training step of `net` (batch 8, Adam, synthetic images, dropout on): the names of what
/// it compares — the loss, each parameter's gradient, each updated parameter — and their values.
async fn training_step(device: &Device, net: &NetConfig) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    let batch = 8;
    let net = Net::new(net.clone())?;
    let model = Model::new(device, net, Init::Default, 7)?;
    let side = 28;
    let pixels: Vec<u8> = crate::reference::random(batch * side * side, 300).iter().map(|v| ((v + 1.0) * 127.5) as u8).collect();
    let labels: Vec<u8> = (0..batch as u8).map(|i| i % 10).collect();
    let images = crate::data::Images { count: batch, rows: side, cols: side, pixels };
    let split = crate::data::Split { images, labels };
    let config = TrainConfig { batch, optimizer: Optimizer::Adam(crate::ops::Adam { lr: 1e-3, ..Default::default() }), seed: 7, augment: false };
    let mut trainer = Trainer::new(device, model, split.upload(device)?, config)?;
    trainer.step(device)?;
    let stats = trainer.stats(device).await?;
    let names: Vec<String> = trainer.model.params.specs.iter().map(|s| s.name.clone()).collect();
    let mut compared = vec!["loss".to_string()];
    let mut values = vec![vec![stats.loss_sum as f32]];
    for (name, grad) in names.iter().zip(trainer.gradients()) {
        compared.push(format!("grad {name}"));
        values.push(grad.read_f32(device).await?);
    }
    for (name, param) in names.iter().zip(trainer.model.params.read(device).await?) {
        compared.push(format!("updated {name}"));
        values.push(param);
    }
    Ok((compared, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measure: relative to the reference's largest magnitude, infinite for what is not a number
    /// or not the same length; a case past the tolerance is marked and the verdict says what to do.
    #[test]
    fn a_difference_is_measured_and_reported() {
        assert_eq!(relative_error(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(relative_error(&[1.0, 2.5], &[1.0, 2.0]), 0.25);
        assert_eq!(relative_error(&[0.0, 1e-9], &[0.0, 0.0]), f64::from(1e-9f32), "an all-zero reference: the plain difference");
        assert_eq!(relative_error(&[f32::NAN], &[1.0]), f64::INFINITY);
        assert_eq!(relative_error(&[1.0], &[1.0, 2.0]), f64::INFINITY);
        let case = |error| Case { kernel: "gemm Tiled: grad w".into(), shape: "7×13 → 5".into(), error };
        let good = Report { adapter: "lavapipe".into(), cases: vec![case(1e-7), case(TOLERANCE)] };
        assert!(good.passed());
        assert!(good.text().ends_with("checked on this GPU: 2 cases agree with the CPU engine"), "{}", good.text());
        let bad = Report { adapter: "lavapipe".into(), cases: vec![case(1e-7), case(0.5)] };
        assert!(!bad.passed());
        assert!(bad.text().contains("DIFFERS"), "{}", bad.text());
        assert!(bad.text().ends_with("1 of 2 cases differ from the CPU engine: do not train on this adapter's WGSL engine (use --device cpu), and report this output"));
    }
}
