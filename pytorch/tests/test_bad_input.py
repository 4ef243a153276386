"""Bad input gets a one-line error and exit status 1, never a traceback; and the checkpoint reader
reads what cnnscope writes and writes what it reads (tensors, metadata and state unchanged)."""
import json
import os
import struct
import unittest

import torch

from common import DATA, PY, cnnscope, run, state, tmpdir


def refused(test, args, words, process=False):
    """`python -m cnnscope_torch ARGS` exits 1 with one line on stderr holding `words`, no traceback:
    in a process of its own with `process`, else through the same `main` in this one (quicker:
    torch is imported once)."""
    if process:
        code, stdout, stderr = run([PY, "-m", "cnnscope_torch", *args], ok=False)
    else:
        import contextlib
        import io
        from cnnscope_torch import cli
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*args, "--data", DATA] if args[0] == "train" and "--data" not in args else args)
        stdout, stderr = out.getvalue(), err.getvalue()
    test.assertEqual(code, 1, f"{args}: {stdout}{stderr}")
    test.assertNotIn("Traceback", stderr)
    lines = [l for l in stderr.splitlines() if l.strip()]
    test.assertEqual(len(lines), 1, f"one line: {stderr}")
    test.assertTrue(lines[0].startswith("cnnscope_torch: error: "), stderr)
    test.assertIn(words, lines[0])


def safetensors_file(path, metadata, tensors=None):
    from safetensors.torch import save_file
    save_file(tensors or {"w": torch.zeros(2)}, path, metadata=metadata)


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tmpdir(cls) if False else __import__("tempfile").mkdtemp(prefix="cnnscope-torch-bad-")
        cls.ckpt = os.path.join(cls.dir, "run.ckpt")
        cnnscope("train", "--net", "nin", "--ratio", "16", "--side", "67", "--limit", "64", "--epochs", "1", "--checkpoint", cls.ckpt)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def edited(self, name, change):
        from safetensors import safe_open
        from safetensors.torch import load_file
        with safe_open(self.ckpt, "pt") as f:
            meta = dict(f.metadata())
        tensors = load_file(self.ckpt)
        state = json.loads(meta["cnnscope.checkpoint"])
        change(meta, state, tensors)
        meta["cnnscope.checkpoint"] = json.dumps(state)
        safetensors_file(self.path(name), meta, tensors)
        return self.path(name)

    def train(self, path, *more):
        return ["train", "--resume", path, "--epochs", "3", "--limit", "64", "--device", "cpu", *more]

    def test_files_that_are_not_checkpoints(self):
        refused(self, self.train(self.path("nothing.ckpt")), "no such file", process=True)
        refused(self, self.train(self.dir), "directory")
        with open(self.path("text.ckpt"), "w") as f:
            f.write("hello, this is not a checkpoint at all")
        refused(self, self.train(self.path("text.ckpt")), "not a safetensors file")
        with open(self.path("short.ckpt"), "wb") as f:
            f.write(b"abc")
        refused(self, self.train(self.path("short.ckpt")), "shorter than 8 bytes")
        with open(self.path("garbage.ckpt"), "wb") as f:
            f.write(struct.pack("<Q", 12) + b"{not json!!}")
        refused(self, self.train(self.path("garbage.ckpt")), "not JSON")
        safetensors_file(self.path("weights.safetensors"), {"net": "nin", "ratio": "16", "side": "67"})
        refused(self, self.train(self.path("weights.safetensors")), "not a checkpoint")
        with open(self.ckpt, "rb") as f:
            whole = f.read()
        with open(self.path("cut.ckpt"), "wb") as f:
            f.write(whole[:len(whole) // 2])
        refused(self, self.train(self.path("cut.ckpt")), "")
        refused(self, ["export", self.path("text.ckpt"), self.path("x.onnx")], "not a safetensors file")

    def test_checkpoints_this_package_cannot_continue(self):
        refused(self, self.train(self.edited("net.ckpt", lambda m, s, t: m.update(net="resnet"))), "unknown network 'resnet'", process=True)
        refused(self, self.train(self.edited("format.ckpt", lambda m, s, t: s.update(format=2))), "format 2")
        refused(self, self.train(self.edited("opt.ckpt", lambda m, s, t: s["optimizer"].update(kind="rmsprop"))), "neither adam nor sgd")
        refused(self, self.train(self.edited("pos.ckpt", lambda m, s, t: s.update(order_position="x"))), "batch-order position")
        refused(self, self.train(self.edited("missing.ckpt", lambda m, s, t: t.pop("0.0.weight"))), "missing 0.0.weight")
        refused(self, self.train(self.edited("moment.ckpt", lambda m, s, t: t.pop("optimizer.second.0.0.weight"))), "optimizer.second.0.0.weight")
        refused(self, self.train(self.edited("ratio.ckpt", lambda m, s, t: m.update(ratio="8"))), "shape")
        refused(self, self.train(self.edited("own.ckpt", lambda m, s, t: m.update(net="own"))), "gives no design")

    def test_settings_this_run_cannot_use(self):
        refused(self, ["train", "--resume", self.ckpt, "--epochs", "3", "--device", "cpu"], "resume with --limit 64")
        refused(self, self.train(self.ckpt)[:4] + ["1", "--limit", "64", "--device", "cpu"], "has done 1 epochs already")
        refused(self, self.train(self.ckpt, "--lr", "-1"), "finite positive")
        refused(self, self.train(self.ckpt, "--data", self.dir), "is missing")
        refused(self, self.train(self.ckpt, "--save-checkpoint", os.path.join(self.dir, "no", "out.ckpt")), "is not a directory this process can write to")
        refused(self, self.train(self.ckpt, "--device", "cuda") if not __import__("torch").cuda.is_available() else self.train(self.ckpt, "--batch", "0"), "")

    def test_a_run_that_diverges_keeps_nothing(self):
        """Issue 33: --save-checkpoint equal to --resume is refused (by any path to the file) unless
        --overwrite; a run whose loss or tensors stop being finite stops with one line, exit 1,
        and leaves every file as it was."""
        import shutil
        from cnnscope_torch import run as torch_run
        mine = self.path("mine.ckpt")
        shutil.copy(self.ckpt, mine)
        with open(mine, "rb") as f:
            before = f.read()
        link = self.path("link.ckpt")
        os.symlink(mine, link)
        for same in (mine, os.path.join(self.dir, "no", "..", "mine.ckpt"), link):
            refused(self, self.train(mine, "--save-checkpoint", same), "is the checkpoint this run resumes")
        # One step from diverging: a first layer of weights 1e38 overflows the forward pass.
        hot = self.edited("hot.ckpt", lambda m, s, t: t["0.0.weight"].fill_(1e38))
        with open(hot, "rb") as f:
            hot_before = f.read()
        for args, words in ((self.train(hot, "--save-checkpoint", hot, "--overwrite"), f"{hot} is left as it was"),
                            (self.train(hot, "--save-checkpoint", self.path("hot-out.ckpt")), "is left as it was")):
            # The run starts (its two lines of what it trains), then stops in one line, exit 1.
            code, _, stderr = run([PY, "-m", "cnnscope_torch", *args, "--data", DATA], ok=False)
            self.assertEqual(code, 1, stderr)
            self.assertNotIn("Traceback", stderr)
            errors = [l for l in stderr.splitlines() if l.startswith("cnnscope_torch: error: ")]
            self.assertEqual(len(errors), 1, stderr)
            self.assertEqual(errors[0], stderr.strip().splitlines()[-1])
            self.assertRegex(errors[0], r"training diverged at step \d+: the loss is nan")
            self.assertIn(words, errors[0])
        self.assertFalse(os.path.exists(self.path("hot-out.ckpt")), "a diverged run writes nothing")
        with open(hot, "rb") as f:
            self.assertEqual(f.read(), hot_before, "the checkpoint it resumed is unchanged")
        with open(mine, "rb") as f:
            self.assertEqual(f.read(), before)
        # A tensor gone to NaN with the loss still finite is caught before the save too.
        self.assertEqual(torch_run.not_finite([("a", torch.ones(2)), ("b", torch.tensor([0.0, float("nan")]))]), "b")
        self.assertIsNone(torch_run.not_finite([("a", torch.ones(2))]))
        # With --overwrite, a finite run replaces the file it resumed.
        import contextlib
        import io
        from cnnscope_torch import cli
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(cli.main(self.train(mine, "--save-checkpoint", mine, "--overwrite", "--data", DATA)), 0)
        self.assertEqual(state(mine)["epoch"], 3)

    def test_digits_are_ascii_digits(self):
        """Issue 33: "²" and "١٦" pass str.isdigit (and int("١٦") is 16); cnnscope reads ASCII digits only."""
        refused(self, self.train(self.edited("sup.ckpt", lambda m, s, t: m.update(ratio="²"))), "ratio = '²', which is not a positive whole number")
        refused(self, self.train(self.edited("indic.ckpt", lambda m, s, t: m.update(side="٦٧"))), "side = '٦٧', which is not a positive whole number")
        refused(self, self.train(self.edited("order.ckpt", lambda m, s, t: s.update(order_position="١٢"))), "batch-order position '١٢' is not a number")
        from cnnscope_torch import cli
        import contextlib
        import io
        for flag, value in (("--limit", "٦٤"), ("--epochs", "³"), ("--lr", "٠.١")):
            with self.assertRaises(SystemExit) as exit, contextlib.redirect_stderr(io.StringIO()) as err:
                cli.parser().parse_args(self.train(self.ckpt, flag, value))
            self.assertEqual(exit.exception.code, 2)
            self.assertIn(f"argument {flag}", err.getvalue())

    def test_an_sgd_checkpoint_with_adams_moments(self):
        """Issue 33: an SGD run holds one buffer per parameter; cnnscope refuses Adam's second
        moments beside it, and so does this package."""
        sgd = {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0}
        both = self.edited("sgd-adam.ckpt", lambda m, s, t: s.update(optimizer=sgd))
        refused(self, self.train(both), "it is an SGD run but holds Adam's second moments (optimizer.second.")
        code, _, stderr = cnnscope("train", "--net", "nin", "--resume", both, "--limit", "64", "--epochs", "3", ok=False)
        self.assertNotEqual(code, 0, "cnnscope refuses it")
        self.assertIn("optimizer.second.", stderr)
        from cnnscope_torch import checkpoint
        only_first = self.edited("sgd.ckpt", lambda m, s, t: (s.update(optimizer=sgd), [t.pop(k) for k in list(t) if k.startswith("optimizer.second.")]))
        self.assertFalse(checkpoint.read(only_first).adam)

    def test_weights_of_another_dtype(self):
        """Issue 33: export and predict refuse a weights file's tensor that is not F32, naming it
        and its dtype as cnnscope's weights reader does ("0.0.weight is F16, expected F32")."""
        from safetensors.torch import load_file
        params = {k: v for k, v in load_file(self.ckpt).items() if not k.startswith("optimizer.")}
        meta = {"net": "nin", "ratio": "16", "side": "67"}
        good = self.path("good.safetensors")
        safetensors_file(good, meta, params)
        from cnnscope_torch.export import model_of
        self.assertEqual(model_of(good)[1], 67)
        for dtype, name in ((torch.float16, "F16"), (torch.float64, "F64"), (torch.bfloat16, "BF16"), (torch.int32, "I32")):
            bad = self.path(f"{name}.safetensors")
            safetensors_file(bad, meta, dict(params, **{"0.0.weight": params["0.0.weight"].to(dtype)}))
            onnx = self.path(f"{name}.onnx")
            refused(self, ["export", bad, onnx], f"{bad}: 0.0.weight is {name}, expected F32")
            self.assertFalse(os.path.exists(onnx))
            refused(self, ["predict", bad, "--limit", "8", "--data", DATA], f"{bad}: 0.0.weight is {name}, expected F32")
        ckpt16 = self.edited("f16.ckpt", lambda m, s, t: t.update({"optimizer.first.0.0.bias": t["optimizer.first.0.0.bias"].half()}))
        refused(self, ["export", ckpt16, self.path("f16.onnx")], "optimizer.first.0.0.bias is F16, expected F32")

    def test_a_write_flushes_its_directory(self):
        """Issue 33: after the rename, the directory is flushed too (else a power cut can lose the
        rename); where the OS will not open or flush a directory (Windows), the write still lands."""
        import errno
        import stat
        from unittest import mock
        from cnnscope_torch import checkpoint
        c = checkpoint.read(self.ckpt)
        calls = []
        real_fsync, real_replace, real_open = os.fsync, os.replace, os.open

        def fsync(fd):
            calls.append("directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
            real_fsync(fd)

        def replace(a, b):
            calls.append("rename")
            real_replace(a, b)

        target = self.path("synced.ckpt")
        with mock.patch("os.fsync", fsync), mock.patch("os.replace", replace):
            checkpoint.write(target, c)
        self.assertEqual(calls, ["file", "rename", "directory"])

        def windows_fsync(fd):
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise OSError(errno.EBADF, "Bad file descriptor")
            real_fsync(fd)

        def windows_open(path, flags, *more, **named):
            if os.path.isdir(path):
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return real_open(path, flags, *more, **named)

        for patch in (mock.patch("os.fsync", windows_fsync), mock.patch("os.open", windows_open)):
            os.unlink(target)
            with patch:
                checkpoint.write(target, c)
            self.assertEqual(checkpoint.read(target).state["steps"], c.state["steps"])
        self.assertEqual([n for n in os.listdir(self.dir) if n.endswith(".partial")], [], "no temporary file is left")

    def test_a_checkpoint_reads_and_writes_back_unchanged(self):
        from safetensors import safe_open
        from safetensors.torch import load_file
        from cnnscope_torch import checkpoint
        c = checkpoint.read(self.ckpt)
        again = self.path("again.ckpt")
        checkpoint.write(again, c)
        a, b = load_file(self.ckpt), load_file(again)
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)
        with safe_open(self.ckpt, "pt") as f, safe_open(again, "pt") as g:
            ma, mb = f.metadata(), g.metadata()
        self.assertEqual({k: v for k, v in ma.items() if k != "cnnscope.checkpoint"}, {k: v for k, v in mb.items() if k != "cnnscope.checkpoint"})
        self.assertEqual(json.loads(ma["cnnscope.checkpoint"]), json.loads(mb["cnnscope.checkpoint"]))
        # ...and cnnscope reads the copy.
        cnnscope("eval", "--weights", again)


if __name__ == "__main__":
    unittest.main()
