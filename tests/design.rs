//! Own networks in the design format (`net::design`): the four presets build exactly the trees
//! d2l's code does (tests/nets.rs checks them against PyTorch too), widths scale but the class
//! scores', names become weight keys, and every mistake is refused at its line with the reason.

use cnnscope::model::weights::{SavedNet, net_metadata};
use cnnscope::net::{Arch, Design, Layer, Net, NetConfig, Summary, minimum_side};

fn own(text: &str, ratio: usize, side: usize) -> NetConfig {
    NetConfig { arch: Arch::Own(text.into()), ratio, side, second_hidden: true }
}

#[test]
fn presets_build_the_reference_trees() {
    for arch in Arch::ALL {
        let text = arch.preset().unwrap();
        for ratio in [1, 2, 3, 5, 8, 16, 64, 4096] {
            let reference = NetConfig::new(arch.clone(), ratio);
            assert_eq!(minimum_side(&own(text, ratio, 1)), minimum_side(&reference), "{arch} ÷{ratio}: smallest side");
            for side in [minimum_side(&reference), 67, 96, 112, 224, 301] {
                let expected = Net::new(reference.clone().with_side(side)).map(|n| n.root);
                let got = Net::new(own(text, ratio, side)).map(|n| n.root);
                match (&expected, &got) {
                    (Ok(e), Ok(g)) => assert_eq!(e, g, "{arch} ÷{ratio} at side {side}"),
                    (Err(_), Err(_)) => {}
                    _ => panic!("{arch} ÷{ratio} at side {side}: reference {expected:?}, design {got:?}"),
                }
            }
        }
    }
}

#[test]
fn widths_scale_but_the_class_scores_do_not() {
    let net = Net::new(own("conv 64 k=3\nrelu\nnin_block 32 k=1\nflatten\nlinear 100\nlinear 10", 8, 5)).unwrap();
    let widths: Vec<Vec<usize>> = net.root.params("").iter().filter(|p| p.name.ends_with("weight")).map(|p| p.shape.clone()).collect();
    assert_eq!(widths, [vec![8, 1, 3, 3], vec![4, 8, 1, 1], vec![4, 4, 1, 1], vec![4, 4, 1, 1], vec![12, 36], vec![10, 12]]);
    // A net that ends in a block keeps that block's width: NiN's last block makes the classes.
    let net = Net::new(own("conv 64 k=3\nnin_block 10 k=3\nglobal_avg_pool\nflatten", 16, 9)).unwrap();
    assert_eq!(net.root.params("")[2].shape, [10, 4, 3, 3]);
}

#[test]
fn names_make_the_weight_keys() {
    let text = "features: {\n  conv 6 k=5 p=2   # LeNet's first layer\n  relu\n  avgpool k=2\n}\nhead: {\n  flatten\n  out: linear 10\n}\n";
    let net = Net::new(own(text, 1, 28)).unwrap();
    let names: Vec<String> = net.root.params("").into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["features.0.weight", "features.0.bias", "head.out.weight", "head.out.bias"]);
    let summary = Summary::new(&net).unwrap();
    let kinds: Vec<(&str, &str)> = summary.rows.iter().map(|r| (r.name.as_str(), r.kind)).collect();
    assert_eq!(kinds[..4], [("features", "Sequential"), ("features.0", "Conv2d"), ("features.1", "ReLU"), ("features.2", "AvgPool2d")]);
    assert_eq!(summary.rows[3].output.dims(), [6, 14, 14]);
}

#[test]
fn a_weights_file_names_its_design() {
    let config = own(Arch::Nin.preset().unwrap(), 8, 112);
    let saved = SavedNet::from_metadata(&net_metadata(&config)).unwrap();
    assert_eq!(saved.config(NetConfig::new(Arch::AlexNet, 1)), config);
    let mut meta = net_metadata(&config);
    meta.remove("design");
    let err = SavedNet::from_metadata(&meta).unwrap_err().to_string();
    assert!(err.contains("gives no design"), "{err}");
}

/// Each mistake with the line it is reported at and words of the reason.
#[test]
fn mistakes_are_refused_at_their_line() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("", 1, 28, "has no modules"),
        ("# only a comment\n\n", 1, 28, "has no modules"),
        ("conv 8 k=3\nlstm 4\nlinear 10", 2, 28, "unknown module «lstm»"),
        ("conv 8\nflatten\nlinear 10", 1, 28, "conv needs k="),
        ("conv 0 k=3\nflatten\nlinear 10", 1, 28, "width = «0» is not a whole number from 1 to 4096"),
        ("conv 5000 k=3\nflatten\nlinear 10", 1, 28, "from 1 to 4096"),
        ("conv 8 k=3 q=2\nflatten\nlinear 10", 1, 28, "conv has no option q="),
        ("conv 8 k=3\ndropout 1\nflatten\nlinear 10", 2, 28, "not a number from 0 up to"),
        ("conv 8 k=3\ndropout NaN\nflatten\nlinear 10", 2, 28, "not a number from 0 up to"),
        ("relu 3\nflatten\nlinear 10", 1, 28, "relu takes no numbers"),
        ("inception 1 2 3\nflatten\nlinear 10", 1, 28, "inception takes c1"),
        ("vgg_block 17 8\nflatten\nlinear 10", 1, 28, "at most 16 convolutions"),
        ("conv 8 k=3\nflatten\nconv 8 k=3\nflatten\nlinear 10", 3, 28, "conv: needs an image input, but 5408 flat features reach it"),
        ("conv 8 k=3\nmaxpool k=9 s=2\nmaxpool k=9\nflatten\nlinear 10", 3, 20, "at least 27"),
        ("conv 8 k=3\nflatten\nlinear 7", 3, 28, "must end in the 10 class scores; it ends in 7"),
        ("conv 10 k=3\nglobal_avg_pool", 2, 28, "ends in 10×1×1: add flatten"),
        ("{\nconv 8 k=3\nflatten\nlinear 10", 1, 28, "never closed"),
        ("conv 8 k=3\n}\nflatten\nlinear 10", 2, 28, "closes no group"),
        ("conv 8 k=3\nx: {\n}\nflatten\nlinear 10", 2, 28, "this group is empty"),
        ("a: conv 8 k=3\na: relu\nflatten\nlinear 10", 2, 28, "already has a module named a"),
        ("1: conv 8 k=3\nrelu\nflatten\nlinear 10", 2, 28, "already has a module named 1"),
        ("fc.1: conv 8 k=3\nflatten\nlinear 10", 1, 28, "«fc.1» cannot name a module"),
        ("x:\nflatten\nlinear 10", 1, 28, "names nothing"),
        // Sizes that would wrap 32-bit arithmetic (the browser's usize) are refused before.
        ("conv 4096 k=1\nflatten\nlinear 10", 1, 1024, "its output of 4096×1024×1024 values"),
        ("inception 1 (4096,1) (1,1) 1\nglobal_avg_pool\nflatten\nlinear 10", 1, 1024, "inception: its path 2's 1×1 output of 4096×1024×1024 values"),
        ("inception 1 (1,1) (4096,1) 1\nglobal_avg_pool\nflatten\nlinear 10", 1, 1024, "inception: its path 3's 1×1 output of 4096×1024×1024 values"),
        ("flatten\nlinear 4096\nlinear 4096\nlinear 4096\nlinear 10", 2, 1024, "its weight of 4096×1048576 values"),
        (&"{\n".repeat(9), 9, 28, "groups nest at most 8 deep"),
        (&"relu\n".repeat(1001), 1001, 28, "at most 1000 modules"),
        (&"#".repeat(70_000), 1, 28, "at most 65536 are read"),
    ];
    for &(text, line, side, words) in cases {
        let err = Net::new(own(text, 1, side)).expect_err(text).to_string();
        assert!(err.starts_with(&format!("line {line}: ")), "{text:?}: {err}");
        assert!(err.contains(words), "{text:?}: {err} (expected «{words}»)");
    }
}

#[test]
fn the_format_reads_pytorch_spellings() {
    let short: Design = "conv 8 k=3 s=2 p=1\nmaxpool k=2\ninception 4 (4, 8) (2, 4) 4\nflatten\nlinear 10".parse().unwrap();
    let long: Design = "conv 8 kernel_size=3 stride=2 padding=1\nmaxpool kernel_size=2 stride=2\ninception 4 4 8 2 4 4 # as numbers\nflatten\nlinear 10".parse().unwrap();
    assert_eq!(short.build(1, 28).unwrap(), long.build(1, 28).unwrap());
    let Layer::Sequential(children) = short.build(1, 28).unwrap() else { panic!("a design is a Sequential") };
    assert_eq!(children.len(), 5);
}

#[test]
fn docs_show_the_presets_verbatim() {
    let docs = include_str!("../docs/APP.md");
    for arch in Arch::ALL {
        assert!(docs.contains(arch.preset().unwrap()), "docs/APP.md shows {arch}'s preset as it is");
    }
}

/// While a design has a mistake, the modules before it still build (the page shows their table),
/// inside groups too.
#[test]
fn the_modules_before_a_mistake_still_build() {
    let design: Design = "features: {\n  conv 8 k=3\n  relu\n}\nflatten\nhead: {\n  linear 20\n  conv 8 k=3\n}\nlinear 10".parse().unwrap();
    let (root, mistake) = design.fitting(1, 28);
    assert_eq!(mistake.unwrap().to_string(), "line 8: conv: needs an image input, but 20 flat features reach it");
    let net = Net { config: own("", 1, 28), root };
    let rows: Vec<(String, String)> = Summary::new(&net).unwrap().rows.iter().map(|r| (r.name.clone(), r.output.to_string())).collect();
    let want = [("features", "8×26×26"), ("features.0", "8×26×26"), ("features.1", "8×26×26"), ("1", "5408"), ("head", "20"), ("head.0", "20")];
    assert_eq!(rows, want.map(|(n, o)| (n.to_string(), o.to_string())));
    // A design without a mistake builds the same tree either way.
    let whole: Design = Arch::GoogLeNet.preset().unwrap().parse().unwrap();
    assert_eq!((whole.fitting(8, 96).0, whole.fitting(8, 96).1), (whole.build(8, 96).unwrap(), None));
}

/// The hostile designs the Rust and Python readers share (tests/fixtures/hostile_designs.json,
/// also read by pytorch/tests): each is refused, never built and never a panic, with the words
/// the file gives. An entry is `design` (the text), or `repeat_line` written `times` times, one
/// per line; `ratio` and `side` are the network's (issue 33.9: one set of limits on both sides).
#[test]
fn hostile_designs_shared_with_python_are_refused() {
    let entries: Vec<serde_json::Value> = serde_json::from_str(include_str!("fixtures/hostile_designs.json")).unwrap();
    assert!(entries.len() >= 12, "the shared list holds the issue's cases");
    for entry in &entries {
        let name = entry["name"].as_str().unwrap();
        let design = match entry["design"].as_str() {
            Some(text) => text.to_string(),
            None => format!("{}\n", entry["repeat_line"].as_str().unwrap()).repeat(entry["times"].as_u64().unwrap() as usize),
        };
        let (ratio, side) = (entry["ratio"].as_u64().unwrap() as usize, entry["side"].as_u64().unwrap() as usize);
        let built = std::panic::catch_unwind(|| Net::new(NetConfig::new(Arch::Own(design.as_str().into()), ratio).with_side(side)));
        let err = match built {
            Ok(Ok(_)) => panic!("{name}: built"),
            Ok(Err(e)) => e.to_string(),
            Err(_) => panic!("{name}: panicked"),
        };
        let want = entry["error"].as_str().unwrap();
        assert!(err.contains(want), "{name}: expected “{want}”, got “{err}”");
    }
}
