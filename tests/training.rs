//! Training on real Fashion-MNIST natively, on each engine (the GPU adapter's WGSL kernels and the
//! CPU engine): a small network learns (loss falls, accuracy far above chance), a seeded run is
//! reproducible, 20 steps follow PyTorch's losses, and both engines take the same steps.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;
use std::path::Path;

use cnnscope::{Device, Gpu};
use cnnscope::data::FashionMnist;
use cnnscope::model::{Init, Model};
use cnnscope::net::{Arch, Net, NetConfig};
use cnnscope::ops::Adam;
use cnnscope::train::{Evaluator, Optimizer, Stats, TrainConfig, Trainer};

thread_local!(static ON_CPU: Cell<bool> = const { Cell::new(false) });
thread_local!(static AT_DEFAULTS: Cell<bool> = const { Cell::new(false) });

fn gpu() -> &'static Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    static AT_DEFAULTS_GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    match AT_DEFAULTS.get() {
        false => GPU.get_or_init(|| Device::Wgsl(pollster::block_on(Gpu::new()).unwrap_or_else(|e| panic!("{e}")))),
        true => AT_DEFAULTS_GPU.get_or_init(|| Device::Wgsl(pollster::block_on(Gpu::at_webgpu_defaults()).unwrap_or_else(|e| panic!("{e}")))),
    }
}

fn cpu() -> &'static Device {
    static CPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    CPU.get_or_init(Device::cpu)
}

/// The engine this test runs on: each test thread runs one engine (`both_engines!`).
fn device() -> &'static Device {
    if ON_CPU.get() { cpu() } else { gpu() }
}

/// Each named test on both engines, as `name::wgsl` on the GPU adapter and `name::cpu` on the CPU
/// engine, and as `name::wgsl_at_webgpu_defaults` on the adapter at WebGPU's default limits (what a
/// browser may give; `Gpu::at_webgpu_defaults`).
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn wgsl() {
                super::$name();
            }

            #[test]
            fn wgsl_at_webgpu_defaults() {
                super::AT_DEFAULTS.set(true);
                super::$name();
            }

            #[test]
            fn cpu() {
                super::ON_CPU.set(true);
                super::$name();
            }
        }
    )*};
}

both_engines!(
    a_late_burst_of_divergence_is_caught_and_never_saved,
    a_small_network_learns_fashion_mnist,
    a_seeded_run_is_reproducible,
    training_steps_follow_pytorch,
    training_steps_in_micro_batches_follow_pytorch,
    an_own_network_trains_as_in_pytorch,
    an_output_that_ignores_the_input_is_detected,
    a_resumed_run_continues_exactly,
    impossible_counters_are_refused,
    a_micro_batched_run_resumes_exactly_and_anywhere,
    a_split_step_equals_the_whole_one,
    the_learning_rate_changes_between_steps,
    layer_statistics_explain_a_dead_layer,
    layer_statistics_match_pytorch,
    a_timed_step_is_the_same_step_and_says_where_its_time_goes,
    a_streamed_checkpoint_is_the_checkpoint,
    a_run_reports_at_its_cadence_and_trains_as_the_trainer_does,
    weights_that_are_not_finite_are_never_kept,
);

fn data() -> &'static FashionMnist {
    static DATA: std::sync::OnceLock<FashionMnist> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let all = FashionMnist::load(Path::new(cnnscope::data::DEFAULT_DIR)).unwrap_or_else(|e| panic!("{e}"));
        FashionMnist { train: all.train.truncated(640), test: all.test.truncated(500) }
    })
}

/// Trains AlexNet (width ÷16, side 67; PyTorch reaches loss 1.45, accuracy 0.39 with this recipe) for `epochs` and returns each epoch's training stats and
/// the final test stats.
fn train(epochs: usize, seed: u64) -> (Vec<Stats>, Stats) {
    let device = device();
    let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
    let model = Model::new(device, net, Init::Default, seed).unwrap();
    let (train_set, test_set) = (data().train.upload(device).unwrap(), data().test.upload(device).unwrap());
    let config = TrainConfig { batch: 32, optimizer: Optimizer::Adam(Adam { lr: 2e-3, ..Adam::default() }), seed, augment: false };
    let mut evaluator = Evaluator::new(device, &model, &test_set, 256).unwrap();
    let mut trainer = Trainer::new(device, model, train_set, config).unwrap();
    let mut per_epoch = Vec::new();
    for _ in 0..epochs {
        trainer.reset_stats(device).unwrap();
        while !trainer.step(device).unwrap() {}
        per_epoch.push(pollster::block_on(trainer.stats(device)).unwrap());
    }
    let test = pollster::block_on(evaluator.run(device, &trainer.model, &test_set)).unwrap();
    // The per-example predictions agree with the accuracy counted on the GPU.
    let predictions = pollster::block_on(evaluator.predict(device, &trainer.model, &test_set)).unwrap();
    let right = predictions.iter().zip(&data().test.labels).filter(|(p, l)| p == l).count();
    assert_eq!((predictions.len(), right as f64), (500, test.correct));
    (per_epoch, test)
}

fn a_small_network_learns_fashion_mnist() {
    let (epochs, test) = train(6, 1);
    let (first, last) = (epochs[0], epochs[epochs.len() - 1]);
    eprintln!("epochs: {epochs:?}\ntest: {test:?}");
    assert_eq!(first.examples, 640.0, "20 full batches of 32 per epoch");
    assert!((first.loss() - 2.3).abs() < 0.2, "starts near ln 10: {}", first.loss());
    assert!(last.loss() < 0.85 * first.loss(), "loss falls: {} → {}", first.loss(), last.loss());
    assert!(last.accuracy() > 0.25, "train accuracy far above chance: {}", last.accuracy());
    assert_eq!(test.examples, 500.0, "every test image counted, the partial batch included");
    assert!(test.accuracy() > 0.3, "test accuracy far above chance: {}", test.accuracy());
}

fn a_seeded_run_is_reproducible() {
    let (a, test_a) = train(1, 7);
    let (b, test_b) = train(1, 7);
    assert_eq!((&a, test_a), (&b, test_b));
    let (c, _) = train(1, 8);
    assert_ne!(a, c, "another seed trains differently");
}

/// The whole training step composed — gather and resize, forward, loss, backward, Adam — over 20
/// steps on the first 64 training images (one full batch, so the shuffle order cannot matter)
/// follows PyTorch's losses from the same starting weights. GoogLeNet has no dropout, so both
/// sides are deterministic (tests/fixtures/make_net_fixtures.py writes the fixture).
fn training_steps_follow_pytorch() {
    let weights = include_bytes!("fixtures/training_googlenet.safetensors");
    follows_pytorch(Arch::GoogLeNet, weights, include_bytes!("fixtures/training_googlenet_io.safetensors"));
}

/// An own network with every kind of module but dropout (tests/fixtures/design_mixed.net: named
/// and numbered groups, an average pool, VGG, NiN and Inception blocks, a linear layer taking an
/// image as it is) has PyTorch's gradients and trains as PyTorch trains the module a second
/// reader of the format builds (pytorch/design.py): the format means the same on both sides.
fn an_own_network_trains_as_in_pytorch() {
    let design = Arch::Own(include_str!("fixtures/design_mixed.net").into());
    follows_pytorch(design, include_bytes!("fixtures/training_design.safetensors"), include_bytes!("fixtures/training_design_io.safetensors"));
}

/// The same steps as [`training_steps_follow_pytorch`] (GoogLeNet ÷16 at 48 px, batch 64) on a
/// device that binds the activations of 10 images at most: each step runs in 7 micro-batches (a
/// first of 4, then 6 of 10) and still follows PyTorch's whole-batch steps and gradients.
fn training_steps_in_micro_batches_follow_pytorch() {
    let net = Net::new(NetConfig::new(Arch::GoogLeNet, 16).with_side(48)).unwrap();
    let plan = cnnscope::net::fit::MemoryPlan::new(&net, cnnscope::net::fit::Run::Training { batch: 1, moments: 2 });
    let per_image = plan.tensors.iter().filter_map(|t| t.per_image).max().unwrap();
    let largest_parameter = plan.tensors.iter().filter(|t| t.per_image.is_none() && !t.on_host).map(|t| t.bytes).max().unwrap();
    assert!(largest_parameter <= 10 * per_image);
    let mut device = if matches!(device(), Device::Cpu(_)) { Device::cpu() } else { Device::Wgsl(pollster::block_on(Gpu::new()).unwrap()) };
    device.limit_bindings(10 * per_image);
    let weights = include_bytes!("fixtures/training_googlenet.safetensors");
    let split = follows_pytorch_on(&device, Arch::GoogLeNet, weights, include_bytes!("fixtures/training_googlenet_io.safetensors"));
    assert_eq!((split.count(), split.size, split.last()), (7, 10, 4), "{split:?}");
}

/// `arch` from `weights`, trained as the fixture `io` was in PyTorch, follows its losses and, where
/// the fixture has them (`grad.<name>`), its first step's gradients.
fn follows_pytorch(arch: Arch, weights: &[u8], io: &[u8]) {
    let split = follows_pytorch_on(device(), arch, weights, io);
    assert!(!split.is_split(), "{split:?}");
}

/// [`follows_pytorch`] on `device`; how its steps ran their batch.
fn follows_pytorch_on(device: &Device, arch: Arch, weights: &[u8], io: &[u8]) -> cnnscope::net::fit::MicroBatches {
    let io = safetensors::SafeTensors::deserialize(io).unwrap();
    let floats = |name: &str| -> Vec<f32> { bytemuck::pod_collect_to_vec(io.tensor(name).unwrap().data()) };
    let (want, config) = (floats("losses"), floats("config"));
    let (ratio, side, lr, images) = (config[0] as usize, config[1] as usize, config[2], config[3] as usize);

    let net = Net::new(NetConfig::new(arch, ratio).with_side(side)).unwrap();
    let model = Model::new(device, net, Init::Default, 0).unwrap();
    model.load_weights(device, weights).unwrap();
    let train_set = data().train.truncated(images).upload(device).unwrap();
    let config = TrainConfig { batch: images, optimizer: Optimizer::Adam(Adam { lr, ..Adam::default() }), seed: 0, augment: false };
    let mut trainer = Trainer::new(device, model, train_set, config).unwrap();
    let mut got = Vec::new();
    let mut compared = 0;
    for step in 0..want.len() {
        trainer.reset_stats(device).unwrap();
        assert!(trainer.step(device).unwrap(), "one step is one epoch");
        got.push(pollster::block_on(trainer.stats(device)).unwrap().loss() as f32);
        for (spec, grad) in trainer.model.params.specs.iter().zip(trainer.gradients()).filter(|_| step == 0) {
            let Ok(torch) = io.tensor(&format!("grad.{}", spec.name)) else { continue };
            let torch: Vec<f32> = bytemuck::pod_collect_to_vec(torch.data());
            let ours = pollster::block_on(grad.read_f32(device)).unwrap();
            let scale = torch.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = ours.iter().zip(&torch).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(worst <= 1e-4 * scale + 1e-7, "{}: gradient differs by {worst} (largest {scale})", spec.name);
            compared += 1;
        }
    }
    eprintln!("cnnscope {got:?}\nPyTorch  {want:?}\n{compared} gradients compared");
    for (step, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() < 1e-4, "step {}: loss {g} where PyTorch has {w}", step + 1);
    }
    assert!(want[0] - want[want.len() - 1] > 0.02, "the fixture's loss moves");
    trainer.micro_batches()
}

/// An output that ignores the input is told from one that does not: with the first layer's
/// weights zeroed every image reaches the classifier as the same biases.
fn an_output_that_ignores_the_input_is_detected() {
    let device = device();
    let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
    let model = Model::new(device, net, Init::Default, 1).unwrap();
    let test_set = data().test.upload(device).unwrap();
    let mut evaluator = Evaluator::new(device, &model, &test_set, 256).unwrap();
    assert!(!pollster::block_on(evaluator.output_is_constant(device, &model, &test_set)).unwrap());
    let mut values = pollster::block_on(model.params.read(device)).unwrap();
    assert_eq!(model.params.specs[0].name, "conv.0.weight");
    values[0].fill(0.0);
    model.params.write(device, &values).unwrap();
    assert!(pollster::block_on(evaluator.output_is_constant(device, &model, &test_set)).unwrap());
    // The note needs both: an epoch at chance and the constant output.
    let at_chance = Stats { loss_sum: 2.3032 * 640.0, correct: 64.0, examples: 640.0 };
    let learning = Stats { loss_sum: 1.9 * 640.0, correct: 160.0, examples: 640.0 };
    let why = pollster::block_on(evaluator.dead_start(device, &model, &test_set, &at_chance)).unwrap();
    assert!(why.is_some_and(|w| w.contains("every image gets the same output")));
    assert_eq!(pollster::block_on(evaluator.dead_start(device, &model, &test_set, &learning)).unwrap(), None);
}

/// A trainer of AlexNet ÷16 at 67 (it has dropout, so the masks must follow the step count too)
/// on 256 images, batch 32 (8 steps an epoch), with SGD with momentum or Adam.
fn small_trainer(adam: bool) -> Trainer {
    small_trainer_with(adam, false)
}

fn small_trainer_with(adam: bool, augment: bool) -> Trainer {
    let device = device();
    let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
    let model = Model::new(device, net, Init::Default, 3).unwrap();
    let optimizer = if adam {
        Optimizer::Adam(Adam { lr: 2e-3, ..Adam::default() })
    } else {
        cnnscope::train::sgd(0.05, 0.9, 1e-4)
    };
    let config = TrainConfig { batch: 32, optimizer, seed: 11, augment };
    Trainer::new(device, model, data().train.truncated(256).upload(device).unwrap(), config).unwrap()
}

/// Steps `trainer` `n` times; the running loss sum (f32 bits) after each.
fn steps(trainer: &mut Trainer, n: usize) -> Vec<u32> {
    (0..n)
        .map(|_| {
            trainer.step(device()).unwrap();
            (pollster::block_on(trainer.stats(device())).unwrap().loss_sum as f32).to_bits()
        })
        .collect()
}

fn weights(trainer: &Trainer) -> Vec<Vec<u32>> {
    let values = pollster::block_on(trainer.model.params.read(device())).unwrap();
    values.iter().map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
}

/// 2N steps in one go equal N steps, a checkpoint written to bytes and read back, and N more in
/// a new trainer: the losses after every step and the final weights, bit for bit. N = 5 stops
/// mid-epoch (the order must be redrawn) and the 10 steps cross an epoch boundary; N = 8 stops at
/// the boundary (the next order is drawn after resuming).
fn a_resumed_run_continues_exactly() {
    // The last case augments: its draws hash the step, so a resumed run draws the same.
    for (adam, n, augment) in [(true, 5, false), (false, 5, false), (true, 8, false), (true, 5, true)] {
        let mut whole = small_trainer_with(adam, augment);
        let initial = weights(&whole);
        whole.reset_stats(device()).unwrap();
        let all = steps(&mut whole, 2 * n);
        assert!(weights(&whole) != initial, "the run learns: the comparison means something");

        let mut first = small_trainer_with(adam, augment);
        first.reset_stats(device()).unwrap();
        let mut losses = steps(&mut first, n);
        let bytes = pollster::block_on(first.checkpoint(device(), 3, "{}".into())).unwrap().to_bytes().unwrap();
        drop(first);
        let checkpoint = cnnscope::train::Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!((checkpoint.epochs, checkpoint.notes.as_str(), checkpoint.state.steps), (3, "{}", n as u64));
        // The header alone (what the page's list of kept runs reads) says the same.
        let start = &bytes[..cnnscope::train::checkpoint::header_len(&bytes).unwrap()];
        let header = cnnscope::train::checkpoint::Header::read(start).unwrap();
        assert_eq!(
            (header.net, header.config, header.epochs, header.state, header.notes.as_str()),
            (checkpoint.net.clone(), checkpoint.config, checkpoint.epochs, checkpoint.state, checkpoint.notes.as_str())
        );
        let mut resumed = Trainer::resume(device(), &checkpoint, data().train.truncated(256).upload(device()).unwrap()).unwrap();
        losses.extend(steps(&mut resumed, n));
        assert_eq!(resumed.config.augment, augment, "the checkpoint keeps the augmentation");
        assert_eq!(losses, all, "adam {adam}, n {n}: the losses after every step");
        assert_eq!(weights(&resumed), weights(&whole), "adam {adam}, n {n}: the final weights");
        assert_eq!((resumed.steps, resumed.epoch, resumed.batch_in_epoch), (whole.steps, whole.epoch, whole.batch_in_epoch));
    }
    // A checkpoint is also a weights file: the optimiser's buffers are not parameters.
    let trainer = small_trainer(true);
    let bytes = pollster::block_on(trainer.checkpoint(device(), 1, String::new())).unwrap().to_bytes().unwrap();
    trainer.model.load_weights(device(), &bytes).unwrap();
    // A weights file is not a checkpoint, and a checkpoint resumes only on its own data.
    let plain = pollster::block_on(trainer.model.save_weights(device())).unwrap();
    let err = cnnscope::train::Checkpoint::from_bytes(&plain).unwrap_err().to_string();
    assert!(err.contains("not a checkpoint"), "{err}");
    let checkpoint = cnnscope::train::Checkpoint::from_bytes(&bytes).unwrap();
    let err = Trainer::resume(device(), &checkpoint, data().train.truncated(320).upload(device()).unwrap()).err().unwrap().to_string();
    assert_eq!(err, "resume: the run was training on 256 images, this data has 320: resume with the same --limit (or none)");
}

/// A checkpoint whose counters no run writes is refused with what is wrong, before any step: a
/// batch past its epoch (2^32 − 1 at batch 1 wrapped the batch's offset on wasm32 and panicked
/// the CPU engine's gather; here 256 images at batch 32 make 8 batches, so 8 is already past), and
/// an update count at u32's end (the next step would overflow it). The last batch of an epoch is
/// taken (issue 33.8).
fn impossible_counters_are_refused() {
    let trainer = small_trainer(true);
    let bytes = pollster::block_on(trainer.checkpoint(device(), 1, String::new())).unwrap().to_bytes().unwrap();
    let good = cnnscope::train::Checkpoint::from_bytes(&bytes).unwrap();
    let resume = |batch_in_epoch: usize, optimizer_steps: u32| {
        let mut hostile = good.clone();
        (hostile.state.batch_in_epoch, hostile.state.optimizer_steps) = (batch_in_epoch, optimizer_steps);
        Trainer::resume(device(), &hostile, data().train.truncated(256).upload(device()).unwrap()).err().map(|e| e.to_string())
    };
    let past = resume(u32::MAX as usize, 0).unwrap();
    assert!(past.contains("stopped at batch 4294967295 of an epoch of 8 batches (batch size 32, 256 images): the file is damaged"), "{past}");
    let past = resume(8, 0).unwrap();
    assert!(past.contains("stopped at batch 8 of an epoch of 8 batches"), "{past}");
    let overflow = resume(0, u32::MAX).unwrap();
    assert!(overflow.contains("counts 4294967295 optimiser updates: the file is damaged"), "{overflow}");
    assert_eq!(resume(7, 41), None, "the last batch of an epoch resumes");
}

/// A run in micro-batches (AlexNet ÷16 at 67, augmented, batch 32 as 10 + 11 + 11 on a device
/// that binds 15 images' input at most) resumed from its checkpoint on the same device takes
/// the same steps bit for bit; resumed where the whole batch fits, it takes the whole batch's
/// steps, which equal the micro-batched ones up to float rounding.
fn a_micro_batched_run_resumes_exactly_and_anywhere() {
    let mut limited = if matches!(device(), Device::Cpu(_)) { Device::cpu() } else { Device::Wgsl(pollster::block_on(Gpu::new()).unwrap()) };
    limited.limit_bindings(15 * 67 * 67 * 4);
    let on = |device: &Device| {
        let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
        let model = Model::new(device, net, Init::Default, 3).unwrap();
        let config = TrainConfig { batch: 32, optimizer: Optimizer::Adam(Adam { lr: 2e-3, ..Adam::default() }), seed: 11, augment: true };
        Trainer::new(device, model, data().train.truncated(256).upload(device).unwrap(), config).unwrap()
    };
    let run = |trainer: &mut Trainer, device: &Device, n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                trainer.step(device).unwrap();
                pollster::block_on(trainer.stats(device)).unwrap().loss_sum as f32
            })
            .collect()
    };
    let mut whole = on(&limited);
    assert_eq!(whole.micro_batches().describe(), "3 micro-batches of 11 (one of 10)");
    whole.reset_stats(&limited).unwrap();
    let all = run(&mut whole, &limited, 6);
    let mut first = on(&limited);
    first.reset_stats(&limited).unwrap();
    let mut losses = run(&mut first, &limited, 3);
    let checkpoint = pollster::block_on(first.checkpoint(&limited, 1, String::new())).unwrap();
    let mut resumed = Trainer::resume(&limited, &checkpoint, data().train.truncated(256).upload(&limited).unwrap()).unwrap();
    losses.extend(run(&mut resumed, &limited, 3));
    assert_eq!(losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>(), all.iter().map(|l| l.to_bits()).collect::<Vec<_>>(), "the same device: bit for bit");
    let mut elsewhere = Trainer::resume(device(), &checkpoint, data().train.truncated(256).upload(device()).unwrap()).unwrap();
    assert!(!elsewhere.micro_batches().is_split());
    let mut there = losses[..3].to_vec();
    there.extend(run(&mut elsewhere, device(), 3));
    for (a, b) in there.iter().zip(&all) {
        assert!((a - b).abs() <= 1e-5 * b.abs(), "resumed whole {there:?}, in micro-batches {all:?}");
    }
}

/// A step split into many submissions (one per dispatch: the tiniest budget) gives the same
/// weights as the whole step in one.
fn a_split_step_equals_the_whole_one() {
    let mut whole = small_trainer(true);
    let mut split = small_trainer(true);
    assert_eq!(split.fit_submits(10.0, 1e-9), 4096, "a tiny budget: as many pieces as allowed");
    assert_eq!(split.fit_submits(0.3, 0.5), 2, "a margin of 2 for uneven dispatches");
    split.split_submits(usize::MAX);
    whole.reset_stats(device()).unwrap();
    split.reset_stats(device()).unwrap();
    assert_eq!(steps(&mut split, 3), steps(&mut whole, 3));
    assert_eq!(weights(&split), weights(&whole));
}

/// The rate changes between steps (the way on from a diverged run's checkpoint); a rate no
/// update can use is refused and the old one stays.
fn the_learning_rate_changes_between_steps() {
    let mut trainer = small_trainer(true);
    let err = trainer.set_lr(f32::NAN).unwrap_err().to_string();
    assert!(err.starts_with("learning rate: NaN is not a finite positive number"), "{err}");
    assert_eq!(trainer.config.optimizer.lr(), 2e-3);
    let mut same = small_trainer(true);
    trainer.set_lr(0.05).unwrap();
    assert_eq!(trainer.config.optimizer.lr(), 0.05);
    steps(&mut trainer, 1);
    steps(&mut same, 1);
    assert!(weights(&trainer) != weights(&same), "the step used the new rate");
}

/// A destroyed device (as a driver reset leaves it) is reported as lost, with the reason, at the
/// next readback, not as a garbled result.
#[test]
fn a_lost_device_is_reported() {
    let device = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
    let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
    let model = Model::new(&device, net, Init::Default, 3).unwrap();
    let config = TrainConfig { batch: 32, optimizer: Optimizer::Adam(Adam::default()), seed: 0, augment: false };
    let mut trainer = Trainer::new(&device, model, data().train.truncated(64).upload(&device).unwrap(), config).unwrap();
    trainer.step(&device).unwrap();
    pollster::block_on(trainer.stats(&device)).unwrap();
    device.gpu_ref().unwrap().destroy();
    let _ = trainer.step(&device);
    let err = pollster::block_on(trainer.stats(&device)).unwrap_err().to_string();
    assert!(err.starts_with("the GPU device was lost (destroyed"), "{err}");
    assert!(device.lost().is_some());
}

/// Per-layer statistics equal the same figures computed on the CPU from the tensors read back
/// (the output's mean, std and dead units; the gradient's norm; the update as the change of the
/// weights over the step); and a layer with zero weights and biases shows 100 % dead units, with
/// the gradient vanished in every layer before it, and says so.
fn layer_statistics_explain_a_dead_layer() {
    let norm = |v: &[f32]| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    let close = |what: &str, got: f64, want: f64| assert!((got - want).abs() <= 1e-3 * want.abs().max(1e-6), "{what}: {got} vs {want}");
    let mut trainer = small_trainer(true);
    trainer.reset_stats(device()).unwrap();
    steps(&mut trainer, 2);
    let before = pollster::block_on(trainer.model.params.read(device())).unwrap();
    trainer.step(device()).unwrap();
    let after = pollster::block_on(trainer.model.params.read(device())).unwrap();
    let stats = pollster::block_on(trainer.layer_stats(device())).unwrap();
    let layers = trainer.graph().weighted_layers();
    assert_eq!(stats.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["conv.0", "conv.3", "conv.6", "conv.8", "conv.10", "fc.0", "fc.3", "fc.6"]);
    for (s, layer) in stats.iter().zip(&layers) {
        let out = pollster::block_on(layer.output.read_f32(device())).unwrap();
        let n = out.len() as f64;
        let mean = out.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (out.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        let (batch, units) = (32, out.len() / 32);
        let dead = (0..units).filter(|&u| (0..batch).all(|b| out[b * units + u] <= 0.0)).count() as f64 / units as f64;
        close(&format!("{} mean", s.name), s.mean, mean);
        close(&format!("{} std", s.name), s.std, std);
        assert_eq!(s.dead, layer.relu.then_some(dead), "{}: dead units", s.name);
        let grads: Vec<f32> = layer.params.clone().flat_map(|p| pollster::block_on(trainer.gradients()[p].read_f32(device())).unwrap()).collect();
        close(&format!("{} gradient norm", s.name), s.grad_norm, norm(&grads));
        let change: Vec<f32> = layer.params.clone().flat_map(|p| before[p].iter().zip(&after[p]).map(|(b, a)| a - b).collect::<Vec<_>>()).collect();
        let weights: Vec<f32> = layer.params.clone().flat_map(|p| after[p].clone()).collect();
        close(&format!("{} update ratio", s.name), s.update_ratio, norm(&change) / norm(&weights));
    }
    assert!(cnnscope::train::layer_stats::hints(&stats).is_empty(), "a healthy start has nothing to say");

    // conv.3 zeroed: its output is 0 for every image, and no gradient reaches conv.0.
    let mut dead = small_trainer(true);
    let names: Vec<String> = dead.model.params.specs.iter().map(|s| s.name.clone()).collect();
    for key in ["conv.3.weight", "conv.3.bias"] {
        let t = &dead.model.params.tensors[names.iter().position(|n| n == key).unwrap()];
        t.write_f32(device(), &vec![0.0; t.len()]).unwrap();
    }
    dead.step(device()).unwrap();
    let stats = pollster::block_on(dead.layer_stats(device())).unwrap();
    let by = |name: &str| stats.iter().find(|s| s.name == name).unwrap().clone();
    assert_eq!(by("conv.3").dead, Some(1.0), "the zeroed layer is all dead");
    assert!(by("conv.0").dead.unwrap() < 0.2, "the layer before it is alive: {:?}", by("conv.0").dead);
    assert_eq!(by("conv.0").grad_norm, 0.0, "nothing flows back through a dead layer");
    assert_eq!(by("fc.6").dead, None, "the last layer has no ReLU");
    let hints = cnnscope::train::layer_stats::hints(&stats);
    assert_eq!(hints, ["layer conv.3's ReLUs are off for every image: nothing before it learns (a lower learning rate, another seed or a smaller width ratio helps)"]);
    // Without a dead layer, a vanished gradient is named on its own.
    let mut vanished = stats.clone();
    vanished.iter_mut().for_each(|s| s.dead = s.dead.map(|_| 0.0));
    assert_eq!(cnnscope::train::layer_stats::hints(&vanished), ["the gradient has vanished in layers conv.0, conv.3: their weights no longer change"]);
}

/// Per-layer statistics against PyTorch's (tests/fixtures/layer_stats_googlenet.safetensors):
/// GoogLeNet ÷16 at 48 (no dropout: both sides take the same steps), three Adam steps on one
/// batch of 64 training images from the same weights as `googlenet_training_follows_pytorch`.
/// PyTorch measures the update as the change of the weights; cnnscope from Adam's moments.
fn layer_statistics_match_pytorch() {
    let weights = include_bytes!("fixtures/training_googlenet.safetensors");
    let io = safetensors::SafeTensors::deserialize(include_bytes!("fixtures/training_googlenet_io.safetensors")).unwrap();
    let fixture = safetensors::SafeTensors::deserialize(include_bytes!("fixtures/layer_stats_googlenet.safetensors")).unwrap();
    let floats = |t: &safetensors::SafeTensors, name: &str| -> Vec<f32> { bytemuck::pod_collect_to_vec(t.tensor(name).unwrap().data()) };
    let config = floats(&io, "config");
    let (ratio, side, lr, images) = (config[0] as usize, config[1] as usize, config[2], config[3] as usize);
    let device = device();
    let net = Net::new(NetConfig::new(Arch::GoogLeNet, ratio).with_side(side)).unwrap();
    let model = Model::new(device, net, Init::Default, 0).unwrap();
    model.load_weights(device, weights).unwrap();
    let config = TrainConfig { batch: images, optimizer: Optimizer::Adam(Adam { lr, ..Adam::default() }), seed: 0, augment: false };
    let mut trainer = Trainer::new(device, model, data().train.truncated(images).upload(device).unwrap(), config).unwrap();
    for _ in 0..floats(&fixture, "steps")[0] as usize {
        trainer.step(device).unwrap();
    }
    let stats = pollster::block_on(trainer.layer_stats(device)).unwrap();
    assert_eq!(stats.len(), fixture.names().len() - 1, "every layer PyTorch measured");
    let mut worst = 0.0f64;
    for s in &stats {
        let want: Vec<f64> = floats(&fixture, &format!("stats.{}", s.name)).into_iter().map(f64::from).collect();
        for (what, got, want) in [("mean", s.mean, want[0]), ("std", s.std, want[1]), ("gradient norm", s.grad_norm, want[3]), ("update ratio", s.update_ratio, want[4])] {
            let err = (got - want).abs() / want.abs().max(1e-6);
            worst = worst.max(err);
            assert!(err < 2e-3, "{} {what}: {got} where PyTorch has {want}", s.name);
        }
        match s.dead {
            Some(dead) => assert!((dead - want[2]).abs() <= 0.01, "{} dead units: {dead} where PyTorch has {}", s.name, want[2]),
            None => assert_eq!(want[2], -1.0, "{}: PyTorch's layer ends in a ReLU", s.name),
        }
    }
    eprintln!("largest relative difference from PyTorch: {worst:.2e}");
}

/// A step timed part by part (`Trainer::timed_step`, what the page's "where the time goes" shows)
/// is the same step, bit for bit, and its parts are the whole step in order: the batch, every
/// layer forward, the loss, every layer backward in reverse, the optimiser.
fn a_timed_step_is_the_same_step_and_says_where_its_time_goes() {
    use cnnscope::Part;
    let device = device();
    let (mut whole, mut timed) = (small_trainer(true), small_trainer(true));
    whole.step(device).unwrap();
    let start = std::time::Instant::now();
    let (done, timing) = pollster::block_on(timed.timed_step(device, || start.elapsed().as_secs_f64())).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert!(!done);
    // The GPU's own timestamps where it writes them (lavapipe and SwiftShader do; the 4-wide
    // lavapipe run turns them off, so the round trips are timed there).
    let clock = match device.gpu_ref() {
        None => cnnscope::Clock::CpuTasks,
        Some(gpu) if gpu.timestamps => cnnscope::Clock::GpuTimestamps,
        Some(_) => cnnscope::Clock::RoundTrips,
    };
    assert_eq!(timing.clock, clock);
    eprintln!("timed by {clock:?}");
    let parts = &timing.parts;
    let bits = |t: &Trainer| pollster::block_on(t.model.params.read(device)).unwrap().concat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert!(bits(&whole) == bits(&timed), "the same weights, bit for bit");

    let names = |pass: fn(&Part) -> Option<&String>| parts.iter().filter_map(|p| pass(&p.part).cloned()).collect::<Vec<_>>();
    let forward = names(|p| if let Part::Forward(n) = p { Some(n) } else { None });
    let mut backward = names(|p| if let Part::Backward(n) = p { Some(n) } else { None });
    backward.reverse();
    let weighted: Vec<String> = ["conv.0", "conv.3", "conv.6", "conv.8", "conv.10", "fc.0", "fc.3", "fc.6"].map(String::from).to_vec();
    assert!(weighted.iter().all(|w| forward.contains(w) && backward.contains(w)), "every layer with parameters, both ways: {forward:?} {backward:?}");
    assert_eq!(forward.iter().filter(|n| weighted.contains(n)).collect::<Vec<_>>(), weighted.iter().collect::<Vec<_>>(), "forward in order");
    assert_eq!(backward.iter().filter(|n| weighted.contains(n)).collect::<Vec<_>>(), weighted.iter().collect::<Vec<_>>(), "backward in reverse");
    let other = |p: &cnnscope::PartTime| if let Part::Other(n) = &p.part { n.clone() } else { String::new() };
    assert_eq!((other(&parts[0]), other(parts.last().unwrap())), ("batch".to_string(), "optimizer".to_string()));
    let loss = parts.iter().position(|p| other(p) == "loss").unwrap();
    assert!(parts[..loss].iter().all(|p| !matches!(p.part, Part::Backward(_))) && parts[loss..].iter().all(|p| !matches!(p.part, Part::Forward(_))));
    let total: f64 = parts.iter().map(|p| p.secs).sum();
    assert!(parts.iter().all(|p| p.secs > 0.0 && p.dispatches > 0) && total <= elapsed, "{total} s of {elapsed} s");
}

/// Kernels compile ahead of the first step with their progress (what the page shows as
/// "preparing kernels n/m"): each once, counted up to the number the step asked for; the step
/// and the next then compile nothing more.
#[test]
fn a_steps_kernels_compile_ahead_with_progress() {
    let device = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
    let gpu = device.gpu_ref().unwrap();
    let design = "conv 8 k=3 p=1\nrelu\nmaxpool k=2\nnin_block 10 k=3\nglobal_avg_pool\nflatten";
    let net = Net::new(NetConfig { arch: Arch::Own(design.into()), ratio: 1, side: 28, second_hidden: true }).unwrap();
    let model = Model::new(&device, net, Init::Default, 0).unwrap();
    let config = TrainConfig { batch: 16, optimizer: Optimizer::Adam(Adam::default()), seed: 0, augment: false };
    let mut trainer = Trainer::new(&device, model, data().train.truncated(64).upload(&device).unwrap(), config).unwrap();
    let (_, rec) = trainer.recorded_step(&device).unwrap();
    let pending = device.pending_pipelines();
    assert!(pending >= 10, "a step's kernels wait to be compiled: {pending}");
    let seen = std::cell::RefCell::new(Vec::new());
    pollster::block_on(gpu.compile_pending(|done, total| seen.borrow_mut().push((done, total))));
    assert_eq!(seen.into_inner(), (1..=pending).map(|done| (done, pending)).collect::<Vec<_>>());
    assert_eq!(device.pending_pipelines(), 0);
    rec.submit();
    trainer.step(&device).unwrap();
    assert_eq!(device.pending_pipelines(), 0, "the next step asks for no new kernel");
    assert!(pollster::block_on(trainer.stats(&device)).unwrap().loss().is_finite());
}

/// A step's kernels compiled ahead, from a throwaway trainer on one batch of images (as the page
/// does while its user chooses): a run of the same setup on all the images then asks for none.
/// Stopped midway, what was not compiled stays pending for the run's own progress, and comes back
/// when asked for again after the list was forgotten.
#[test]
fn a_steps_kernels_compile_ahead_of_the_run() {
    let device = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
    let gpu = device.gpu_ref().unwrap();
    let design = "conv 8 k=3 p=1\nrelu\nmaxpool k=2\nnin_block 10 k=3\nglobal_avg_pool\nflatten";
    let config = TrainConfig { batch: 16, optimizer: Optimizer::Adam(Adam::default()), seed: 0, augment: true };
    let trainer = |images: usize| {
        let net = Net::new(NetConfig { arch: Arch::Own(design.into()), ratio: 1, side: 28, second_hidden: true }).unwrap();
        let model = Model::new(&device, net, Init::Default, 0).unwrap();
        Trainer::new(&device, model, data().train.truncated(images).upload(&device).unwrap(), config).unwrap()
    };
    trainer(16).request_kernels(&device).unwrap();
    let asked = device.pending_pipelines();
    assert!(asked >= 10, "a step's kernels wait to be compiled: {asked}");
    let done = std::cell::Cell::new(0);
    pollster::block_on(gpu.compile_pending_until(|d, _| done.set(d), || done.get() == 3));
    assert_eq!((done.get(), device.pending_pipelines()), (3, asked - 3), "stopped after three; the rest stay pending");
    // Forgotten (the user moved on), then asked for again: exactly the ones not compiled.
    gpu.forget_pending();
    assert_eq!(device.pending_pipelines(), 0);
    trainer(16).request_kernels(&device).unwrap();
    assert_eq!(device.pending_pipelines(), asked - 3, "asked for again, the uncompiled ones are pending again");
    pollster::block_on(gpu.compile_pending(|_, _| {}));
    let mut run = trainer(200);
    let (_, rec) = run.recorded_step(&device).unwrap();
    assert_eq!(device.pending_pipelines(), 0, "the run's first step asks for no new kernel");
    rec.submit();
    assert!(pollster::block_on(run.stats(&device)).unwrap().loss().is_finite());
}

/// Both engines take the same steps: the same batch order, dropout masks and augmentation draws
/// (AlexNet has dropout; this run augments), so their losses agree within float rounding; and a
/// run moves between them: checkpointed on one engine, it resumes on the other and goes on as it
/// would have.
#[test]
fn both_engines_take_the_same_steps_and_a_run_moves_between_them() {
    let losses = |bits: Vec<u32>| bits.into_iter().map(f32::from_bits).collect::<Vec<_>>();
    let close = |what: &str, a: &[f32], b: &[f32]| {
        for (step, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-3 * y.abs(), "{what}, step {}: {x} against {y}", step + 1);
        }
    };
    let mut runs = Vec::new();
    for on_cpu in [false, true] {
        ON_CPU.set(on_cpu);
        let mut trainer = small_trainer_with(true, true);
        trainer.reset_stats(device()).unwrap();
        runs.push(losses(steps(&mut trainer, 10)));
    }
    eprintln!("WGSL {:?}\nCPU  {:?}", runs[0], runs[1]);
    close("the CPU engine against the WGSL engine", &runs[1], &runs[0]);

    for (from_cpu, whole) in [(false, &runs[0]), (true, &runs[1])] {
        ON_CPU.set(from_cpu);
        let mut first = small_trainer_with(true, true);
        first.reset_stats(device()).unwrap();
        let mut got = losses(steps(&mut first, 5));
        let bytes = pollster::block_on(first.checkpoint(device(), 3, String::new())).unwrap().to_bytes().unwrap();
        ON_CPU.set(!from_cpu);
        let checkpoint = cnnscope::train::Checkpoint::from_bytes(&bytes).unwrap();
        let mut resumed = Trainer::resume(device(), &checkpoint, data().train.truncated(256).upload(device()).unwrap()).unwrap();
        got.extend(losses(steps(&mut resumed, 5)));
        close(&format!("resumed on {}", device().name()), &got, whole);
    }
}

/// Divergence is judged on the losses since the last check. Late in a long epoch (2^20 images at
/// loss 2.3 so far, restored from a checkpoint) a burst of steps at a runaway rate leaves the
/// epoch's mean far under the 100·ln 10 threshold, yet the interval's loss is caught at once; from
/// then on every check, and every checkpoint, refuses: no save writes the diverged state.
fn a_late_burst_of_divergence_is_caught_and_never_saved() {
    let device = device();
    let trainer = small_trainer(true);
    let mut late = pollster::block_on(trainer.checkpoint(device, 1, String::new())).unwrap();
    let (images, mean) = (f32::powi(2.0, 20), 2.3f32);
    late.state.sums = [mean * images, 0.1 * images, images].map(f32::to_bits);
    let mut trainer = Trainer::resume(device, &late, data().train.truncated(256).upload(device).unwrap()).unwrap();
    trainer.set_lr(0.2).unwrap();
    let mut caught = None;
    for _ in 0..8 {
        trainer.step(device).unwrap();
        if let Err(e) = pollster::block_on(trainer.stats(device)) {
            caught = Some(e);
            break;
        }
    }
    let Some(cnnscope::EngineError::Diverged { loss, step, .. }) = caught else { panic!("no divergence caught: {caught:?}") };
    let examples = (step - late.state.steps) as f64 * 32.0;
    let epoch_mean = (f64::from(mean) * f64::from(images) + loss * 32.0) / (f64::from(images) + examples);
    assert!(loss > 230.0 && epoch_mean < 230.0, "the interval's loss {loss} is caught where the epoch's mean {epoch_mean} stays under the threshold");
    let again = pollster::block_on(trainer.stats(device)).unwrap_err().to_string();
    assert!(again.starts_with("training diverged at step"), "{again}");
    let saved = pollster::block_on(trainer.checkpoint(device, 1, String::new())).map(|_| ()).unwrap_err().to_string();
    assert!(saved.starts_with("training diverged at step"), "{saved}");
}

/// A checkpoint written as a stream (header, then each tensor as read back: what the page keeps
/// every few seconds) reads back as the same checkpoint the whole-file writer makes, resumes, and
/// is the same bytes each time it is written.
fn a_streamed_checkpoint_is_the_checkpoint() {
    let device = device();
    let mut trainer = small_trainer(true);
    steps(&mut trainer, 3);
    let streamed = || {
        let stream = pollster::block_on(trainer.checkpoint_stream(device, 2, "{\"name\":\"run\"}")).unwrap();
        let size = stream.len();
        let mut file = Vec::new();
        pollster::block_on(stream.write_to(device, async |piece: &[u8]| -> Result<(), String> { file.extend_from_slice(piece); Ok(()) }, |e| e.to_string())).unwrap();
        assert_eq!(file.len() as u64, size, "the size it announces");
        file
    };
    let file = streamed();
    assert_eq!(file, streamed(), "byte for byte the same each time");
    let whole = pollster::block_on(trainer.checkpoint(device, 2, "{\"name\":\"run\"}".into())).unwrap();
    let read = cnnscope::train::Checkpoint::from_bytes(&file).unwrap();
    assert!(read == whole, "the same checkpoint as the whole-file writer's");
    assert_eq!(file, whole.to_bytes().unwrap(), "and the same bytes");
    // Read back a tensor at a time, as the page opens a kept run: the same checkpoint; a file cut
    // short or a header that lies is refused.
    let header = &file[..cnnscope::train::checkpoint::header_len(&file).unwrap()];
    let pieces = |len: u64| {
        pollster::block_on(cnnscope::train::Checkpoint::from_pieces(header, len, async |from: u64, to: u64| Ok(file[from as usize..to as usize].to_vec()), |e| e.to_string()))
    };
    assert!(pieces(file.len() as u64).unwrap() == whole, "read in pieces");
    let short = pieces(file.len() as u64 - 4).unwrap_err();
    assert_eq!(short, "weights file: not a valid safetensors file (its tensors do not fill the file back to back); the current model is unchanged");
    let resumed = Trainer::resume(device, &read, data().train.truncated(256).upload(device).unwrap()).unwrap();
    assert_eq!(resumed.steps, 3);
}

/// `train::Run`, the driver the CLI and the page share, on a clock that ticks a second per read:
/// the same steps as the trainer's own (each epoch's sums bit for bit), and what happened at the
/// cadence asked for: the first step, the second timed, a readback every 3 steps and at each
/// epoch's end, layer statistics every second readback and at each end, the epoch's line with
/// the evaluation outside its training time, a keep after each epoch and when asked, a rest
/// counted nowhere, and the end.
fn a_run_reports_at_its_cadence_and_trains_as_the_trainer_does() {
    use cnnscope::train::{Cadence, Happened, Run};
    use std::rc::Rc;
    let device = device();
    let mut direct = small_trainer(true);
    let expected: Vec<Stats> = (0..2)
        .map(|_| {
            direct.reset_stats(device).unwrap();
            while !direct.step(device).unwrap() {}
            pollster::block_on(direct.stats(device)).unwrap()
        })
        .collect();

    let time = Rc::new(Cell::new(0.0));
    let ticks = time.clone();
    let clock = Box::new(move || {
        ticks.set(ticks.get() + 1.0);
        ticks.get()
    });
    let cadence = Cadence { readback_every: 3, layer_stats_every: Some(2), layer_stats_at_epochs: true, time_second_step: true, keep_every_secs: 1e6, eval_batch: 256 };
    let test = data().test.truncated(100).upload(device).unwrap();
    let mut run = Run::new(device, small_trainer(true), test, 2, cadence, clock).unwrap();
    let mut log = Vec::new();
    let mut ends = Vec::new();
    let mut interval_images = 0.0;
    let mut rates = Vec::new();
    while !run.finished() {
        if run.taken() == 7 {
            // A keep asked for just before the epoch's end is the epoch's keep, not one more after it.
            run.keep_soon();
        }
        if run.taken() == 8 {
            // Paused for 1000 s between the epochs, asking for a keep meanwhile.
            run.rest();
            time.set(time.get() + 1000.0);
        }
        if run.taken() == 12 {
            run.keep_soon();
        }
        for happened in pollster::block_on(run.step(device, |_, _| {})).unwrap() {
            let step = run.trainer.steps;
            log.push(match happened {
                Happened::FirstStep { .. } => format!("{step} first"),
                Happened::Timing { step: timed, .. } => format!("{timed} timed"),
                Happened::Readback(r) => {
                    interval_images += r.interval.examples;
                    assert_eq!((r.progress.steps, r.progress.batches, r.progress.epochs), (step, 8, 2));
                    assert_eq!(r.progress, run.progress(), "where the run stands, as a paused run shows it");
                    rates.push(r.progress.images_per_sec);
                    format!("{step} readback {}/{}", r.progress.epoch, r.progress.batch)
                }
                Happened::Layers { step: at, layers, .. } => {
                    assert!(!layers.is_empty());
                    format!("{at} layers")
                }
                Happened::Epoch(end) => {
                    assert!(end.train_secs < end.secs && end.secs < 1000.0, "{end:?}: evaluation outside the training time, the rest outside both");
                    assert!(end.line().starts_with(&format!("epoch {}, loss ", end.epoch)));
                    ends.push(end.clone());
                    format!("{step} epoch {}", end.epoch)
                }
                Happened::KeepDue => {
                    let began = run.now();
                    run.kept(began);
                    format!("{step} keep")
                }
                Happened::Finished => format!("{step} finished"),
            });
        }
    }
    assert_eq!(
        log,
        [
            "1 first", "2 timed", "3 readback 1/3", "6 readback 1/6", "6 layers", "8 readback 1/8", "8 layers", "8 epoch 1", "8 keep",
            "11 readback 2/3", "11 layers", "14 readback 2/6", "14 keep", "16 readback 2/8", "16 layers", "16 epoch 2", "16 keep", "16 finished"
        ]
    );
    assert_eq!(ends.iter().map(|e| e.train).collect::<Vec<_>>(), expected, "the run's steps are the trainer's");
    assert_eq!(interval_images, 2.0 * 8.0 * 32.0, "the intervals cover every image once");
    // (A clock read per part of the timed step makes the fake seconds uneven: a ratio, not a value.)
    assert!(rates[3] > 0.5 * rates[2], "{rates:?}: the 1000 s rest is not training time");
    assert!(ends.iter().all(|e| e.test.examples == 100.0));
}

/// Issue 33.7: divergence by the weights. The loss is computed before the update, so the state
/// right after an exploding step has a finite loss and may have infinite weights: both ways of
/// keeping a run (the whole checkpoint, the stream the page keeps) refuse parameters that are not
/// finite, naming the tensor, however finite the loss.
fn weights_that_are_not_finite_are_never_kept() {
    let device = device();
    let mut trainer = small_trainer(true);
    trainer.step(device).unwrap();
    let first = &trainer.model.params.tensors[2];
    let mut values = pollster::block_on(first.read_f32(device)).unwrap();
    let middle = values.len() / 2;
    values[middle] = f32::INFINITY;
    first.write_f32(device, &values).unwrap();
    assert!(pollster::block_on(trainer.stats(device)).unwrap().loss().is_finite(), "the loss alone says nothing");
    let name = &trainer.model.params.specs[2].name;
    let whole = pollster::block_on(trainer.checkpoint(device, 1, String::new())).map(|_| ()).unwrap_err().to_string();
    assert!(whole.starts_with(&format!("training diverged at step 1: {name} holds a value that is not finite")), "{whole}");
    let stream = pollster::block_on(trainer.checkpoint_stream(device, 1, "")).unwrap();
    let mut written = Vec::new();
    let streamed = pollster::block_on(stream.write_to(device, async |piece: &[u8]| Ok::<_, String>(written.extend_from_slice(piece)), |e| e.to_string())).unwrap_err();
    assert!(streamed.contains(&format!("{name} holds a value that is not finite")), "{streamed}");
}
