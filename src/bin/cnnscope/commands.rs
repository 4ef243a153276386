//! What each subcommand does.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::Instant;

use cnnscope::data::{FashionMnist, Split};
use cnnscope::model::weights::SavedNet;
use cnnscope::model::{Init, Model};
use cnnscope::net::{Arch, Net, NetConfig, Summary};
use cnnscope::ops::{Adam, Sgd};
use cnnscope::train::{Evaluator, Optimizer, Recipe, TrainConfig, Trainer};
use cnnscope::fit::Run;
use cnnscope::{EngineError, Gpu};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{BenchArgs, Cli, Command, EvalArgs, NetArgs, Opt, TrainArgs};

type Result<T> = std::result::Result<T, EngineError>;

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary(args) => summary(&args),
        Command::Train(args) => train(&args).await,
        Command::Eval(args) => eval(&args).await,
        Command::Bench(args) => bench(&args).await,
    }
}

/// The network the flags describe, on top of `recipe`'s configuration.
fn net_config(args: &NetArgs, recipe: &Recipe) -> NetConfig {
    NetConfig {
        arch: args.net,
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

fn summary(args: &NetArgs) -> Result<()> {
    let net = Net::new(net_config(args, &Recipe::quick(args.net)))?;
    println!("{}", Summary::new(&net)?);
    Ok(())
}

async fn open_gpu() -> Result<Gpu> {
    let gpu = Gpu::new().await?;
    eprintln!("device: {}", gpu.describe());
    Ok(gpu)
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
    let recipe = if args.d2l { Recipe::d2l(args.net.net) } else { Recipe::quick(args.net.net) };
    let start_weights = args.weights.as_deref().map(read_weights).transpose()?;
    let config = match &start_weights {
        Some(bytes) => file_config(&args.net, bytes, args.weights.as_deref().unwrap_or(Path::new("")), recipe.net)?,
        None => net_config(&args.net, &recipe),
    };
    let net = Net::new(config)?;
    let batch = args.batch.unwrap_or(recipe.batch);
    let epochs = args.epochs.unwrap_or(recipe.epochs);
    let init = args.init.unwrap_or(recipe.init);
    let config = TrainConfig { batch, optimizer: optimizer(args, &recipe), seed: args.seed };
    config.check()?;
    check_counts(epochs, args.limit, args.save.is_some())?;

    let gpu = open_gpu().await?;
    gpu.check_fits(&net, Run::Training { batch, moments: config.optimizer.moments() })?;
    let data = load_data(&args.data.dir, args.limit)?;
    let summary = Summary::new(&net)?;
    eprintln!(
        "{} · {} parameters · {:.1} MFLOPs per image · batch {batch} · {} · {init:?} init · {} training / {} test images",
        summary.title,
        cnnscope::net::summary::grouped(summary.params as u64),
        summary.flops as f64 / 1e6,
        config.optimizer,
        data.train.len() / batch * batch,
        data.test.len()
    );
    let model = Model::new(&gpu, net, init, args.seed)?;
    if let (Some(bytes), Some(path)) = (&start_weights, &args.weights) {
        model.load_weights(&gpu, bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
        eprintln!("starting from the weights in {}", path.display());
    }
    let (train_set, test_set) = (data.train.upload(&gpu)?, data.test.upload(&gpu)?);
    let mut evaluator = Evaluator::new(&gpu, &model, &test_set, batch.max(256))?;
    let mut trainer = Trainer::new(&gpu, model, train_set, config)?;
    let batches = trainer.batches_per_epoch();

    for epoch in 1..=epochs {
        let bar = progress_bar(batches);
        bar.set_prefix(format!("epoch {epoch}"));
        let start = Instant::now();
        trainer.reset_stats(&gpu)?;
        loop {
            let done = trainer.step(&gpu)?;
            bar.inc(1);
            // Reading the running sums waits for the GPU: only every 20 steps.
            if done || trainer.batch_in_epoch % 20 == 0 {
                let stats = trainer.stats(&gpu).await?;
                let rate = stats.examples / start.elapsed().as_secs_f64();
                bar.set_message(format!("loss {:.4} · train acc {:.3} · {rate:.1} images/s", stats.loss(), stats.accuracy()));
            }
            if done {
                break;
            }
        }
        let train_stats = trainer.stats(&gpu).await?;
        let train_secs = start.elapsed().as_secs_f64();
        let test = evaluator.run(&gpu, &trainer.model, &test_set).await?;
        bar.finish_and_clear();
        println!(
            "epoch {epoch}, loss {:.4}, train acc {:.3}, test acc {:.3}, time {:.1} sec, {:.1} images/s",
            train_stats.loss(),
            train_stats.accuracy(),
            test.accuracy(),
            start.elapsed().as_secs_f64(),
            train_stats.examples / train_secs
        );
        if let Some(why) = evaluator.dead_start(&gpu, &trainer.model, &test_set, &train_stats).await? {
            eprintln!("note: {why}; another --seed or a smaller --ratio avoids it.");
        }
    }
    if let Some(path) = &args.save {
        let bytes = trainer.model.save_weights(&gpu).await?;
        std::fs::write(path, bytes).map_err(|e| EngineError::Weights(format!("cannot write {} ({e})", path.display())))?;
        eprintln!("saved weights to {}", path.display());
    }
    Ok(())
}

fn read_weights(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| EngineError::Weights(format!("cannot read {} ({e})", path.display())))
}

/// The network a weights file was saved for: its metadata (written by `--save`), overridden by
/// the flags, else `defaults`.
fn file_config(flags: &NetArgs, bytes: &[u8], path: &Path, defaults: NetConfig) -> Result<NetConfig> {
    let saved = SavedNet::read(bytes).map_err(|e| e.in_file(&path.display().to_string()))?;
    let file = saved.config(NetConfig { arch: flags.net, ..defaults });
    Ok(NetConfig {
        arch: flags.net,
        ratio: flags.ratio.unwrap_or(file.ratio),
        side: flags.side.unwrap_or(file.side),
        second_hidden: !flags.one_hidden && file.second_hidden,
    })
}

/// `eval`'s network: the one the file names unless `--net` is given.
fn eval_config(args: &EvalArgs, bytes: &[u8]) -> Result<NetConfig> {
    let saved = SavedNet::read(bytes).map_err(|e| e.in_file(&args.weights.display().to_string()))?;
    let Some(arch) = args.net.or(saved.arch) else {
        return Err(EngineError::Weights(format!("{} does not name its network: pass --net", args.weights.display())));
    };
    let flags = NetArgs { net: arch, ratio: args.ratio, side: args.side, one_hidden: args.one_hidden };
    file_config(&flags, bytes, &args.weights, NetConfig::new(arch, 1))
}

async fn eval(args: &EvalArgs) -> Result<()> {
    let bytes = read_weights(&args.weights)?;
    let net = Net::new(eval_config(args, &bytes)?)?;
    let data = load_data(&args.data.dir, None)?;
    let gpu = open_gpu().await?;
    let model = Model::new(&gpu, net, Init::Default, 0)?;
    model.load_weights(&gpu, &bytes).map_err(|e| e.in_file(&args.weights.display().to_string()))?;
    let test_set = data.test.upload(&gpu)?;
    let start = Instant::now();
    let stats = Evaluator::new(&gpu, &model, &test_set, args.batch)?.run(&gpu, &model, &test_set).await?;
    println!(
        "{}: test loss {:.4}, test acc {:.4} on {} images, {:.1} sec",
        Summary::new(&model.net)?.title,
        stats.loss(),
        stats.accuracy(),
        stats.examples,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn bench(args: &BenchArgs) -> Result<()> {
    let nets = if args.net.is_empty() { Arch::ALL.to_vec() } else { args.net.clone() };
    if args.steps == 0 {
        return Err(EngineError::setting("--steps", "0 timed steps measure nothing: give 1 or more"));
    }
    let data = FashionMnist::load(&args.data.dir)?;
    let gpu = open_gpu().await?;
    let train: Split = data.train.truncated(args.batch.saturating_mul(args.steps.saturating_add(1)));
    let train_set = train.upload(&gpu)?;
    println!("| net | ratio | side | batch | images/s | GFLOP/s (training ≈ 3× forward) |");
    println!("|---|---|---|---|---|---|");
    for arch in nets {
        let net = Net::new(NetConfig::new(arch, args.ratio).with_side(args.side.unwrap_or(arch.native_side())))?;
        let flops = Summary::new(&net)?.flops as f64;
        let config = TrainConfig { batch: args.batch, optimizer: Optimizer::Adam(Adam::default()), seed: 0 };
        let model = Model::new(&gpu, net.clone(), Init::Default, 0)?;
        let mut trainer = Trainer::new(&gpu, model, train_set.clone(), config)?;
        // One warm-up step compiles the pipelines.
        trainer.step(&gpu)?;
        trainer.stats(&gpu).await?;
        let start = Instant::now();
        for _ in 0..args.steps {
            trainer.step(&gpu)?;
        }
        trainer.stats(&gpu).await?;
        let rate = (args.steps * args.batch) as f64 / start.elapsed().as_secs_f64();
        println!(
            "| {arch} | {} | {} | {} | {rate:.1} | {:.1} |",
            args.ratio,
            net.config.side,
            args.batch,
            rate * 3.0 * flops / 1e9
        );
        if args.profile {
            print_profile(trainer.profile_step(&gpu)?);
        }
    }
    Ok(())
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
