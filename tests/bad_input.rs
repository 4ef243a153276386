//! Every bad input a user can hand the engine or the CLI, with the message cnnscope answers. Each
//! case runs for real (the CLI as a process, files through the parsers) and docs/BAD_INPUT.md's
//! table must hold the same row: `| input | message |`, where `…` in the message stands
//! for what depends on the adapter or the machine. The app's own inputs (knobs, URL parameters,
//! pictures) are checked the same way in app/tests/browser.rs and the end-to-end test.
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

use cnnscope::data::FashionMnist;
use cnnscope::data::picture::fashion_pixels;
use cnnscope::model::weights::{from_safetensors, to_safetensors};
use cnnscope::net::{Arch, Net, NetConfig};

const BAD_INPUT: &str = include_str!("../docs/BAD_INPUT.md");

/// `message` with each `…` matching anything (the parts in order).
fn matches(pattern: &str, message: &str) -> bool {
    let mut rest = message;
    let parts: Vec<&str> = pattern.split('…').collect();
    for (i, part) in parts.iter().enumerate() {
        let found = if i == 0 { rest.strip_prefix(part).map(|r| (0, r)) } else { rest.find(part).map(|at| (at, &rest[at + part.len()..])) };
        match found {
            Some((_, r)) => rest = r,
            None => return false,
        }
    }
    rest.is_empty() || pattern.ends_with('…')
}

/// The case gives `message` (a pattern), and docs/BAD_INPUT.md's table lists it.
fn check(input: &str, pattern: &str, message: &str) {
    assert!(matches(pattern, message), "{input}:\n  expected {pattern}\n  got      {message}");
    let row = format!("| {input} | {pattern} |");
    assert!(BAD_INPUT.contains(&row), "docs/BAD_INPUT.md's table lacks the row\n{row}");
}

/// Runs the CLI; returns its `error: …` line (it must fail).
fn cli_error(args: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cnnscope")).args(args.split_whitespace()).output().expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "`cnnscope {args}` succeeded:\n{stderr}");
    // A panic would exit 101 with no `error:` line.
    assert!(matches!(out.status.code(), Some(1 | 2)), "`cnnscope {args}` exited {:?}:\n{stderr}", out.status);
    // The last: lavapipe may print its own "error: XDG_RUNTIME_DIR …" first.
    let line = stderr.lines().filter_map(|l| l.strip_prefix("error: ")).last().unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    line.to_string()
}

#[test]
fn flags() {
    let cases = [
        ("`train --net nin --batch 0`", "batch size: 0 images per batch: it must be at least 1 (d2l uses 64–256)"),
        ("`train --net nin --lr NaN`", "learning rate: NaN is not a finite positive number; d2l trains these nets with 0.001 (Adam) or 0.01–0.1 (SGD)"),
        ("`train --net nin --lr inf`", "learning rate: inf is not a finite positive number; d2l trains these nets with 0.001 (Adam) or 0.01–0.1 (SGD)"),
        ("`train --net nin --lr=-0.1`", "learning rate: -0.1 is not a finite positive number; d2l trains these nets with 0.001 (Adam) or 0.01–0.1 (SGD)"),
        ("`train --net nin --lr abc`", "invalid value 'abc' for '--lr <LR>': invalid float literal"),
        ("`train --net nin --opt sgd --momentum 1.5`", "momentum: 1.5 must be at least 0 and below 1 (0.9 is usual)"),
        ("`train --net nin --weight-decay=-1`", "weight decay: -1 must be a finite number ≥ 0 (0 turns it off; 5e-4 is usual)"),
        ("`train --net nin --epochs 0`", "--epochs: 0 epochs trains nothing: give 1 or more (with --save, 0 saves the initial weights)"),
        ("`train --net nin --limit 0`", "--limit: 0 images leaves nothing to train on: give 1 or more, or leave it out for all 60,000"),
        ("`summary --net nin --ratio 1 --side 100000`", "NiN: the input side must be 1 to 1024 (Fashion-MNIST's images are 28×28; the papers use 224), got 100000"),
        ("`summary --net nin --side 0`", "NiN: the input side must be 1 to 1024 (Fashion-MNIST's images are 28×28; the papers use 224), got 0"),
        ("`summary --net nin --side 20`", "NiN: needs an input side of at least 67, got 20"),
        ("`summary --net vgg11 --ratio 0`", "VGG-11: the width ratio must be 1 to 4096 (÷4096 already leaves one channel per layer), got 0"),
        ("`summary --net vgg11 --ratio 99999`", "VGG-11: the width ratio must be 1 to 4096 (÷4096 already leaves one channel per layer), got 99999"),
        ("`summary --net vgg11 --ratio abc`", "invalid value 'abc' for '--ratio <RATIO>': invalid digit found in string"),
        ("`summary --net resnet`", "invalid value 'resnet' for '--net <NET>': unknown network \"resnet\": choose alexnet, vgg11, nin or googlenet"),
        ("`bench --steps 0`", "--steps: 0 timed steps measure nothing: give 1 or more"),
    ];
    for (input, pattern) in cases {
        check(input, pattern, &cli_error(input.trim_matches('`')));
    }
}

/// Own networks' design files (`--net FILE.net`): each mistake at its line.
#[test]
fn designs() {
    let dir = std::env::temp_dir().join(format!("cnnscope-designs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "a design file (`--net my.net`) with an unknown module at line 2",
            "conv 8 k=3\nlstm 4\nflatten\nlinear 10",
            "",
            "invalid value '…' for '--net <NET>': …: line 2: unknown module «lstm»: use conv, maxpool, avgpool, global_avg_pool, relu, dropout, flatten, linear, vgg_block, nin_block or inception",
        ),
        (
            "a design with a convolution after `flatten` (line 3)",
            "conv 8 k=3\nflatten\nconv 8 k=3\nflatten\nlinear 10",
            "",
            "line 3: conv: needs an image input, but 5408 flat features reach it",
        ),
        ("a design that ends in 7 features (line 3)", "conv 8 k=3\nflatten\nlinear 7", "", "line 3: the network must end in the 10 class scores; it ends in 7"),
        (
            "a design whose line 3 does not fit the side (`--side 6`)",
            "conv 8 k=3\nmaxpool k=2\nconv 8 k=3\nflatten\nlinear 10",
            "--side 6",
            "line 3: conv: kernel 3×3 is larger than the padded input 2×2 (2×2 plus padding 0) (this design needs an input side of at least 8)",
        ),
        (
            "a design whose Inception reduces to 4096 channels at side 1024 (`inception 1 (4096,1) (1,1) 1`)",
            "inception 1 (4096,1) (1,1) 1\nglobal_avg_pool\nflatten\nlinear 10",
            "--ratio 1 --side 1024",
            "line 1: inception: its path 2's 1×1 output of 4096×1024×1024 values is more than the 2^28 one module may hold",
        ),
        ("a design file that does not exist", "", "", "invalid value '…' for '--net <NET>': cannot read the design file … (No such file or directory (os error 2))"),
    ];
    for (i, (input, text, flags, pattern)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("design{i}.net"));
        if !text.is_empty() {
            std::fs::write(&path, text).unwrap();
        }
        check(input, pattern, &cli_error(&format!("summary --net {} {flags}", path.display())));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_the_gpu_cannot_hold() {
    // Refused from the description, before anything is allocated on the host or the device: on a
    // GPU each tensor against its binding limit, on the CPU engine the whole run against its budget.
    // A batch too big for them runs in micro-batches; refused is what not even one image fits.
    let cases = [
        (
            "`train --net vgg11 --ratio 1 --side 1024 --limit 64 --device gpu`",
            "parameter fc.1.weight needs 8.0 GiB, but this GPU binds at most … per buffer: lower the side (it sets the first linear layer's width) or raise the width ratio",
        ),
        (
            "`train --net alexnet --batch 100000 --device gpu`",
            "training: 60000 training images make no full batch of 100000: lower the batch size or raise the limit",
        ),
        (
            "`train --net nin --ratio 1 --side 1024 --binding-limit 16 --limit 1000 --device gpu`",
            "0.0's output at batch 64 in micro-batches of 1 needs 23.6 MiB, but this GPU binds at most 16.0 MiB per buffer: even one image does not fit: lower the side or raise the width ratio",
        ),
        (
            "`train --net nin --binding-limit 1 --device cpu`",
            "the training images' buffer needs 45.1 MiB, but the CPU engine was set to take at most 1.0 MiB per tensor: train on fewer images (--limit), or let a buffer hold more",
        ),
        (
            "`train --net nin --binding-limit 0`",
            "invalid value '0' for '--binding-limit <MIB>': \"0\" is not a size in MiB: give a whole number from 1 to 1048576 (1 TiB)",
        ),
        (
            "`train --net alexnet --ratio 1 --side 1024 --batch 1 --device gpu`",
            "parameter fc.0.weight needs 3.5 GiB, but this GPU binds at most … per buffer: lower the side (it sets the first linear layer's width) or raise the width ratio",
        ),
        (
            "`train --net vgg11 --ratio 1 --side 1024 --limit 64 --device cpu`",
            "training at batch 64 in micro-batches of 1 needs 66.3 GiB, but cnnscope gives one run at most … of memory on the CPU engine: lower the side or raise the width ratio",
        ),
        (
            "`train --net alexnet --batch 10000000 --device cpu`",
            "training: 60000 training images make no full batch of 10000000: lower the batch size or raise the limit",
        ),
        ("`train --net nin --device tpu`", "invalid value 'tpu' for '--device <DEVICE>': unknown device \"tpu\": choose auto, gpu or cpu"),
        ("`summary --net nin --device cpu --batch 0`", "batch size: 0 images per batch: it must be at least 1 (d2l uses 64–256)"),
    ];
    for (input, pattern) in cases {
        check(input, pattern, &cli_error(input.trim_matches('`')));
    }
}

#[test]
fn a_diverging_run_stops() {
    // Trains until the first readback (20 steps), which finds the loss run away.
    let args = "train --net nin --ratio 16 --side 67 --batch 32 --limit 640 --lr 1e9";
    check(
        "a training run whose loss becomes NaN, infinite or above 100 × ln 10 (`--lr 1e9`)",
        "training diverged at step …: the loss is … (learning rate …); nothing after the last finite readback is kept. Lower the learning rate (try …) and start again",
        &cli_error(args),
    );
    assert!(cli_error(args).contains("(learning rate 1000000000); "));
}

fn gz(raw: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

fn idx(magic: u32, dims: &[u32], payload: usize) -> Vec<u8> {
    let mut raw = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| raw.extend(d.to_be_bytes()));
    raw.resize(raw.len() + payload, 1);
    gz(&raw)
}

#[test]
fn data_files() {
    let images = || idx(0x0803, &[2, 28, 28], 2 * 784);
    let labels = || idx(0x0801, &[2], 2);
    // One broken file among four good ones; the message names the file.
    let load = |i: usize, bad: Vec<u8>| {
        let mut files = [images(), labels(), images(), labels()];
        files[i] = bad;
        FashionMnist::from_files([&files[0], &files[1], &files[2], &files[3]]).unwrap_err().to_string()
    };
    let cases = [
        ("an images file that is not gzip", load(0, b"these bytes are not gzip".to_vec()), "train-images-idx3-ubyte.gz: is not a valid gzip file (invalid gzip header)"),
        ("a truncated images file", load(0, idx(0x0803, &[2, 28, 28], 100)), "train-images-idx3-ubyte.gz: is truncated: the header promises 2 images of 28×28 (1568 bytes) but 100 follow"),
        ("a file shorter than its header", load(1, gz(&[0, 0, 8])), "train-labels-idx1-ubyte.gz: is truncated: 3 bytes, shorter than the 8-byte IDX header"),
        ("a labels file where images belong", load(2, labels()), "t10k-images-idx3-ubyte.gz: has magic number 0x00000801, expected 0x00000803: wrong file or not IDX"),
        ("more labels than images", load(3, idx(0x0801, &[3], 3)), "t10k-labels-idx1-ubyte.gz: has 3 labels for 2 images"),
        ("a label out of range", load(1, gz(&[0, 0, 8, 1, 0, 0, 0, 2, 3, 10])), "train-labels-idx1-ubyte.gz: label 1 is 10, but there are only 10 classes"),
        ("0×0 images", load(0, idx(0x0803, &[2, 0, 0], 0)), "train-images-idx3-ubyte.gz: has images of 0×0 pixels"),
        ("no images", load(0, idx(0x0803, &[0, 28, 28], 0)), "train-images-idx3-ubyte.gz: holds no images"),
        (
            "gigantic dimensions (4294967295 images of 4294967295×4294967295)",
            load(0, idx(0x0803, &[u32::MAX; 3], 0)),
            "train-images-idx3-ubyte.gz: has a header promising 4294967295 images of 4294967295×4294967295, more bytes than any file holds: not a dataset",
        ),
        ("bytes after the data", load(0, idx(0x0803, &[2, 28, 28], 2 * 784 + 5)), "train-images-idx3-ubyte.gz: has 5 bytes after the 2 images of 28×28 its header describes"),
    ];
    for (input, message, pattern) in cases {
        check(input, pattern, &message);
    }
    let missing = cli_error("eval --weights /nonexistent.safetensors");
    check("a weights path that does not exist", "weights file: cannot read /nonexistent.safetensors (No such file or directory (os error 2)); the current model is unchanged", &missing);
    let missing = cli_error("bench --data /nonexistent");
    check(
        "a data directory without the files",
        "/nonexistent/train-images-idx3-ubyte.gz: cannot be read (No such file or directory (os error 2)); run scripts/setup.sh to put Fashion-MNIST in public/data/fashion-mnist",
        &missing,
    );
}

#[test]
fn weights_files() {
    let net = |arch| Net::new(NetConfig::new(arch, 64).with_side(96)).unwrap();
    let nin = net(Arch::Nin);
    let specs = nin.root.params("");
    let values: Vec<Vec<f32>> = specs.iter().map(|s| vec![0.5; s.len()]).collect();
    let good = to_safetensors(&specs, &values, None).unwrap();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&good[8..8 + header_len]).unwrap().to_string();
    let with_header = |h: String| {
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend(h.as_bytes());
        out.extend(&good[8 + header_len..]);
        out
    };
    let load = |bytes: &[u8]| from_safetensors(&specs, bytes).map(|_| ()).unwrap_err().to_string();
    let other = net(Arch::GoogLeNet).root.params("");
    let other_values: Vec<Vec<f32>> = other.iter().map(|s| vec![0.0; s.len()]).collect();
    let mut extra_specs = specs.clone();
    extra_specs.push(cnnscope::net::ParamSpec { name: "extra.weight".into(), shape: vec![2] });
    let mut extra_values = values.clone();
    extra_values.push(vec![1.0, 2.0]);
    let first_entry = header.split("},").next().unwrap().trim_start_matches('{').to_string() + "}";
    let cases = [
        ("an empty weights file", load(&[]), "weights file: not a valid safetensors file (header too small); the current model is unchanged"),
        ("a truncated weights file", load(&good[..good.len() - 10]), "weights file: not a valid safetensors file (incomplete metadata, file not fully covered); the current model is unchanged"),
        ("a header claiming more bytes than the file", load(&[&(1u64 << 20).to_le_bytes()[..], &good[8..]].concat()), "weights file: not a valid safetensors file (invalid header length); the current model is unchanged"),
        ("another network's weights", load(&to_safetensors(&other, &other_values, None).unwrap()), "weights file: it does not fit this network (missing …; unexpected …); the current model is unchanged"),
        ("an extra key", load(&to_safetensors(&extra_specs, &extra_values, None).unwrap()), "weights file: it does not fit this network (unexpected extra.weight); the current model is unchanged"),
        ("a duplicate key", load(&with_header(format!("{{{first_entry},{}", &header[1..]))), "weights file: its header names … twice: which one is meant is unclear; the current model is unchanged"),
    ];
    for (input, message, pattern) in cases {
        check(input, pattern, &message);
    }
    // A right-sized tensor of the wrong shape or dtype (rewritten in place, same byte count).
    let reshaped = to_safetensors(
        &specs.iter().enumerate().map(|(i, s)| if i == 0 { cnnscope::net::ParamSpec { name: s.name.clone(), shape: vec![s.len()] } } else { s.clone() }).collect::<Vec<_>>(),
        &values,
        None,
    )
    .unwrap();
    check("a tensor of the wrong shape", "weights file: 0.0.weight has shape […], this network needs […]; the current model is unchanged", &load(&reshaped));
    let as_i32 = with_header(header.replacen("\"F32\"", "\"I32\"", 1));
    check("a tensor of the wrong dtype", "weights file: … is I32, expected F32; the current model is unchanged", &load(&as_i32));
}

#[test]
fn pictures() {
    let msg = |r: cnnscope::Result<Vec<u8>>| r.unwrap_err().to_string();
    check("a picture with no pixels", "the picture: has no pixels (0×0): pick a picture the browser can show", &msg(fashion_pixels(&[], 0, 0)));
    check("a picture above 16 megapixels", "the picture: is 20000×20000, above 16777216 pixels: scale it down first", &msg(fashion_pixels(&[], 20000, 20000)));
    // A 1×1 picture is fine: it fills the square.
    assert_eq!(fashion_pixels(&[255, 255, 255, 255], 1, 1).unwrap().len(), 28 * 28);
}
