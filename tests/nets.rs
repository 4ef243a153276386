//! The network descriptions against PyTorch's own module trees (tests/fixtures/nets.json, written
//! by make_net_fixtures.py): every module's output shape, every parameter's name and shape, and the
//! parameter totals, for the four nets at ratios 1–16 and several sides.

use cnnscope::net::{Arch, Net, NetConfig, Summary};
use serde_json::Value;

fn fixtures() -> Vec<Value> {
    serde_json::from_str(include_str!("fixtures/nets.json")).expect("nets.json parses")
}

fn config(case: &Value) -> NetConfig {
    let arch: Arch = case["net"].as_str().unwrap().parse().unwrap();
    NetConfig {
        arch,
        ratio: case["ratio"].as_u64().unwrap() as usize,
        side: case["side"].as_u64().unwrap() as usize,
        second_hidden: case["second_hidden"].as_bool().unwrap(),
    }
}

/// The same case with the network written as its preset in the design format (the presets are
/// d2l's default, with AlexNet's second hidden layer).
fn as_design(config: &NetConfig) -> Option<NetConfig> {
    let text = config.arch.preset()?;
    config.second_hidden.then(|| NetConfig { arch: Arch::Own(text.into()), ..config.clone() })
}

#[test]
fn shapes_parameters_and_names_equal_pytorch() {
    let cases = fixtures();
    assert!(cases.len() >= 90, "fixture covers every net, ratio and side");
    let configs = cases.iter().flat_map(|case| {
        let config = config(case);
        [Some(config.clone()), as_design(&config)].into_iter().flatten().map(move |c| (case, c))
    });
    let mut designs = 0;
    for (case, config) in configs {
        designs += usize::from(matches!(config.arch, Arch::Own(_)));
        let net = Net::new(config.clone()).unwrap_or_else(|e| panic!("{config:?}: {e}"));
        let summary = Summary::new(&net).unwrap();
        assert_eq!(summary.params as u64, case["params"].as_u64().unwrap(), "{config:?}: parameter count");

        // Every module cnnscope describes has PyTorch's output shape under the same name, and every
        // PyTorch module outside an Inception block (whose paths are fixed code) is described.
        let torch: Vec<(String, Vec<usize>)> = case["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m[0].as_str().unwrap().to_string(), m[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()))
            .collect();
        for row in &summary.rows {
            let (_, shape) = torch
                .iter()
                .find(|(name, _)| *name == row.name)
                .unwrap_or_else(|| panic!("{config:?}: PyTorch has no module {}", row.name));
            assert_eq!(&row.output.dims(), shape, "{config:?}: output of {}", row.name);
        }
        let described = torch.iter().filter(|(name, _)| !name.split('.').any(|part| part.starts_with('p')));
        assert_eq!(described.count(), summary.rows.len(), "{config:?}: module count");

        let params: Vec<(String, Vec<usize>)> = net.root.params("").into_iter().map(|p| (p.name, p.shape)).collect();
        let torch_params: Vec<(String, Vec<usize>)> = case["state_dict"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()))
            .collect();
        assert_eq!(params, torch_params, "{config:?}: state_dict keys, order and shapes");
    }
    assert!(designs >= 70, "the presets in the design format are checked too ({designs} cases)");
}

#[test]
fn published_parameter_counts() {
    let count = |config: NetConfig| Summary::new(&Net::new(config).unwrap()).unwrap().params;
    assert_eq!(count(NetConfig::new(Arch::AlexNet, 1)), 46_764_746);
    assert_eq!(count(NetConfig { second_hidden: false, ..NetConfig::new(Arch::AlexNet, 1) }), 29_983_434);
    assert_eq!(count(NetConfig::new(Arch::Vgg11, 1)), 128_806_154);
    assert_eq!(count(NetConfig::new(Arch::Nin, 1)), 1_992_166);
    assert_eq!(count(NetConfig::new(Arch::GoogLeNet, 1)), 5_977_530);
}

#[test]
fn block_outputs_match_the_lesson() {
    let blocks = |config: NetConfig| -> Vec<String> {
        Summary::new(&Net::new(config).unwrap()).unwrap().blocks().map(|r| r.output.to_string()).collect()
    };
    assert_eq!(blocks(NetConfig::new(Arch::Vgg11, 1)), ["64×112×112", "128×56×56", "256×28×28", "512×14×14", "512×7×7", "10"]);
    assert_eq!(
        blocks(NetConfig::new(Arch::Nin, 1)),
        ["96×54×54", "96×26×26", "256×26×26", "256×12×12", "384×12×12", "384×5×5", "384×5×5", "10×5×5", "10×1×1", "10"]
    );
    assert_eq!(blocks(NetConfig::new(Arch::GoogLeNet, 1)), ["64×24×24", "192×12×12", "480×6×6", "832×3×3", "1024×1×1", "1024", "10"]);
}

#[test]
fn impossible_sides_name_the_minimum() {
    for (arch, min) in [(Arch::AlexNet, 67), (Arch::Vgg11, 32), (Arch::Nin, 67)] {
        let err = Net::new(NetConfig::new(arch.clone(), 8).with_side(min - 1)).unwrap_err().to_string();
        assert_eq!(err, format!("{arch}: needs an input side of at least {min}, got {}", min - 1));
        assert!(Net::new(NetConfig::new(arch, 8).with_side(min)).is_ok());
    }
    assert_eq!(
        Net::new(NetConfig::new(Arch::AlexNet, 1).with_side(28)).unwrap_err().to_string(),
        "AlexNet: needs an input side of at least 67, got 28"
    );
    assert!(Net::new(NetConfig::new(Arch::GoogLeNet, 8).with_side(1)).is_ok(), "GoogLeNet's padded layers take any side");
    assert!(Net::new(NetConfig { ratio: 0, ..NetConfig::new(Arch::Nin, 1) }).is_err());
    assert!(Net::new(NetConfig::new(Arch::Nin, 1).with_side(0)).is_err());
}

#[test]
fn flops_of_full_alexnet() {
    // conv1 alone: 96 outputs × 54² positions × 121 taps × 2.
    let summary = Summary::new(&Net::new(NetConfig::new(Arch::AlexNet, 1)).unwrap()).unwrap();
    let conv1 = summary.rows.iter().find(|r| r.name == "conv.0").unwrap();
    assert_eq!(conv1.flops, 2 * 96 * 54 * 54 * 121);
    assert_eq!(summary.flops, summary.blocks().map(|r| r.flops).sum::<u64>());
}
