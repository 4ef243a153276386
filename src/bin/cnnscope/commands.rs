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
use cnnscope::train::{Cadence, Checkpoint, Evaluator, Happened, Optimizer, Recipe, Run, TrainConfig, Trainer};
use cnnscope::net::fit;
use cnnscope::{Device, EngineError, Gpu, LayerTime};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{BenchArgs, CheckArgs, Cli, Command, DeviceArgs, EvalArgs, ExportArgs, FileNetArgs, NetArgs, Opt, SummaryArgs, TrainArgs};

type Result<T> = std::result::Result<T, EngineError>;

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary(args) => summary(&args).await,
        Command::Train(args) => train(&args).await,
        Command::Eval(args) => eval(&args).await,
        Command::Export(args) => export(&args),
        Command::Bench(args) => bench(&args).await,
        Command::Check(args) => check(&args).await,
    }
}

/// The self-check (`cnnscope::check`) of the adapter wgpu picks, against the CPU engine.
async fn check(args: &CheckArgs) -> Result<()> {
    let archs = if args.net.is_empty() { &Arch::ALL[..] } else { &args.net[..] };
    let configs = cnnscope::check::nets(archs, args.ratio, args.side);
    let gpu = Device::Wgsl(Gpu::new().await?);
    eprintln!("checking {} against the CPU engine…", gpu.describe());
    let report = cnnscope::check::run(&gpu, &Device::cpu(), &configs, |done, total| eprint!("\r{done}/{total}")).await?;
    eprintln!();
    println!("{}", report.text());
    match report.passed() {
        true => Ok(()),
        false => Err(EngineError::setting("check", "this adapter's WGSL engine differs from the CPU engine (the cases marked DIFFERS above)")),
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
    let (mut device, picked) = cnnscope::check::open(args.choice).await?;
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
    let weight_decay = args.weight_decay.unwrap_or(0.0);
    match opt {
        Opt::Adam => Optimizer::Adam(Adam { lr, weight_decay, ..Adam::default() }),
        Opt::Sgd => Optimizer::Sgd(Sgd { lr, momentum: args.momentum.unwrap_or(0.0), weight_decay }),
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

/// What a `train` command runs: a new run from the flags (on the recipe, and on a `--weights`
/// file's network), or the run a `--resume` checkpoint holds.
struct Plan {
    net: NetConfig,
    config: TrainConfig,
    epochs: usize,
    init: Init,
    /// The `--weights` file's bytes.
    weights: Option<Vec<u8>>,
    resumed: Option<Checkpoint>,
}

fn plan(args: &TrainArgs) -> Result<Plan> {
    if let Some(path) = &args.resume {
        let mut checkpoint = read_checkpoint(path)?;
        refuse_contradictions(args, &checkpoint, path)?;
        // Another rate is the way out of a diverged run; everything else is the run's own.
        if let Some(lr) = args.lr {
            checkpoint.config.optimizer = checkpoint.config.optimizer.with_lr(lr);
        }
        let (net, config, epochs) = (checkpoint.net.clone(), checkpoint.config, args.epochs.unwrap_or(checkpoint.epochs));
        return Ok(Plan { net, config, epochs, init: Init::Default, weights: None, resumed: Some(checkpoint) });
    }
    let weights = args.weights.as_deref().map(|path| Ok::<_, EngineError>((read_weights(path)?, path))).transpose()?;
    let arch = match (&args.net.net, &weights) {
        (Some(arch), _) => arch.clone(),
        (None, Some((bytes, path))) => SavedNet::read(bytes)
            .map_err(|e| e.in_file(&path.display().to_string()))?
            .arch
            .ok_or_else(|| EngineError::setting("--net", format!("{} does not name its network: pass --net", path.display())))?,
        (None, None) => {
            return Err(EngineError::setting("--net", "which network? Give --net alexnet, vgg11, nin, googlenet or a design file (FILE.net), or --resume a checkpoint"));
        }
    };
    let recipe = if args.d2l { Recipe::d2l(arch.clone()) } else { Recipe::quick(arch.clone()) };
    let net = match &weights {
        Some((bytes, path)) => file_config(&args.net, arch, bytes, path, recipe.net.clone())?,
        None => NetConfig { arch, ratio: args.net.ratio.unwrap_or(recipe.net.ratio), side: args.net.side.unwrap_or(recipe.net.side), second_hidden: !args.net.one_hidden },
    };
    let config = TrainConfig { batch: args.batch.unwrap_or(recipe.batch), optimizer: optimizer(args, &recipe), seed: args.seed.unwrap_or(0), augment: args.augment };
    let (epochs, init) = (args.epochs.unwrap_or(recipe.epochs), args.init.unwrap_or(recipe.init));
    Ok(Plan { net, config, epochs, init, weights: weights.map(|(bytes, _)| bytes), resumed: None })
}

/// A `--resume` run is the checkpoint's own: a flag that says otherwise is refused with what the
/// file holds (a flag that agrees with it is fine).
fn refuse_contradictions(args: &TrainArgs, checkpoint: &Checkpoint, path: &Path) -> Result<()> {
    let (net, config) = (&checkpoint.net, &checkpoint.config);
    let (sgd, adam) = match config.optimizer {
        Optimizer::Sgd(o) => (Some(o), None),
        Optimizer::Adam(o) => (None, Some(o)),
    };
    let weight_decay = sgd.map(|o| o.weight_decay).or(adam.map(|o| o.weight_decay));
    let optimizer = config.optimizer;
    let contradictions: [(&'static str, Option<String>, String); 12] = [
        ("--net", args.net.net.as_ref().filter(|a| **a != net.arch).map(|a| if matches!(a, Arch::Own(_)) { "(a design file)" } else { a.id() }.into()), match &net.arch {
            Arch::Own(_) => "holds a network of its own design".into(),
            preset => format!("holds {preset}"),
        }),
        ("--ratio", args.net.ratio.filter(|r| *r != net.ratio).map(|r| r.to_string()), format!("holds width ratio {}", net.ratio)),
        ("--side", args.net.side.filter(|s| *s != net.side).map(|s| s.to_string()), format!("trains at side {}", net.side)),
        ("--one-hidden", (args.net.one_hidden && net.second_hidden).then(String::new), "holds AlexNet's two hidden layers".into()),
        ("--batch", args.batch.filter(|b| *b != config.batch).map(|b| b.to_string()), format!("trains at batch {}", config.batch)),
        ("--opt", args.opt.filter(|o| (*o == Opt::Sgd) != sgd.is_some()).map(|o| if o == Opt::Sgd { "sgd" } else { "adam" }.into()), format!("trains with {optimizer}")),
        ("--momentum", args.momentum.filter(|m| sgd.is_none_or(|o| o.momentum != *m)).map(|m| m.to_string()), format!("trains with {optimizer}")),
        ("--weight-decay", args.weight_decay.filter(|w| weight_decay != Some(*w)).map(|w| w.to_string()), format!("trains with {optimizer}")),
        ("--seed", args.seed.filter(|s| *s != config.seed).map(|s| s.to_string()), format!("was seeded with {}", config.seed)),
        ("--augment", (args.augment && !config.augment).then(String::new), "trains without augmentation".into()),
        ("--init", args.init.map(|i| format!("{i:?}").to_lowercase()), "holds trained weights (--init only sets a new run's)".into()),
        ("--d2l", args.d2l.then(String::new), "follows its own recipe (--d2l only picks a new run's)".into()),
    ];
    match contradictions.into_iter().find(|(_, given, _)| given.is_some()) {
        Some((flag, Some(given), holds)) => Err(EngineError::setting(
            flag,
            format!(
                "{flag}{}{given} contradicts {}, which {holds}: leave {flag} out to go on with that run (or start a new one without --resume)",
                if given.is_empty() { "" } else { " " },
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

async fn train(args: &TrainArgs) -> Result<()> {
    let Plan { net, config, epochs, init, weights, resumed } = plan(args)?;
    let net = Net::new(net)?;
    let batch = config.batch;
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
    let trainer = match (&resumed, &weights, &args.weights) {
        (Some(c), _, _) => {
            let trainer = Trainer::resume(&device, c, train_set)?;
            eprintln!("resuming at step {} (epoch {}, batch {}) from {}", trainer.steps, trainer.epoch + 1, trainer.batch_in_epoch, path_text(&args.resume));
            trainer
        }
        (None, Some(bytes), Some(path)) => {
            let model = Model::new(&device, net, init, config.seed)?;
            model.load_weights(&device, bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
            eprintln!("starting from the weights in {}", path.display());
            Trainer::new(&device, model, train_set, config)?
        }
        _ => Trainer::new(&device, Model::new(&device, net, init, config.seed)?, train_set, config)?,
    };
    let micro = trainer.micro_batches();
    if micro.is_split() {
        eprintln!(
            "each step runs in {} (their gradients added up, then one update): the whole batch's tensors exceed {} per buffer",
            micro.describe(),
            cnnscope::engine::error::human(device.max_binding_bytes())
        );
    }
    let began = Instant::now();
    let mut run = Run::new(&device, trainer, test_set, epochs, Cadence::cli(args.stats), Box::new(move || began.elapsed().as_secs_f64()))?;
    let mut bar: Option<ProgressBar> = None;
    // Printed after the epoch's line.
    let mut layers = None;
    while !run.finished() {
        let shown = bar.get_or_insert_with(|| {
            let bar = progress_bar(run.trainer.batches_per_epoch());
            bar.set_prefix(format!("epoch {}", run.trainer.epoch + 1));
            bar.set_position(run.trainer.batch_in_epoch as u64);
            bar
        });
        let happened = run.step(&device, |_, _| {}).await.inspect_err(|e| resume_note(e, args))?;
        shown.inc(1);
        for event in happened {
            match event {
                Happened::Readback(r) => {
                    shown.set_message(format!("loss {:.4} · train acc {:.3} · {:.1} images/s", r.epoch.loss(), r.epoch.accuracy(), r.progress.images_per_sec))
                }
                Happened::Layers { layers: measured, .. } => layers = Some(measured),
                Happened::Epoch(end) => {
                    shown.finish_and_clear();
                    println!("{}", end.line());
                    if let Some(layers) = layers.take() {
                        print!("{}", cnnscope::train::layer_stats::table(&layers));
                    }
                    if let Some(why) = &end.dead {
                        eprintln!("note: {why}; another --seed or a smaller --ratio avoids it.");
                    }
                }
                Happened::KeepDue => {
                    if let Some(path) = &args.checkpoint {
                        let began = run.now();
                        // The last epoch's checkpoint is the run's result: failing to write it fails the run.
                        if run.finished() {
                            save_checkpoint(&device, &run, path).await?;
                        } else {
                            keep_checkpoint(&device, &run, path).await;
                        }
                        run.kept(began);
                    }
                }
                Happened::FirstStep { .. } | Happened::Timing { .. } | Happened::Finished => {}
            }
        }
        // A new epoch, a new bar.
        if run.trainer.batch_in_epoch == 0 {
            bar = None;
        }
    }
    if let Some(path) = &args.save {
        let bytes = run.trainer.model.save_weights(&device).await?;
        write_file(path, &bytes)?;
        eprintln!("saved weights to {}", path.display());
    }
    Ok(())
}

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
    write_whole(path, bytes).map_err(|e| cannot_write(path, e))
}

/// [`write_file`]'s way of writing, with the plain I/O error.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = partial_beside(path)?;
    file.write_all(bytes)?;
    commit(file, path)
}

fn cannot_write(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::Weights(format!("cannot write {} ({e})", path.display()))
}

/// The temporary file a save of `path` writes into ([`write_file`]); dropped unwritten, it is
/// removed.
fn partial_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new().prefix(".cnnscope-").suffix(".partial").tempfile_in(dir)
}

/// Makes the written temporary `file` the file at `path` ([`write_file`]).
fn commit(file: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // Flushing a directory is how POSIX makes a rename durable; elsewhere it is not needed.
    #[cfg(unix)]
    std::fs::File::open(path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")))?.sync_all()?;
    Ok(())
}

/// Saves a checkpoint during training; one that cannot be written is reported and training goes
/// on (the page does the same), so a full disk costs a save, not the run.
async fn keep_checkpoint(device: &Device, run: &Run, path: &Path) {
    if let Err(e) = save_checkpoint(device, run, path).await {
        eprintln!("warning: the checkpoint was not saved: {e}; training goes on");
    }
}

/// Streamed, as the page keeps a run: one tensor read back at a time, never the whole file in
/// memory (the fit check counts no copy of it), written as [`write_file`] writes.
async fn save_checkpoint(device: &Device, run: &Run, path: &Path) -> Result<()> {
    use std::io::Write;
    let stream = run.trainer.checkpoint_stream(device, run.epochs, "").await?;
    let mut file = partial_beside(path).map_err(|e| cannot_write(path, e))?;
    stream.write_to(device, async |piece| file.write_all(piece).map_err(|e| cannot_write(path, e)), |e| e).await?;
    commit(file, path).map_err(|e| cannot_write(path, e))
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
fn file_config(flags: &FileNetArgs, arch: Arch, bytes: &[u8], path: &Path, defaults: NetConfig) -> Result<NetConfig> {
    let saved = SavedNet::read(bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
    let file = saved.config(NetConfig { arch: arch.clone(), ..defaults });
    Ok(NetConfig {
        arch,
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
    let net = Net::new(file_config(flags, arch.clone(), &bytes, path, NetConfig::new(arch, 1))?)?;
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
