//! ONNX export checked by onnxruntime (issue 23.5): each of the four nets at ÷16 and an own
//! design with Inception is trained briefly, exported by `cnnscope export` (from weights files and
//! from a checkpoint), and run by onnxruntime on the first 1,000 test images; its predicted
//! classes must equal `cnnscope eval --predictions` image for image, and its logits cnnscope's
//! (`tests/onnx/check.py`, which needs Python with onnx and onnxruntime). Bad input to `export`
//! is refused with the reason.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

use cnnscope::data::FashionMnist;
use cnnscope::model::weights::{self, SavedNet};
use cnnscope::model::{Graph, Init, Model};
use cnnscope::net::{Arch, Net, NetConfig};
use cnnscope::{DType, Device, Recorder, Tensor};

/// Test images compared.
const COUNT: usize = 1000;

fn cnnscope(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cnnscope")).args(args).output().expect("the binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(cnnscope::data::DEFAULT_DIR)
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnnscope-onnx-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// cnnscope's logits for the first `count` test images of the network a weights file holds,
/// computed on the CPU engine as evaluation computes them: the batch gathered and resized, then
/// the forward pass without dropout.
fn logits(file: &Path, count: usize) -> Vec<f32> {
    let bytes = std::fs::read(file).unwrap();
    let saved = SavedNet::read(&bytes).unwrap();
    let net = Net::new(saved.config(NetConfig::new(saved.arch.clone().unwrap(), 1))).unwrap();
    let device = Device::cpu();
    let model = Model::new(&device, net, Init::Default, 0).unwrap();
    model.load_weights(&device, &bytes).unwrap();
    let test = FashionMnist::load(&data_dir()).unwrap().test.truncated(count).upload(&device).unwrap();
    let mut graph = Graph::new(&device, &model.net, count, false).unwrap();
    let order: Vec<u32> = (0..count as u32).collect();
    let order = Tensor::from_u32(&device, &[count], &order, "order").unwrap();
    let labels = Tensor::zeros(&device, &[count], DType::U32, "labels").unwrap();
    let mut rec = Recorder::new(&device);
    cnnscope::ops::gather_resize(&mut rec, &test.pixels, test.side, &test.labels, &order, 0, graph.input(), &labels, None).unwrap();
    graph.forward(&mut rec, &model.params, false, 0).unwrap();
    rec.submit();
    pollster::block_on(graph.logits().read_f32(&device)).unwrap()
}

/// Trains `net` briefly (2,048 images, one epoch: enough for most test images to get a class of
/// their own, so predictions are more than one class everywhere), saves it (`--save`, or `--checkpoint` with
/// `checkpoint`), exports it, and has onnxruntime check the model against `cnnscope eval`.
fn exported_model_agrees(name: &str, net: &[&str], checkpoint: bool) {
    let dir = scratch(name);
    let saved = dir.join(if checkpoint { "run.ckpt" } else { "weights.safetensors" });
    let (model, predictions, logits_file) = (dir.join("model.onnx"), dir.join("predictions.txt"), dir.join("logits.f32"));
    let save = if checkpoint { "--checkpoint" } else { "--save" };
    let mut train = vec!["train", "--device", "cpu", "--batch", "32", "--limit", "2048", "--epochs", "1", save, text(&saved)];
    train.extend(net);
    let (ok, _, err) = cnnscope(&train);
    assert!(ok, "{err}");

    let (ok, _, err) = cnnscope(&["export", text(&saved), text(&model)]);
    assert!(ok, "{err}");
    assert!(err.contains("ONNX opset 17") && err.contains("output logits: batch × 10"), "{err}");

    let limit = COUNT.to_string();
    let (ok, out, err) = cnnscope(&["eval", "--device", "cpu", "--weights", text(&saved), "--limit", &limit, "--predictions", text(&predictions)]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("on {COUNT} images")), "{out}");
    let lines = std::fs::read_to_string(&predictions).unwrap();
    assert_eq!(lines.lines().count(), COUNT, "one prediction per evaluated image");

    let values = logits(&saved, COUNT);
    std::fs::write(&logits_file, bytemuck::cast_slice::<f32, u8>(&values)).unwrap();
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx/check.py");
    let out = Command::new(python())
        .arg(&check)
        .args([text(&model), "--data", text(&data_dir()), "--predictions", text(&predictions), "--logits", text(&logits_file)])
        .args(["--count", &limit])
        .output()
        .expect("python runs (tests/onnx/check.py needs onnx and onnxruntime: scripts/setup.sh --pytorch)");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{name}: {stdout}");
    assert!(out.status.success(), "{name}: onnxruntime disagrees with cnnscope:\n{stdout}{stderr}");
    assert!(stdout.contains(&format!("{COUNT} predictions agree")), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn alexnet() {
    exported_model_agrees("alexnet", &["--net", "alexnet", "--ratio", "16", "--side", "67"], false);
}

#[test]
fn vgg11() {
    exported_model_agrees("vgg11", &["--net", "vgg11", "--ratio", "16", "--side", "32"], false);
}

#[test]
fn nin() {
    // At ÷16 NiN's ReLUs die within an epoch for this seed (every image the same class).
    exported_model_agrees("nin", &["--net", "nin", "--ratio", "8", "--side", "67", "--init", "xavier"], false);
}

/// From a checkpoint: its optimiser buffers are not exported.
#[test]
fn googlenet_from_a_checkpoint() {
    // At ÷16 with PyTorch's init it still answers one class after an epoch.
    exported_model_agrees("googlenet", &["--net", "googlenet", "--ratio", "8", "--side", "32", "--init", "xavier"], true);
}

/// An own design (÷2 at 28) with what the four nets do not have: an average pool whose padding counts as
/// zeros, a linear layer that meets an image (flattened with no module), named groups, and an
/// Inception block between plain layers.
const DESIGN: &str = "\
stem: {
  conv 16 k=5 p=2
  relu
  maxpool k=2
}
inception 8 (8, 16) (4, 8) 8
avgpool k=3 s=2 p=1
nin_block 16 k=3 p=1
dropout 0.3
head: {
  linear 32
  relu
  dropout 0.5
  linear 10
}
";

#[test]
fn own_design_with_inception() {
    let dir = scratch("design");
    let design = dir.join("mine.net");
    std::fs::write(&design, DESIGN).unwrap();
    exported_model_agrees("own", &["--net", text(&design), "--ratio", "2", "--side", "28", "--init", "xavier"], false);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Modules named like the graph's input (`image`) and output (`logits`): each value is still
/// defined once, and onnxruntime runs the model (it refused the graph that defined `image` twice,
/// issue 33.8).
#[test]
fn modules_named_like_the_graphs_input_and_output() {
    let dir = scratch("names-design");
    let design = dir.join("names.net");
    std::fs::write(&design, "image: conv 16 k=3 p=1\nlogits: relu\nmaxpool k=2\nflatten\nlinear 10\n").unwrap();
    exported_model_agrees("names", &["--net", text(&design), "--ratio", "1", "--side", "28", "--init", "xavier"], false);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every bad input to `export` is an error with the reason, never a panic, and writes nothing.
#[test]
fn bad_input_to_export_is_refused() {
    let dir = scratch("bad");
    let model = dir.join("model.onnx");
    let missing = dir.join("missing.safetensors");
    let refused = |args: &[&str], expected: &str| {
        let (ok, _, err) = cnnscope(args);
        assert!(!ok && err.starts_with("error: ") && err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!model.exists(), "{args:?} wrote {}", model.display());
    };
    refused(&["export", text(&missing), text(&model)], &format!("cannot read {}", missing.display()));

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"not a weights file").unwrap();
    refused(&["export", text(&garbage), text(&model)], "not a valid safetensors file");

    // Weights with no network named need --net; with the wrong one, the keys are listed.
    let net = Net::new(NetConfig::new(Arch::Nin, 16).with_side(67)).unwrap();
    let specs = net.root.params("");
    let mut values: Vec<Vec<f32>> = specs.iter().map(|s| vec![0.01; s.len()]).collect();
    let anonymous = dir.join("anonymous.safetensors");
    std::fs::write(&anonymous, weights::to_safetensors(&specs, &values, None).unwrap()).unwrap();
    refused(&["export", text(&anonymous), text(&model)], "does not name its network: pass --net");
    refused(&["export", text(&anonymous), text(&model), "--net", "alexnet", "--ratio", "16", "--side", "67"], "it does not fit this network (missing conv.0.bias");
    let (ok, _, err) = cnnscope(&["export", text(&anonymous), text(&model), "--net", "nin", "--ratio", "16", "--side", "67"]);
    assert!(ok && model.exists(), "{err}");
    std::fs::remove_file(&model).unwrap();

    // A diverged run's weights are not exported.
    values[2][5] = f32::INFINITY;
    let diverged = dir.join("diverged.safetensors");
    std::fs::write(&diverged, weights::to_safetensors(&specs, &values, Some(weights::net_metadata(&net.config))).unwrap()).unwrap();
    refused(&["export", text(&diverged), text(&model)], "0.2.weight holds inf at index 5: the network has diverged");

    // Nowhere to write, or over the file being exported.
    let nowhere = dir.join("no-such-dir").join("model.onnx");
    let (ok, _, err) = cnnscope(&["export", text(&anonymous), text(&nowhere), "--net", "nin", "--ratio", "16", "--side", "67"]);
    assert!(!ok && err.contains(&format!("cannot write {}", nowhere.display())), "{err}");
    refused(&["export", text(&anonymous), text(&anonymous), "--net", "nin"], "is the file being exported");
    assert!(std::fs::read(&anonymous).unwrap().len() > 1000, "the weights file was kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `eval --predictions` honours `--limit`, and `--limit 0` is refused.
#[test]
fn eval_writes_predictions() {
    let dir = scratch("eval");
    let weights_file = dir.join("w.safetensors");
    let net = Net::new(NetConfig::new(Arch::Vgg11, 16).with_side(32)).unwrap();
    let specs = net.root.params("");
    let values: Vec<Vec<f32>> = specs.iter().enumerate().map(|(i, s)| (0..s.len()).map(|j| ((i * 7 + j * 13) % 17) as f32 / 170.0 - 0.05).collect()).collect();
    std::fs::write(&weights_file, weights::to_safetensors(&specs, &values, Some(weights::net_metadata(&net.config))).unwrap()).unwrap();
    let predictions = dir.join("p.txt");
    let (ok, out, err) = cnnscope(&["eval", "--device", "cpu", "--weights", text(&weights_file), "--limit", "37", "--predictions", text(&predictions)]);
    assert!(ok, "{err}");
    assert!(out.contains("on 37 images"), "{out}");
    let lines: Vec<u8> = std::fs::read_to_string(&predictions).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(lines.len(), 37);
    assert!(lines.iter().all(|&c| c < 10));
    let (ok, _, err) = cnnscope(&["eval", "--weights", text(&weights_file), "--limit", "0"]);
    assert!(!ok && err.contains("--limit: 0 images"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The Python with onnx and onnxruntime, as scripts/pytorch_python.sh chooses it: `$PYTHON`, else
/// the environment `scripts/setup.sh` made (target/pytorch-venv), else python3 (a `cargo test`
/// run before setup, where the tests that need it say what is missing).
fn python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pytorch-venv/bin/python");
    if venv.exists() { venv } else { "python3".into() }
}
