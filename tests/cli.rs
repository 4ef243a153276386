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

/// `check` runs the self-check on this machine's adapter (lavapipe here): every GEMM core it offers,
/// convolutions, pools and a training step of each net, against the CPU engine. All agree.
#[test]
fn check_finds_the_adapter_agrees_with_the_cpu_engine() {
    let (ok, out, err) = cnnscope(&["check", "--net", "alexnet", "googlenet", "--ratio", "16"]);
    assert!(ok, "{out}\n{err}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("checked on this GPU: ") && last.ends_with(" cases agree with the CPU engine"), "{out}");
    for kernel in ["gemm Tiled: grad w", "convolution: grad x", "max pool: grad x", "training step: grad ", "training step: updated "] {
        assert!(out.contains(kernel), "{kernel} is checked:\n{out}");
    }
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

/// d2l's NiN recipe (batch 128, 224 px) on a 128 MiB binding (lavapipe's, Firefox's, WebGPU's
/// default), where one tensor of the whole batch needs 136.7 MiB: planned on the GPU adapter, then
/// trained for a step on the CPU engine held to the same limit, in two micro-batches of 64 instead
/// of a refusal.
#[test]
fn d2ls_nin_runs_in_micro_batches_on_a_128_mib_binding() {
    let plan = ["summary", "--net", "nin", "--ratio", "1", "--side", "224", "--batch", "128", "--device", "gpu", "--binding-limit", "128"];
    let (ok, out, err) = cnnscope(&plan);
    assert!(ok, "{err}");
    assert!(err.contains("binding at most 128.0 MiB per buffer, as asked"), "{err}");
    assert!(out.contains("memory: training at batch 128 in 2 micro-batches of 64 with Adam takes "), "{out}");

    let train = ["train", "--net", "nin", "--d2l", "--device", "cpu", "--binding-limit", "128", "--limit", "128", "--epochs", "1"];
    let (ok, out, err) = cnnscope(&train);
    assert!(ok, "{err}");
    assert!(err.contains("batch 128") && err.contains("each step runs in 2 micro-batches of 64 (their gradients added up, then one update)"), "{err}");
    assert!(out.starts_with("epoch 1, loss "), "{out}");

    let (ok, _, err) = cnnscope(&["train", "--net", "nin", "--binding-limit", "0"]);
    assert!(!ok);
    assert!(err.contains("\"0\" is not a size in MiB: give a whole number from 1 to 1048576 (1 TiB)"), "{err}");
}

/// A weights file's tensors by name, as bytes (the header's metadata order is a HashMap's).
fn tensors(file: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let st = safetensors::SafeTensors::deserialize(file).unwrap();
    st.tensors().into_iter().map(|(name, t)| (name, t.data().to_vec())).collect()
}

/// A run of two epochs equals one epoch, a checkpoint, and a second epoch resumed from it: the
/// saved weights bit for bit and the second epoch's line. A diverging run leaves the last
/// checkpoint, which resumes with another rate.
#[test]
fn checkpoint_and_resume() {
    let dir = std::env::temp_dir().join(format!("cnnscope-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let base = ["train", "--net", "alexnet", "--ratio", "16", "--side", "67", "--batch", "32", "--limit", "256"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        cnnscope(&args)
    };
    let epoch_2 = |out: &str| out.lines().find(|l| l.starts_with("epoch 2,")).map(|l| l.split(", time").next().unwrap().to_string());

    // Zero epochs with --save saves the initial weights.
    let (ok, _, err) = run(&["--epochs", "0", "--save", &path("initial.safetensors")]);
    assert!(ok && std::fs::metadata(path("initial.safetensors")).is_ok(), "{err}");
    let (ok, whole, err) = run(&["--epochs", "2", "--save", &path("whole.safetensors")]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["--epochs", "1", "--checkpoint", &path("run.ckpt")]);
    assert!(ok, "{err}");
    let ckpt = path("run.ckpt");
    // The checkpoint names its net: no --net needed.
    let resume = ["train", "--limit", "256", "--resume", &ckpt, "--epochs", "2"];
    let (ok, resumed, err) = cnnscope(&[&resume[..], &["--save", &path("resumed.safetensors")]].concat());
    assert!(ok, "{err}");
    assert!(err.contains("resuming at step 8 (epoch 2, batch 0) from"), "{err}");
    assert_eq!(epoch_2(&resumed), epoch_2(&whole), "{resumed}\n{whole}");
    assert!(!resumed.contains("epoch 1,"), "the resumed run starts at epoch 2: {resumed}");
    let (resumed, whole) = (std::fs::read(path("resumed.safetensors")).unwrap(), std::fs::read(path("whole.safetensors")).unwrap());
    assert!(tensors(&resumed) == tensors(&whole), "the resumed run's weights differ from the whole run's");

    // Diverging in epoch 2 keeps epoch 1's checkpoint and says how to go on.
    let (ok, _, err) = cnnscope(&[&resume[..], &["--lr", "1e9", "--checkpoint", &ckpt]].concat());
    assert!(!ok);
    assert!(err.contains("error: training diverged at step 16: the loss is "), "{err}");
    assert!(err.contains(&format!("note: {ckpt} holds the run as it was at its last checkpoint; continue it with `--resume {ckpt} --lr 100000000`")), "{err}");
    // Flags that agree with the checkpoint are fine.
    let (ok, out, err) = cnnscope(&[&resume[..], &["--lr", "1e-3", "--net", "alexnet", "--batch", "32", "--seed", "0"]].concat());
    assert!(ok, "{err}");
    assert!(err.contains("resuming at step 8"), "{err}");
    assert!(out.starts_with("epoch 2, loss "), "{out}");

    // Flags that would change the run are refused with what the checkpoint holds.
    for (flags, holds) in [
        (&["--batch", "64"][..], "--batch 64 contradicts"),
        (&["--batch", "64"][..], "which trains at batch 32: leave --batch out to go on with that run"),
        (&["--net", "nin"][..], "--net nin contradicts"),
        (&["--ratio", "8"][..], "which holds width ratio 16"),
        (&["--side", "64"][..], "which trains at side 67"),
        (&["--opt", "sgd"][..], "which trains with Adam(lr="),
        (&["--seed", "3"][..], "which was seeded with 0"),
        (&["--augment"][..], "which trains without augmentation"),
        (&["--d2l"][..], "--d2l only picks a new run's"),
    ] {
        let (ok, _, err) = cnnscope(&[&resume[..], flags].concat());
        assert!(!ok && err.contains(holds) && err.contains(&ckpt), "{flags:?}: {err}");
    }
    let (ok, _, err) = cnnscope(&["train", "--limit", "256", "--epochs", "1"]);
    assert!(!ok && err.contains("which network? Give --net"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Saves as a database would: `x.ckpt` and `x.safetensors` beside each other both land whole, and
/// no temporary file stays behind. A checkpoint that cannot be written mid-run is a warning and
/// training goes on; the last epoch's, the run's result, fails the run.
#[test]
fn saves_are_whole_and_a_failed_checkpoint_does_not_end_training() {
    let dir = std::env::temp_dir().join(format!("cnnscope-saves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let base = ["train", "--net", "alexnet", "--ratio", "16", "--side", "67", "--batch", "32", "--limit", "128", "--epochs", "2"];
    let (ok, _, err) = cnnscope(&[&base[..], &["--checkpoint", &path("x.ckpt"), "--save", &path("x.safetensors")]].concat());
    assert!(ok, "{err}");
    assert!(std::fs::read(path("x.ckpt")).unwrap().len() > 1000 && std::fs::read(path("x.safetensors")).unwrap().len() > 1000);
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["x.ckpt", "x.safetensors"], "only the two files, no temporary one");

    let missing = dir.join("no such folder").join("y.ckpt");
    let (ok, out, err) = cnnscope(&[&base[..], &["--checkpoint", missing.to_str().unwrap()]].concat());
    assert!(!ok, "the last epoch's checkpoint failing fails the run");
    assert!(err.contains(&format!("warning: the checkpoint was not saved: weights file: cannot write {}", missing.display())), "{err}");
    assert!(err.contains("training goes on"), "{err}");
    assert!(out.contains("epoch 1,") && out.contains("epoch 2,"), "training went on after the failed save: {out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
