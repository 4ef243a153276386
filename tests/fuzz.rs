//! Fuzz targets, run by `cargo test` on stable Rust: proptest draws structured inputs — valid
//! files with bytes flipped, headers rewritten, lengths lied about; any picture size and contents;
//! any network, width, side, batch and optimiser setting — and each target asserts the engine
//! answers with a value or an error, never a panic, and that what it accepts is consistent.
//!
//! Each target runs for `FUZZ_SECONDS` (default 3: CI's short pass on every push);
//! `scripts/fuzz.sh` runs them for 10 minutes each and docs/FUZZING.md records the executions. A
//! failing input is shrunk by proptest and printed; it then becomes a named regression test in
//! tests/bad_input.rs.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::time::{Duration, Instant};

use cnnscope::data::idx::{parse_images, parse_labels};
use cnnscope::data::picture::{SIDE, fashion_pixels};
use cnnscope::net::fit::{MEMORY_BUDGET, MemoryPlan, Run};
use cnnscope::model::weights::{from_safetensors, to_safetensors};
use cnnscope::net::{Arch, Net, NetConfig, Summary, minimum_side};
use cnnscope::ops::{Adam, Sgd};
use cnnscope::train::{Optimizer, TrainConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs `test` on inputs from `strategy` until the time budget is spent, in rounds of fresh
/// runners seeded from the clock (the seed is printed, so a failure can be replayed with
/// FUZZ_SEED); panics with the shrunk input if any case fails or panics. `test` returns whether
/// the engine accepted the input, so the report shows the targets reach past the first check.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<bool, TestCaseError>) {
    let seconds = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds);
    let base: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    });
    let cases = 256;
    let (accepted, runs) = (AtomicU64::new(0), AtomicU64::new(0));
    let start = Instant::now();
    let mut round = 0u64;
    while round == 0 || start.elapsed() < budget {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&base.to_le_bytes());
        seed[8..16].copy_from_slice(&round.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(Config { cases, failure_persistence: None, ..Config::default() }, rng);
        let result = runner.run(&strategy, |value| {
            runs.fetch_add(1, Ordering::Relaxed);
            if test(value)? {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("fuzz target {name} failed (FUZZ_SEED={base}, round {round}): {e}");
        }
        round += 1;
    }
    let (runs, accepted) = (runs.into_inner(), accepted.into_inner());
    eprintln!("fuzz {name}: {runs} executions ({accepted} accepted) in {:.0} s, no crash", start.elapsed().as_secs_f64());
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(raw).unwrap();
    encoder.finish().unwrap()
}

/// Edits applied to a valid file's bytes: overwrite bytes, cut it short, add bytes.
#[derive(Debug, Clone)]
struct Damage {
    writes: Vec<(usize, u8)>,
    cut: Option<usize>,
    extra: Vec<u8>,
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        prop::option::weighted(0.2, any::<usize>()),
        prop::collection::vec(any::<u8>(), 0..3),
    )
        .prop_map(|(writes, cut, extra)| Damage { writes, cut, extra })
}

impl Damage {
    fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if !bytes.is_empty() {
            let len = bytes.len();
            for &(at, value) in &self.writes {
                bytes[at % len] = value;
            }
        }
        if let Some(cut) = self.cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        bytes.extend(&self.extra);
        bytes
    }
}

#[test]
fn fuzz_idx_parser() {
    // A header with any dimensions (small ones mostly, so payloads can match), a payload of any
    // length, then damage; gzip-compressed, or the damage applied to the .gz bytes themselves.
    let dim = prop_oneof![4 => 0u32..6, 1 => any::<u32>()];
    // Payload: the length the header promises (None) or any other.
    let payload = prop_oneof![Just(None), (0usize..200).prop_map(Some)];
    let strategy = (any::<bool>(), prop::collection::vec(dim, 3), payload, damage(), any::<bool>(), 0usize..12);
    fuzz("idx", strategy, |(images, dims, payload, damage, on_gz, classes)| {
        let magic: u32 = if images { 0x0803 } else { 0x0801 };
        let rank = if images { 3 } else { 1 };
        let mut raw: Vec<u8> = magic.to_be_bytes().to_vec();
        for d in &dims[..rank] {
            raw.extend(d.to_be_bytes());
        }
        let promised = dims[..rank].iter().try_fold(1usize, |n, &d| n.checked_mul(d as usize)).filter(|&n| n < 1 << 16);
        let payload = payload.or(promised).unwrap_or(0);
        raw.extend((0..payload).map(|i| (i * 37 % 13) as u8));
        let gz = if on_gz { damage.apply(gzip(&raw)) } else { gzip(&damage.apply(raw)) };
        if images {
            let Ok(parsed) = parse_images("f", &gz) else { return Ok(false) };
            prop_assert_eq!(parsed.pixels.len(), parsed.count * parsed.rows * parsed.cols);
            prop_assert!(parsed.rows > 0 && parsed.cols > 0);
        } else {
            let Ok(labels) = parse_labels("f", &gz, classes) else { return Ok(false) };
            prop_assert!(labels.iter().all(|&l| (l as usize) < classes));
        }
        Ok(true)
    });
}

#[test]
fn fuzz_idx_parser_with_any_bytes() {
    fuzz("idx (any bytes)", prop::collection::vec(any::<u8>(), 0..64), |bytes| {
        let _ = parse_images("f", &bytes);
        let labels = parse_labels("f", &gzip(&bytes), 10);
        let images = parse_images("f", &gzip(&bytes));
        Ok(labels.is_ok() || images.is_ok())
    });
}

/// Each net at its smallest (÷4096, its minimum side): every key, shape and dtype path of a real
/// weights file in a few kilobytes.
fn tiny_nets() -> Vec<Net> {
    Arch::ALL
        .into_iter()
        .map(|arch| {
            let config = NetConfig::new(arch, 4096);
            let side = minimum_side(&config);
            Net::new(config.with_side(side)).unwrap()
        })
        .collect()
}

/// Rewrites a safetensors header: which tensor, and what to do to it.
#[derive(Debug, Clone)]
enum HeaderEdit {
    None,
    Dtype(usize, &'static str),
    Shape(usize, Vec<u64>),
    Offsets(usize, u64, u64),
    Remove(usize),
    Duplicate(usize),
    Rename(usize, String),
    Length(u64),
    Garbage(String),
}

fn header_edit() -> impl Strategy<Value = HeaderEdit> {
    let dtype = prop::sample::select(vec!["F32", "F16", "BF16", "F64", "I32", "U8", "BOOL", "XYZ"]);
    prop_oneof![
        Just(HeaderEdit::None),
        (any::<usize>(), dtype).prop_map(|(i, d)| HeaderEdit::Dtype(i, d)),
        (any::<usize>(), prop::collection::vec(prop_oneof![0u64..5, any::<u64>()], 0..5)).prop_map(|(i, s)| HeaderEdit::Shape(i, s)),
        (any::<usize>(), prop_oneof![0u64..64, any::<u64>()], prop_oneof![0u64..64, any::<u64>()])
            .prop_map(|(i, a, b)| HeaderEdit::Offsets(i, a, b)),
        any::<usize>().prop_map(HeaderEdit::Remove),
        any::<usize>().prop_map(HeaderEdit::Duplicate),
        (any::<usize>(), "[a-z0-9._]{0,12}").prop_map(|(i, n)| HeaderEdit::Rename(i, n)),
        any::<u64>().prop_map(HeaderEdit::Length),
        ".{0,24}".prop_map(HeaderEdit::Garbage),
    ]
}

/// `file` with its header's JSON rewritten by `edit` (the data after it kept).
fn edit_header(file: &[u8], edit: &HeaderEdit) -> Vec<u8> {
    let len = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let (header, data) = (&file[8..8 + len], &file[8 + len..]);
    let mut json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header).unwrap();
    let keys: Vec<String> = json.keys().filter(|k| *k != "__metadata__").cloned().collect();
    let key = |i: usize| keys[i % keys.len()].clone();
    let mut text = None;
    let mut length = None;
    match edit {
        HeaderEdit::None => {}
        HeaderEdit::Dtype(i, d) => json[&key(*i)]["dtype"] = (*d).into(),
        HeaderEdit::Shape(i, s) => json[&key(*i)]["shape"] = s.clone().into(),
        HeaderEdit::Offsets(i, a, b) => json[&key(*i)]["data_offsets"] = vec![*a, *b].into(),
        HeaderEdit::Remove(i) => {
            json.remove(&key(*i));
        }
        HeaderEdit::Duplicate(i) => {
            // serde_json's map cannot hold a key twice: write the text by hand.
            let k = key(*i);
            let body = serde_json::to_string(&json).unwrap();
            text = Some(format!("{{{:?}:{},{}", k, json[&k], &body[1..]));
        }
        HeaderEdit::Rename(i, name) => {
            let value = json.remove(&key(*i)).unwrap();
            json.insert(name.clone(), value);
        }
        HeaderEdit::Length(n) => length = Some(*n),
        HeaderEdit::Garbage(g) => text = Some(g.clone()),
    }
    let text = text.unwrap_or_else(|| serde_json::to_string(&json).unwrap());
    let mut out = length.unwrap_or(text.len() as u64).to_le_bytes().to_vec();
    out.extend(text.as_bytes());
    out.extend(data);
    out
}

#[test]
fn fuzz_weights_loader() {
    let nets = tiny_nets();
    let files: Vec<(Vec<cnnscope::net::ParamSpec>, Vec<u8>)> = nets
        .iter()
        .map(|net| {
            let specs = net.root.params("");
            let values: Vec<Vec<f32>> = specs.iter().map(|s| (0..s.len()).map(|i| i as f32 * 0.5).collect()).collect();
            let file = to_safetensors(&specs, &values, None).unwrap();
            (specs, file)
        })
        .collect();
    // The unedited files load: the target starts from inputs the loader accepts.
    for (specs, file) in &files {
        from_safetensors(specs, file).unwrap();
    }
    let strategy = (0..files.len(), 0..files.len(), header_edit(), damage(), prop::bool::weighted(0.7));
    fuzz("weights", strategy, |(file_net, load_net, edit, damage, intact_body)| {
        let edited = edit_header(&files[file_net].1, &edit);
        let bytes = if intact_body { edited } else { damage.apply(edited) };
        let specs = &files[load_net].0;
        let Ok(values) = from_safetensors(specs, &bytes) else { return Ok(false) };
        prop_assert_eq!(values.len(), specs.len());
        for (v, s) in values.iter().zip(specs) {
            prop_assert_eq!(v.len(), s.len());
        }
        Ok(true)
    });
}

#[test]
fn fuzz_picture() {
    let size = prop_oneof![4 => 0usize..40, 1 => any::<usize>()];
    let strategy = (size.clone(), size, prop::collection::vec(any::<u8>(), 0..64), any::<bool>());
    fuzz("picture", strategy, |(w, h, seed, exact)| {
        // Either exactly w×h RGBA pixels (when that is small) or bytes of any length.
        let len = if exact { w.checked_mul(h).and_then(|n| n.checked_mul(4)).filter(|&n| n <= 40 * 40 * 4).unwrap_or(0) } else { seed.len() };
        let rgba: Vec<u8> = (0..len).map(|i| seed.get(i % seed.len().max(1)).copied().unwrap_or(0)).collect();
        let Ok(pixels) = fashion_pixels(&rgba, w, h) else { return Ok(false) };
        prop_assert_eq!(pixels.len(), SIDE * SIDE);
        Ok(true)
    });
}

#[test]
fn fuzz_network_description() {
    let small = |max: usize| prop_oneof![4 => 0..max, 1 => any::<usize>()];
    let rate = prop_oneof![any::<f32>(), Just(f32::NAN), Just(f32::INFINITY), Just(-0.1f32), 1e-5f32..1.0];
    let strategy = (
        prop::sample::select(Arch::ALL.to_vec()),
        small(40),
        small(1200),
        small(5000),
        any::<bool>(),
        (rate.clone(), rate.clone(), rate, any::<bool>()),
        any::<u64>(),
    );
    fuzz("network", strategy, |(arch, ratio, side, batch, second_hidden, (lr, momentum, decay, adam), limit)| {
        let config = NetConfig { arch, ratio, side, second_hidden };
        let Ok(net) = Net::new(config.clone()) else { return Ok(false) };
        // Whatever the description accepts, the summary and the fit check can describe.
        let summary = Summary::new(&net);
        prop_assert!(summary.is_ok(), "{:?}: {:?}", config, summary);
        prop_assert!(minimum_side(&config) <= side);
        let optimizer = if adam {
            Optimizer::Adam(Adam { lr, weight_decay: decay, ..Adam::default() })
        } else {
            Optimizer::Sgd(Sgd { lr, momentum, weight_decay: decay })
        };
        let train = TrainConfig { batch, optimizer, seed: 0, augment: false };
        if train.check().is_ok() {
            prop_assert!(batch > 0 && lr.is_finite() && lr > 0.0);
        }
        let mut fits = false;
        for run in [Run::Weights, Run::Evaluation { batch }, Run::Training { batch, moments: optimizer.moments() }] {
            let plan = MemoryPlan::new(&net, run);
            if plan.check(limit, MEMORY_BUDGET).is_ok() {
                prop_assert!(plan.tensors.iter().all(|t| t.bytes <= limit) && plan.total() <= MEMORY_BUDGET);
                fits = true;
            }
        }
        Ok(fits)
    });
}

/// Own networks' text (`net::design`): lines of real modules with any numbers and options, names,
/// braces in and out of place, and now and then any text at all.
#[test]
fn fuzz_design_text() {
    let number = prop_oneof![4 => (0usize..20).prop_map(|n| n.to_string()), 1 => any::<u64>().prop_map(|n| n.to_string()), 1 => Just("0.5".to_string()), 1 => Just("-3".to_string()), 1 => Just("4096".to_string())];
    let keyword = prop::sample::select(vec!["conv", "maxpool", "avgpool", "global_avg_pool", "relu", "dropout", "flatten", "linear", "vgg_block", "nin_block", "inception", "{", "}", "x:", "x: {", "1:", "lstm"]);
    let option = (prop::sample::select(vec!["k", "s", "p", "kernel_size", "q"]), number.clone()).prop_map(|(k, v)| format!("{k}={v}"));
    let line = (keyword, prop::collection::vec(number, 0..7), prop::collection::vec(option, 0..4))
        .prop_map(|(k, numbers, options)| format!("{k} {} {}", numbers.join(" "), options.join(" ")));
    // Random lines before a head that makes the scores; a preset with one line replaced; any text.
    let head = prop::sample::select(vec!["", "flatten\nlinear 10", "nin_block 10 k=1\nglobal_avg_pool\nflatten"]);
    let presets: Vec<&str> = Arch::ALL.iter().filter_map(Arch::preset).collect();
    let edited = (prop::sample::select(presets), any::<prop::sample::Index>(), line.clone()).prop_map(|(preset, at, line)| {
        let mut lines: Vec<&str> = preset.lines().collect();
        let at = at.index(lines.len());
        lines[at] = &line;
        lines.join("\n")
    });
    let text = prop_oneof![
        6 => (prop::collection::vec(line, 0..8), head).prop_map(|(lines, head)| format!("{}\n{head}", lines.join("\n"))),
        2 => edited,
        1 => ".{0,200}",
    ];
    let strategy = (text, 1usize..20, prop_oneof![4 => 1usize..300, 1 => any::<usize>()]);
    fuzz("design", strategy, |(text, ratio, side)| {
        let config = NetConfig { arch: Arch::Own(text.as_str().into()), ratio, side, second_hidden: true };
        let Ok(net) = Net::new(config.clone()) else { return Ok(false) };
        let summary = Summary::new(&net);
        prop_assert!(summary.is_ok(), "{text:?}: {summary:?}");
        prop_assert!(minimum_side(&config) <= side);
        for run in [Run::Weights, Run::Evaluation { batch: 7 }, Run::Training { batch: 7, moments: 2 }] {
            let _ = MemoryPlan::new(&net, run).check(1 << 30, MEMORY_BUDGET);
        }
        Ok(true)
    });
}
