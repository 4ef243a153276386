"""Continues a cnnscope run in PyTorch: `python -m cnnscope_torch train --resume run.ckpt --epochs N
--save-checkpoint out.ckpt`, alone or under `torchrun --nproc_per_node K` (DistributedDataParallel,
one DistributedSampler shard per process, the global batch kept).

What carries over from the checkpoint: the network (net, width ratio, side, AlexNet's second
hidden layer, an own design), the parameters, the optimiser (kind, every hyperparameter, Adam's
moments and update count or SGD's momentum buffer), the batch, the seed, augmentation, the step
and epoch counters, the epoch's running sums (a run stopped mid-epoch finishes that epoch) and
the page's notes (curves and epoch lines, appended to).

What is PyTorch's own (docs/PYTORCH.md, "What is exact"):
- the batch order: epoch e (0-based) is DistributedSampler's permutation for seed `seed`, epoch e,
  which is the same set of global batches for any number of processes; it is not cnnscope's
  ChaCha8 shuffle. A run stopped mid-epoch skips as many batches of that permutation as it had done;
- dropout masks: PyTorch's generator, seeded from the run's seed, the step and the rank;
- the written checkpoint's `order_position` is the one the run came with: cnnscope, resuming it,
  draws its next epoch's order from there (a valid, seeded order; not the one an uninterrupted
  cnnscope run would have drawn — that one depends on cnnscope's generator, which PyTorch does not
  advance).
Augmentation draws are cnnscope's own hash of (seed, step, place in the batch) (augment.py).

What is kept: an epoch is saved only when the training loss (read every 20 batches and at the end)
and every parameter and optimiser buffer are finite; a run that diverges stops with a one-line
error (exit 1) and leaves --save-checkpoint as the last finite epoch wrote it. --save-checkpoint
may not be the --resume file itself (the same file by any path) unless --overwrite says so.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from . import augment, fashion_mnist
from . import checkpoint as ck


class RunError(Exception):
    """A setting this run cannot use, or a run that diverged, with the reason."""


def same_file(a, b):
    """Whether the paths `a` and `b` name one file (through links, `..`, or two hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def not_finite(named):
    """The first name of `named` (name -> tensor) whose tensor holds a NaN or an infinity, or None."""
    for name, t in named:
        if not bool(torch.isfinite(t).all()):
            return name
    return None


def _device(choice, local_rank):
    if choice in (None, "auto"):
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise RunError("--device cuda: this PyTorch sees no CUDA GPU (use --device cpu)")
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if choice == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise RunError("--device mps: this PyTorch has no Metal (MPS) device (use --device cpu)")
        return torch.device("mps")
    if choice == "cpu":
        return torch.device("cpu")
    raise RunError(f"--device {choice}: choose cuda, cpu or mps")


class Dist:
    """The process group under torchrun (WORLD_SIZE > 1), or one process."""

    def __init__(self, device_choice):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = _device(device_choice, self.local_rank)
        if self.world > 1:
            if self.device.type == "mps":
                raise RunError("--device mps trains in one process: PyTorch's process groups do not run on MPS")
            import torch.distributed as dist
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self.dist = dist
        else:
            self.dist = None

    def sum(self, values):
        """`values` (floats) summed over the processes, as f64 on the CPU."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        if self.dist:
            self.dist.all_reduce(t)
        return t.cpu().tolist()

    def close(self):
        if self.dist:
            self.dist.barrier()
            self.dist.destroy_process_group()


def make_optimizer(ckpt, params, lr):
    """torch.optim's Adam or SGD with the checkpoint's hyperparameters (as the f32 values cnnscope
    computes with), its moments and update count loaded."""
    o = ckpt.optimizer
    if ckpt.adam:
        opt = torch.optim.Adam(params, lr=lr, betas=(ck.f32(o["beta1"]), ck.f32(o["beta2"])), eps=ck.f32(o["eps"]),
                               weight_decay=ck.f32(o["weight_decay"]))
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=ck.f32(o["momentum"]), weight_decay=ck.f32(o["weight_decay"]))
    return opt


def load_optimizer_state(opt, ckpt, named, device):
    steps = ckpt.state["optimizer_steps"]
    for name, p in named:
        if ckpt.adam:
            if steps > 0:
                opt.state[p] = {"step": torch.tensor(float(steps)), "exp_avg": ckpt.first[name].to(device).clone(),
                                "exp_avg_sq": ckpt.second[name].to(device).clone()}
        elif ckpt.optimizer["momentum"] != 0 and steps > 0:
            opt.state[p] = {"momentum_buffer": ckpt.first[name].to(device).clone()}


def optimizer_buffers(opt, ckpt, named):
    """(first, second) buffers after training, by name; SGD without momentum keeps its (unused)
    first buffers as they were, as cnnscope does."""
    first, second = {}, {}
    for name, p in named:
        st = opt.state.get(p, {})
        if ckpt.adam:
            first[name] = st["exp_avg"] if "exp_avg" in st else ckpt.first[name]
            second[name] = st["exp_avg_sq"] if "exp_avg_sq" in st else ckpt.second[name]
        else:
            buf = st.get("momentum_buffer")
            first[name] = buf if buf is not None else ckpt.first[name]
    return first, second


def new_notes(ckpt):
    return {"name": "", "branched_from": None, "loss": [], "train_acc": [], "test_acc": [], "epoch_lines": [], "seen": [0.0, 0.0, 0.0]}


def read_notes(text, ckpt):
    """The app's notes (app/src/protocol.rs `Notes`) to append to: the checkpoint's, or new ones
    (a CLI checkpoint has none) so the page shows the epochs PyTorch trained. Notes that are not
    the app's JSON object are left as they are (None)."""
    if not text.strip():
        return new_notes(ckpt)
    try:
        notes = json.loads(text)
    except json.JSONDecodeError:
        return None
    need = ("loss", "train_acc", "test_acc", "epoch_lines")
    if not isinstance(notes, dict) or not all(isinstance(notes.get(k), list) for k in need):
        return None
    return notes


def evaluate(model, x, y, side, dist, device, batch=256):
    """Test loss sum, correct and count over this process's share of the test images, summed over
    the processes (eval mode: no dropout)."""
    model.eval()
    loss, correct = 0.0, 0
    idx = range(dist.rank, len(y), dist.world)
    idx = torch.tensor(list(idx), dtype=torch.long)
    with torch.no_grad():
        for i in range(0, len(idx), batch):
            part = idx[i:i + batch]
            logits = model(fashion_mnist.batch(x[part], side).to(device))
            target = y[part].to(device)
            loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(1) == target).sum().item()
    model.train()
    return dist.sum([loss, correct, len(idx)])


def epoch_line(epoch, train, test, secs, train_secs):
    """d2l's per-epoch line, as cnnscope prints it (src/train/mod.rs `epoch_line`)."""
    loss = train[0] / max(train[2], 1.0)
    acc = train[1] / max(train[2], 1.0)
    test_acc = test[1] / max(test[2], 1.0)
    return (f"epoch {epoch}, loss {loss:.4f}, train acc {acc:.3f}, test acc {test_acc:.3f}, time {secs:.1f} sec, "
            f"{train[2] / max(train_secs, 1e-9):.1f} images/s")


def train(args):
    """The `train` command; returns the exit status."""
    dist = Dist(args.device)
    try:
        return _train(args, dist)
    finally:
        dist.close()


def _log(dist, text):
    if dist.rank == 0:
        print(text, file=sys.stderr, flush=True)


def _train(args, dist):
    ckpt = ck.read(args.resume)
    state = ckpt.state
    batch = args.batch if args.batch is not None else state["batch"]
    if batch < 1:
        raise RunError(f"--batch {batch}: a batch needs at least 1 image")
    if batch != state["batch"] and state["batch_in_epoch"] > 0:
        raise RunError(f"--batch {batch}: the run stopped mid-epoch (batch {state['batch_in_epoch']} of batch size {state['batch']}); "
                       "it finishes that epoch with its own batch: leave --batch out")
    if batch % dist.world:
        raise RunError(f"the global batch {batch} does not split evenly over {dist.world} processes: "
                       f"give --batch a multiple of {dist.world}, or another --nproc_per_node")
    per = batch // dist.world
    epochs = args.epochs if args.epochs is not None else state["epochs"]
    if epochs <= state["epoch"]:
        raise RunError(f"--epochs {epochs}: the run has done {state['epoch']} epochs already; "
                       f"--epochs is the total, as in `cnnscope train --resume`: give {state['epoch'] + 1} or more")
    lr = ck.f32(args.lr if args.lr is not None else ckpt.optimizer["lr"])
    if not (math.isfinite(lr) and lr > 0):
        raise RunError(f"--lr {args.lr}: the learning rate must be a finite positive number")
    if args.save_checkpoint:
        where = os.path.dirname(os.path.abspath(args.save_checkpoint))
        if not os.path.isdir(where) or not os.access(where, os.W_OK):
            raise RunError(f"--save-checkpoint {args.save_checkpoint}: {where} is not a directory this process can write to")
        if os.path.isdir(args.save_checkpoint):
            raise RunError(f"--save-checkpoint {args.save_checkpoint} is a directory: give a file name")
        if same_file(args.save_checkpoint, args.resume) and not getattr(args, "overwrite", False):
            raise RunError(f"--save-checkpoint {args.save_checkpoint} is the checkpoint this run resumes: save to another file "
                           "(the run you resume stays as it was), or add --overwrite to replace it after each finite epoch")
    if args.limit is not None and args.limit < 1:
        raise RunError(f"--limit {args.limit} leaves nothing to train on: give 1 or more")

    train_x, train_y = fashion_mnist.load("train", args.data)
    test_x, test_y = fashion_mnist.load("test", args.data)
    if args.limit is not None:
        train_x, train_y, test_x, test_y = train_x[:args.limit], train_y[:args.limit], test_x[:args.limit], test_y[:args.limit]
    n = len(train_y)
    if n != state["train_images"]:
        raise RunError(f"the run was training on {state['train_images']} images, this data has {n}: "
                       f"resume with --limit {state['train_images']}" if state["train_images"] < 60000 else
                       f"the run was training on {state['train_images']} images, this data has {n}: leave --limit out")
    batches = n // batch
    if batches == 0:
        raise RunError(f"{n} training images make no full batch of {batch}: lower --batch")

    device = dist.device
    model = ckpt.build_model().to(device)
    named = list(model.named_parameters())
    opt = make_optimizer(ckpt, [p for _, p in named], lr)
    load_optimizer_state(opt, ckpt, named, device)
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    from torch.utils.data import DistributedSampler

    steps, epoch, done = state["steps"], state["epoch"], state["batch_in_epoch"]
    opt_steps = state["optimizer_steps"]
    seed = state["seed"]
    side = ckpt.side
    notes = read_notes(state.get("notes", ""), ckpt)
    params_count = sum(p.numel() for _, p in named)
    _log(dist, f"{ckpt.title()} · {params_count:,} parameters · batch {batch} ({dist.world} × {per}) · "
               f"{'Adam' if ckpt.adam else 'SGD'} lr {lr} · {n} training / {len(test_y)} test images · PyTorch {torch.__version__} "
               f"on {device}{' (gloo)' if dist.world > 1 and device.type != 'cuda' else ' (NCCL)' if dist.world > 1 else ''}")
    _log(dist, f"resuming at step {steps} (epoch {epoch + 1}, batch {done}) from {args.resume}")
    sums = ckpt.sums if done > 0 else [0.0, 0.0, 0.0]
    # The sums at the last point of the curves: the app keeps them as notes.seen; a CLI checkpoint
    # has no curves, so they start from the sums it brings.
    seen = list(sums)
    if notes is not None and done > 0 and isinstance(notes.get("seen"), list) and len(notes["seen"]) == 3 and notes["loss"]:
        seen = [float(v) for v in notes["seen"]]
    torch.manual_seed((seed * 1_000_003 + steps * 7919 + dist.rank) % (2**63))
    model.train()
    out = None
    saved = None

    def diverged(what):
        """The run's end when it diverged: nothing of this epoch is kept (src/engine/error.rs `Diverged`)."""
        kept = "" if not args.save_checkpoint else \
            f"; {args.save_checkpoint} holds the run at step {saved[0]} (epoch {saved[1]})" if saved else \
            f"; {args.save_checkpoint} is left as it was"
        return RunError(f"training diverged at step {steps}: {what} (learning rate {lr}); nothing of epoch {ep} is kept{kept}. "
                        f"Lower the learning rate (try --lr {ck.f32(lr / 10)}) and resume again")
    for ep in range(epoch + 1, epochs + 1):
        sampler = DistributedSampler(range(n), num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=seed, drop_last=True)
        sampler.set_epoch(ep - 1)
        order = torch.tensor(list(iter(sampler)), dtype=torch.long)
        start = time.time()
        # The epoch's sums in f64 where they are made (MPS has no f64: there, on the CPU).
        sums_device = torch.device("cpu") if device.type == "mps" else device
        local = torch.zeros(3, dtype=torch.float64, device=sums_device)
        base = list(sums)
        for j in range(done, batches):
            idx = order[j * per:(j + 1) * per]
            x = fashion_mnist.batch(train_x[idx], side).to(device)
            y = train_y[idx].to(device)
            if state.get("augment"):
                # Image l of this process is image dist.world * l + rank of the global batch.
                places = [dist.world * l + dist.rank for l in range(per)]
                x = augment.apply(x, augment.salt(seed, steps), places)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            steps += 1
            opt_steps += 1
            local += torch.stack([loss.detach().to(sums_device).double() * per, (logits.argmax(1) == y).sum().to(sums_device).double(),
                                  torch.tensor(float(per), dtype=torch.float64, device=sums_device)])
            last = j + 1 == batches
            if (j + 1) % 20 == 0 or last:
                total = dist.sum(local.cpu().tolist())
                if not math.isfinite(total[0]):
                    raise diverged(f"the loss is {total[0] / max(total[2], 1.0)}")
                now = [base[i] + total[i] for i in range(3)]
                if notes is not None and now[2] > seen[2]:
                    k = now[2] - seen[2]
                    notes["loss"].append([float(steps), (now[0] - seen[0]) / k])
                    notes["train_acc"].append([steps / batches, (now[1] - seen[1]) / k])
                seen = now
                if args.progress and dist.rank == 0 and not last:
                    print(f"epoch {ep}: batch {j + 1}/{batches}, loss {now[0] / now[2]:.4f}", file=sys.stderr, flush=True)
        train_secs = time.time() - start
        train_sums = seen
        test = evaluate(model, test_x, test_y, side, dist, device)
        line = epoch_line(ep, train_sums, test, time.time() - start, train_secs)
        if dist.rank == 0:
            print(line, flush=True)
        epoch, done = ep, 0
        sums, seen = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        if notes is not None:
            notes["test_acc"].append([float(ep), test[1] / max(test[2], 1.0)])
            notes["epoch_lines"].append(line)
            notes["seen"] = [0.0, 0.0, 0.0]
        first, second = optimizer_buffers(opt, ckpt, named)
        # Every rank decides alike (their tensors are the same under DDP; one sum makes it sure).
        bad = not_finite([*model.state_dict().items(), *(("optimizer.first." + k, v) for k, v in first.items()),
                          *(("optimizer.second." + k, v) for k, v in second.items())])
        if dist.sum([0.0 if bad is None else 1.0])[0] > 0:
            raise diverged(f"{bad or 'a tensor of another process'} is not finite")
        new_state = dict(state, batch=batch, optimizer=dict(ckpt.optimizer, lr=lr), epochs=epochs, steps=steps, epoch=epoch,
                         batch_in_epoch=0, optimizer_steps=opt_steps, sums=[0, 0, 0],
                         notes=json.dumps(notes, separators=(",", ":")) if notes is not None else state.get("notes", ""))
        out = ck.Checkpoint(ckpt.net, ckpt.ratio, ckpt.side, ckpt.second_hidden, ckpt.design, new_state,
                            model.state_dict(), first, second)
        if args.save_checkpoint and dist.rank == 0:
            # After every epoch, as cnnscope does: a run cut short keeps its last whole epoch.
            ck.write(args.save_checkpoint, out)
        saved = (steps, epoch)
    if args.save_checkpoint:
        _log(dist, f"saved the run (step {steps}, epoch {epoch}) to {args.save_checkpoint}")
    return 0
