"""Bad input gets a one-line error and exit status 1, never a traceback; and the checkpoint reader
reads what cnnscope writes and writes what it reads (tensors, metadata and state unchanged)."""
import json
import os
import struct
import unittest

import torch

from common import DATA, PY, cnnscope, run, tmpdir


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
