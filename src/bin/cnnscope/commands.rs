//! What each subcommand does.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::Instant;

use cnnscope::data::{FashionMnist, Split};
use cnnscope::model::weights::{self, SavedNet};
use cnnscope::model::onnx;
use cnnscope::model::{Init, Model};
use cnnscope::net::{Arch, Net, NetConfig, Summary};
use cnnscope::ops::{Adam, Sgd};
use cnnscope::train::{Checkpoint, Evaluator, Optimizer, Recipe, SUBMIT_BUDGET_SECS, TrainConfig, Trainer, epoch_line};
use cnnscope::net::fit;
use cnnscope::{Device, EngineError, LayerTime};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{BenchArgs, Cli, Command, DeviceArgs, EvalArgs, ExportArgs, FileNetArgs, NetArgs, Opt, SummaryArgs, TrainArgs};

type Result<T> = std::result::Result<T, EngineError>;

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary(args) => summary(&args).await,
        Command::Train(args) => train(&args).await,
        Command::Eval(args) => eval(&args).await,
        Command::Export(args) => export(&args),
        Command::Bench(args) => bench(&args).await,
    }
}

/// The network the flags describe, on top of `recipe`'s configuration.
fn net_config(args: &NetArgs, recipe: &Recipe) -> NetConfig {
    NetConfig {
        arch: args.net.clone(),
        ratio: args.ratio.unwrap_or(recipe.net.ratio),
        side: args.side.unwrap_or(recipe.net.side),
        second_hidden: !args.one_hidden,
    }
}

/// Training knobs only the CLI has, checked before anything is loaded.
fn check_counts(epochs: usize, limit: Option<usize>, save: bool) -> Result<()> {
    // `--epochs 0 --save FILE` saves the initial weights (both trainers can then start from them).
    if epochs == 0 && !save {
        return Err(EngineError::setting("--epochs", "0 epochs trains nothing: give 1 or more (with --save, 0 saves the initial weights)"));
    }
    if limit == Some(0) {
        return Err(EngineError::setting("--limit", "0 images leaves nothing to train on: give 1 or more, or leave it out for all 60,000"));
    }
    Ok(())
}

async fn summary(args: &SummaryArgs) -> Result<()> {
    let net = Net::new(net_config(&args.net, &Recipe::quick(args.net.net.clone())))?;
    println!("{}", Summary::new(&net)?);
    if let Some(choice) = args.device {
        cnnscope::train::check_batch(args.batch)?;
        let device = open_device(DeviceArgs { choice, binding_limit: args.binding_limit }).await?;
        let plan = fit::fit_training(device.capacity(), &net, args.batch, 2, 0)?;
        println!(
            "memory: training at batch {}{} with Adam takes {} on {}",
            args.batch,
            in_micro_batches(plan.micro),
            cnnscope::engine::error::human(plan.total_for(device.capacity())),
            device.name()
        );
    }
    Ok(())
}

/// The engine `--device` asks for, saying which one runs and why, and binding no more than
/// `--binding-limit` where given.
async fn open_device(args: DeviceArgs) -> Result<Device> {
    let (mut device, picked) = Device::open(args.choice).await?;
    eprintln!("device: {} — {}", device.describe(), picked.reason);
    if let Some(limit) = args.binding_limit {
        device.limit_bindings(limit);
        eprintln!("binding at most {} per buffer, as asked", cnnscope::engine::error::human(device.max_binding_bytes()));
    }
    Ok(device)
}

/// " in 2 micro-batches of 64" for a split step, nothing for a whole one.
fn in_micro_batches(micro: fit::MicroBatches) -> String {
    if micro.is_split() { format!(" in {}", micro.describe()) } else { String::new() }
}

fn load_data(dir: &Path, limit: Option<usize>) -> Result<FashionMnist> {
    let data = FashionMnist::load(dir)?;
    Ok(match limit {
        Some(n) => FashionMnist { train: data.train.truncated(n), test: data.test.truncated(n) },
        None => data,
    })
}

fn optimizer(args: &TrainArgs, recipe: &Recipe) -> Optimizer {
    let lr = args.lr.unwrap_or(recipe.optimizer.lr());
    let opt = args.opt.unwrap_or(match recipe.optimizer {
        Optimizer::Adam(_) => Opt::Adam,
        Optimizer::Sgd(_) => Opt::Sgd,
    });
    match opt {
        Opt::Adam => Optimizer::Adam(Adam { lr, weight_decay: args.weight_decay, ..Adam::default() }),
        Opt::Sgd => Optimizer::Sgd(Sgd { lr, momentum: args.momentum, weight_decay: args.weight_decay }),
    }
}

fn progress_bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches · {msg} · ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

async fn train(args: &TrainArgs) -> Result<()> {
    let recipe = if args.d2l { Recipe::d2l(args.net.net.clone()) } else { Recipe::quick(args.net.net.clone()) };
    let mut resumed = args.resume.as_deref().map(read_checkpoint).transpose()?;
    let start_weights = args.weights.as_deref().map(read_weights).transpose()?;
    let (net_config, config, epochs) = match &mut resumed {
        Some(c) => {
            if c.net.arch != args.net.net {
                return Err(EngineError::setting("--resume", format!("the checkpoint holds {}, not {}", c.net.arch, args.net.net)));
            }
            // Another rate is the way out of a diverged run; everything else is the run's own.
            if let Some(lr) = args.lr {
                c.config.optimizer = c.config.optimizer.with_lr(lr);
            }
            (c.net.clone(), c.config, args.epochs.unwrap_or(c.epochs))
        }
        None => {
            let net = match &start_weights {
                Some(bytes) => file_config(&args.net, bytes, args.weights.as_deref().unwrap_or(Path::new("")), recipe.net.clone())?,
                None => net_config(&args.net, &recipe),
            };
            let config = TrainConfig { batch: args.batch.unwrap_or(recipe.batch), optimizer: optimizer(args, &recipe), seed: args.seed, augment: args.augment };
            (net, config, args.epochs.unwrap_or(recipe.epochs))
        }
    };
    let net = Net::new(net_config)?;
    let (batch, init) = (config.batch, args.init.unwrap_or(recipe.init));
    config.check()?;
    check_counts(epochs, args.limit, args.save.is_some())?;

    let device = open_device(args.device).await?;
    fit::fit_training(device.capacity(), &net, batch, config.optimizer.moments(), 0)?;
    let data = load_data(&args.data.dir, args.limit)?;
    // Again with the training images the engine will hold, before they are uploaded.
    fit::fit_training(device.capacity(), &net, batch, config.optimizer.moments(), data.train.uploaded_bytes())?;
    let summary = Summary::new(&net)?;
    eprintln!(
        "{} · {} parameters · {:.1} MFLOPs per image · batch {batch} · {} · {init:?} init · {} training / {} test images",
        summary.title,
        cnnscope::net::summary::grouped(summary.params),
        summary.flops as f64 / 1e6,
        config.optimizer,
        data.train.len() / batch * batch,
        data.test.len()
    );
    let (train_set, test_set) = (data.train.upload(&device)?, data.test.upload(&device)?);
    let mut trainer = match (&resumed, &start_weights, &args.weights) {
        (Some(c), _, _) => {
            let trainer = Trainer::resume(&device, c, train_set)?;
            eprintln!("resuming at step {} (epoch {}, batch {}) from {}", trainer.steps, trainer.epoch + 1, trainer.batch_in_epoch, path_text(&args.resume));
            trainer
        }
        (None, Some(bytes), Some(path)) => {
            let model = Model::new(&device, net, init, args.seed)?;
            model.load_weights(&device, bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
            eprintln!("starting from the weights in {}", path.display());
            Trainer::new(&device, model, train_set, config)?
        }
        _ => Trainer::new(&device, Model::new(&device, net, init, args.seed)?, train_set, config)?,
    };
    let micro = trainer.micro_batches();
    if micro.is_split() {
        eprintln!(
            "each step runs in {} (their gradients added up, then one update): the whole batch's tensors exceed {} per buffer",
            micro.describe(),
            cnnscope::engine::error::human(device.max_binding_bytes())
        );
    }
    let mut evaluator = Evaluator::new(&device, &trainer.model, &test_set, batch.max(256))?;
    let batches = trainer.batches_per_epoch();
    let mut saved_at = Instant::now();

    for epoch in trainer.epoch + 1..=epochs {
        let bar = progress_bar(batches);
        bar.set_prefix(format!("epoch {epoch}"));
        bar.set_position(trainer.batch_in_epoch as u64);
        let start = Instant::now();
        // A run resumed mid-epoch keeps the epoch's running sums.
        if trainer.batch_in_epoch == 0 {
            trainer.reset_stats(&device)?;
        }
        let (mut last_read, mut steps_at_read) = (Instant::now(), trainer.steps);
        loop {
            let done = trainer.step(&device)?;
            bar.inc(1);
            // Reading the running sums waits for the GPU: only every 20 steps.
            if done || trainer.batch_in_epoch % 20 == 0 {
                let stats = trainer.stats(&device).await.inspect_err(|e| resume_note(e, args))?;
                let rate = stats.examples / start.elapsed().as_secs_f64();
                bar.set_message(format!("loss {:.4} · train acc {:.3} · {rate:.1} images/s", stats.loss(), stats.accuracy()));
                let steps = (trainer.steps - steps_at_read).max(1) as f64;
                trainer.fit_submits(last_read.elapsed().as_secs_f64() / steps, SUBMIT_BUDGET_SECS);
                (last_read, steps_at_read) = (Instant::now(), trainer.steps);
                if let Some(path) = &args.checkpoint
                    && !done
                    && saved_at.elapsed().as_secs() >= CHECKPOINT_EVERY_SECS
                {
                    keep_checkpoint(&device, &trainer, epochs, path).await;
                    saved_at = Instant::now();
                }
            }
            if done {
                break;
            }
        }
        let train_stats = trainer.stats(&device).await.inspect_err(|e| resume_note(e, args))?;
        let train_secs = start.elapsed().as_secs_f64();
        let test = evaluator.run(&device, &trainer.model, &test_set).await?;
        bar.finish_and_clear();
        println!("{}", epoch_line(epoch, &train_stats, &test, start.elapsed().as_secs_f64(), train_secs));
        if args.stats {
            print!("{}", cnnscope::train::layer_stats::table(&trainer.layer_stats(&device).await?));
        }
        if let Some(why) = evaluator.dead_start(&device, &trainer.model, &test_set, &train_stats).await? {
            eprintln!("note: {why}; another --seed or a smaller --ratio avoids it.");
        }
        if let Some(path) = &args.checkpoint {
            // The last epoch's checkpoint is the run's result: failing to write it fails the run.
            if epoch == epochs {
                save_checkpoint(&device, &trainer, epochs, path).await?;
            } else {
                keep_checkpoint(&device, &trainer, epochs, path).await;
            }
            saved_at = Instant::now();
        }
    }
    if let Some(path) = &args.save {
        let bytes = trainer.model.save_weights(&device).await?;
        write_file(path, &bytes)?;
        eprintln!("saved weights to {}", path.display());
    }
    Ok(())
}

/// Seconds of training between mid-epoch checkpoints (one is also written after every epoch).
const CHECKPOINT_EVERY_SECS: u64 = 120;

fn path_text(path: &Option<std::path::PathBuf>) -> String {
    path.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
}

/// After a diverged run or a lost device: where the run's last state is, and how to go on.
fn resume_note(e: &EngineError, args: &TrainArgs) {
    let Some(path) = args.checkpoint.as_ref().filter(|p| p.exists()) else { return };
    let lower = match e {
        EngineError::Diverged { lr, .. } => format!(" --lr {}", lr / 10.0),
        EngineError::DeviceLost(_) => String::new(),
        _ => return,
    };
    eprintln!("note: {} holds the run as it was at its last checkpoint; continue it with `--resume {}{lower}`", path.display(), path.display());
}

/// Writes `bytes` to `path` whole or not at all, as a database would: into a temporary file of its
/// own beside the target (two saves never share one), flushed to the disk, renamed over the
/// target, and the directory flushed so the rename survives a power cut. On failure the temporary
/// file is removed and the previous file stays as it was.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_whole(path, bytes).map_err(|e| EngineError::Weights(format!("cannot write {} ({e})", path.display())))
}

/// [`write_file`]'s way of writing, with the plain I/O error.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new().prefix(".cnnscope-").suffix(".partial").tempfile_in(dir).and_then(|mut file| {
        file.write_all(bytes)?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        // Flushing a directory is how POSIX makes a rename durable; elsewhere it is not needed.
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })
}

/// Saves a checkpoint during training; one that cannot be written is reported and training goes
/// on (the page does the same), so a full disk costs a save, not the run.
async fn keep_checkpoint(device: &Device, trainer: &Trainer, epochs: usize, path: &Path) {
    if let Err(e) = save_checkpoint(device, trainer, epochs, path).await {
        eprintln!("warning: the checkpoint was not saved: {e}; training goes on");
    }
}

async fn save_checkpoint(device: &Device, trainer: &Trainer, epochs: usize, path: &Path) -> Result<()> {
    let bytes = trainer.checkpoint(device, epochs, String::new()).await?.to_bytes()?;
    write_file(path, &bytes)
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = read_weights(path)?;
    Checkpoint::from_bytes(&bytes).map_err(|e| e.in_file(&path.display().to_string()))
}

fn read_weights(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| EngineError::Weights(format!("cannot read {} ({e})", path.display())))
}

/// The network a weights file was saved for: its metadata (written by `--save`), overridden by
/// the flags, else `defaults`.
fn file_config(flags: &NetArgs, bytes: &[u8], path: &Path, defaults: NetConfig) -> Result<NetConfig> {
    let saved = SavedNet::read(bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
    let file = saved.config(NetConfig { arch: flags.net.clone(), ..defaults });
    Ok(NetConfig {
        arch: flags.net.clone(),
        ratio: flags.ratio.unwrap_or(file.ratio),
        side: flags.side.unwrap_or(file.side),
        second_hidden: !flags.one_hidden && file.second_hidden,
    })
}

/// A weights file or checkpoint and the network it holds: the one its metadata names, each field
/// overridden by `flags` (`eval` and `export` open files alike).
fn open_saved(path: &Path, flags: &FileNetArgs) -> Result<(Vec<u8>, Net)> {
    let bytes = read_weights(path)?;
    let saved = SavedNet::read(&bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
    let Some(arch) = flags.net.clone().or(saved.arch) else {
        return Err(EngineError::Weights(format!("{} does not name its network: pass --net", path.display())));
    };
    let net_flags = NetArgs { net: arch.clone(), ratio: flags.ratio, side: flags.side, one_hidden: flags.one_hidden };
    let net = Net::new(file_config(&net_flags, &bytes, path, NetConfig::new(arch, 1))?)?;
    Ok((bytes, net))
}

async fn eval(args: &EvalArgs) -> Result<()> {
    if args.limit == Some(0) {
        return Err(EngineError::setting("--limit", "0 images leaves nothing to evaluate: give 1 or more, or leave it out for all 10,000"));
    }
    let (bytes, net) = open_saved(&args.weights, &args.net)?;
    let data = load_data(&args.data.dir, args.limit)?;
    let device = open_device(args.device).await?;
    let model = Model::new(&device, net, Init::Default, 0)?;
    model.load_weights(&device, &bytes).map_err(|e| e.in_file(&args.weights.display().to_string()))?;
    let test_set = data.test.upload(&device)?;
    let start = Instant::now();
    let mut evaluator = Evaluator::new(&device, &model, &test_set, args.batch)?;
    let stats = evaluator.run(&device, &model, &test_set).await?;
    println!(
        "{}: test loss {:.4}, test acc {:.4} on {} images, {:.1} sec",
        Summary::new(&model.net)?.title,
        stats.loss(),
        stats.accuracy(),
        stats.examples,
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.predictions {
        let classes = evaluator.predict(&device, &model, &test_set).await?;
        let text: String = classes.iter().map(|c| format!("{c}\n")).collect();
        write_whole(path, text.as_bytes())
            .map_err(|e| EngineError::setting("--predictions", format!("cannot write {} ({e})", path.display())))?;
        eprintln!("wrote the predicted classes of {} test images to {}", classes.len(), path.display());
    }
    Ok(())
}

/// A weights file or checkpoint as an ONNX model ([`cnnscope::model::onnx`]); no engine is opened.
fn export(args: &ExportArgs) -> Result<()> {
    let same = |a: &Path, b: &Path| a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same(&args.file, &args.output) {
        return Err(EngineError::setting("export", format!("{} is the file being exported: give the ONNX model another name", args.output.display())));
    }
    let (bytes, net) = open_saved(&args.file, &args.net)?;
    let file = args.file.display().to_string();
    let values = weights::from_safetensors(&net.root.params(""), &bytes).map_err(|e| e.in_file(&file))?;
    let model = onnx::to_bytes(&net, &values).map_err(|e| match e {
        EngineError::InvalidShape { op, detail } => EngineError::InvalidShape { op, detail: format!("{file}: {detail}") },
        other => other,
    })?;
    write_whole(&args.output, &model).map_err(|e| EngineError::setting("export", format!("cannot write {} ({e})", args.output.display())))?;
    let side = net.config.side;
    eprintln!(
        "wrote {}: {} · ONNX opset {} · input {}: batch × 1 × {side} × {side} float32 (images / 255) · output {}: batch × {}",
        args.output.display(),
        Summary::new(&net)?.title,
        onnx::OPSET,
        onnx::INPUT,
        onnx::OUTPUT,
        cnnscope::net::CLASSES
    );
    Ok(())
}

async fn bench(args: &BenchArgs) -> Result<()> {
    let nets = if args.net.is_empty() { Arch::ALL.to_vec() } else { args.net.clone() };
    if args.steps == 0 {
        return Err(EngineError::setting("--steps", "0 timed steps measure nothing: give 1 or more"));
    }
    let data = FashionMnist::load(&args.data.dir)?;
    let device = open_device(args.device).await?;
    let train: Split = data.train.truncated(args.batch.saturating_mul(args.steps.saturating_add(1)));
    let train_set = train.upload(&device)?;
    println!("| net | ratio | side | batch | images/s | GFLOP/s (training ≈ 3× forward) |");
    println!("|---|---|---|---|---|---|");
    for arch in nets {
        let side = args.side.unwrap_or(arch.native_side());
        let net = Net::new(NetConfig::new(arch.clone(), args.ratio).with_side(side))?;
        let flops = Summary::new(&net)?.flops as f64;
        let config = TrainConfig { batch: args.batch, optimizer: Optimizer::Adam(Adam::default()), seed: 0, augment: false };
        let model = Model::new(&device, net.clone(), Init::Default, 0)?;
        let mut trainer = Trainer::new(&device, model, train_set.clone(), config)?;
        // One warm-up step compiles the pipelines.
        trainer.step(&device)?;
        trainer.stats(&device).await?;
        let start = Instant::now();
        for _ in 0..args.steps {
            trainer.step(&device)?;
        }
        trainer.stats(&device).await?;
        let rate = (args.steps * args.batch) as f64 / start.elapsed().as_secs_f64();
        println!(
            "| {arch} | {} | {} | {} | {rate:.1} | {:.1} |",
            args.ratio,
            net.config.side,
            args.batch,
            rate * 3.0 * flops / 1e9
        );
        if args.profile {
            print_profile(trainer.profile_step(&device)?);
            let start = Instant::now();
            let (_, parts) = trainer.timed_step(&device, || start.elapsed().as_secs_f64()).await?;
            print_layers(&LayerTime::by_layer(&parts.parts));
        }
    }
    Ok(())
}

/// One step's time layer by layer, in the step's order (what the page's "where the time goes"
/// chart shows).
fn print_layers(layers: &[LayerTime]) {
    let total: f64 = layers.iter().map(LayerTime::total).sum();
    println!("one step, layer by layer: {:.1} ms", total * 1e3);
    println!("  {:<16} {:>11} {:>11} {:>6}", "layer", "forward ms", "backward ms", "share");
    for l in layers {
        let (forward, backward) = if l.other > 0.0 { (l.other, 0.0) } else { (l.forward, l.backward) };
        println!("  {:<16} {:>11.2} {:>11.2} {:>5.0}%", l.name, forward * 1e3, backward * 1e3, 100.0 * l.total() / total);
    }
}

/// Per-kernel time of one step, largest first, kernels of the same name summed.
fn print_profile(dispatches: Vec<(String, u64, f64)>) {
    let total: f64 = dispatches.iter().map(|d| d.2).sum();
    let mut by_kernel: Vec<(String, usize, f64)> = Vec::new();
    for (key, _, secs) in &dispatches {
        match by_kernel.iter_mut().find(|k| &k.0 == key) {
            Some(k) => {
                k.1 += 1;
                k.2 += secs;
            }
            None => by_kernel.push((key.clone(), 1, *secs)),
        }
    }
    by_kernel.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!("one step, kernel by kernel: {} dispatches, {:.1} ms", dispatches.len(), total * 1e3);
    for (key, count, secs) in by_kernel {
        println!("  {key:<40} {count:>4} × {:>9.2} ms total ({:.0}%)", secs * 1e3, 100.0 * secs / total);
    }
}
