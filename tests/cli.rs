//! The command-line trainer as a user runs it: the layer table, a clear error for an impossible
//! side, and a short training run whose saved weights evaluate to the accuracy it reported.
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

fn cnnscope(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cnnscope")).args(args).output().expect("the binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn summary_prints_the_layer_table() {
    let (ok, out, _) = cnnscope(&["summary", "--net", "vgg11", "--ratio", "8", "--side", "224"]);
    assert!(ok);
    assert!(out.starts_with("VGG-11 · width ÷8 · input 224×224\n"), "{out}");
    let block = out.lines().find(|l| l.starts_with("vgg_block_1 ")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(block.split_whitespace().collect::<Vec<_>>(), ["vgg_block_1", "Sequential", "8×112×112", "80", "7.23", "M"]);
    assert!(out.lines().last().unwrap().contains("2,018,346"), "{out}");
}

#[test]
fn an_impossible_side_is_explained() {
    let (ok, _, err) = cnnscope(&["summary", "--net", "alexnet", "--side", "28"]);
    assert!(!ok);
    assert_eq!(err.trim(), "error: AlexNet: needs an input side of at least 67, got 28");
}

#[test]
fn train_save_and_eval() {
    let weights = std::env::temp_dir().join(format!("cnnscope-cli-{}.safetensors", std::process::id()));
    let w = weights.to_str().unwrap();
    let train = ["train", "--net", "nin", "--ratio", "16", "--side", "67", "--batch", "32", "--limit", "256", "--save", w];
    let (ok, out, err) = cnnscope(&train);
    assert!(ok, "{err}");
    let line = out.lines().find(|l| l.starts_with("epoch 1, loss ")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("train acc") && line.contains("test acc") && line.ends_with("images/s"), "{line}");

    let (ok, out, err) = cnnscope(&["eval", "--weights", w, "--batch", "100"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("NiN · width ÷16 · input 67×67: test loss "), "{out}");
    assert!(out.contains("on 10000 images"), "{out}");

    // Training goes on from the saved weights; their net, width and side come from the file.
    let (ok, out, err) = cnnscope(&["train", "--net", "nin", "--weights", w, "--batch", "32", "--limit", "256"]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("starting from the weights in {w}")) && err.contains("NiN · width ÷16 · input 67×67"), "{err}");
    assert!(out.starts_with("epoch 1, loss "), "{out}");

    // A file for another network is refused with the reason.
    let (ok, _, err) = cnnscope(&["eval", "--weights", w, "--net", "alexnet", "--side", "67"]);
    assert!(!ok);
    assert!(err.contains("it does not fit this network (missing conv.0.bias"), "{err}");
    std::fs::remove_file(&weights).unwrap();
}
