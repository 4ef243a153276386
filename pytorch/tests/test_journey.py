"""The journey of docs/PYTORCH.md on CPUs: a cnnscope checkpoint (NiN ÷8 at 112, 640 images) continued
by `torchrun --nproc_per_node 2` (gloo) for an epoch; cnnscope resumes the result for a third epoch
and evaluates it, and PyTorch's test accuracy of it on all 10,000 images is cnnscope's."""
import json
import os
import re
import unittest

from common import PY, TINY, cnnscope, run, state, tmpdir, torch_train, worst_relative

EPOCH_LINE = re.compile(r"^epoch (\d+), loss \d+\.\d{4}, train acc \d\.\d{3}, test acc \d\.\d{3}, time \d+\.\d sec, \d+\.\d images/s$")


class Journey(unittest.TestCase):
    def test_cnnscope_then_torchrun_then_cnnscope(self):
        d = tmpdir(self)
        run_ckpt, out = os.path.join(d, "run.ckpt"), os.path.join(d, "out.ckpt")
        cnnscope("train", "--net", "nin", "--ratio", "8", "--limit", "640", "--epochs", "1", "--checkpoint", run_ckpt)
        _, stdout, stderr = torch_train("--resume", run_ckpt, "--epochs", "2", "--limit", "640", "--save-checkpoint", out, nproc=2)
        lines = [l for l in stdout.splitlines() if l.startswith("epoch")]
        self.assertEqual(len(lines), 1, f"one epoch line, from rank 0 only:\n{stdout}")
        self.assertRegex(lines[0], EPOCH_LINE)
        self.assertTrue(lines[0].startswith("epoch 2,"))
        self.assertIn("(2 × 32)", stderr)
        s = state(out)
        self.assertEqual((s["steps"], s["epoch"], s["batch_in_epoch"], s["optimizer_steps"], s["sums"], s["epochs"]), (20, 2, 0, 20, [0, 0, 0], 2))
        self.assertEqual(s["order_position"], state(run_ckpt)["order_position"])
        notes = json.loads(s["notes"])
        self.assertEqual(notes["epoch_lines"], lines)
        self.assertEqual(notes["test_acc"][-1][0], 2.0)
        self.assertEqual(notes["loss"][-1][0], 20.0)
        # Back in cnnscope: it resumes at step 20 for a third epoch, and evaluates the weights.
        _, stdout, stderr = cnnscope("train", "--net", "nin", "--resume", out, "--limit", "640", "--epochs", "3", "--checkpoint", os.path.join(d, "back.ckpt"))
        self.assertIn("resuming at step 20 (epoch 3, batch 0)", stderr)
        self.assertRegex(stdout.strip().splitlines()[-1], EPOCH_LINE)
        self.assertEqual(state(os.path.join(d, "back.ckpt"))["steps"], 30)
        _, stdout, _ = cnnscope("eval", "--weights", out)
        theirs = re.search(r"test loss (\d+\.\d+), test acc (\d\.\d+) on 10000 images", stdout)
        self.assertIsNotNone(theirs, stdout)
        _, stdout, _ = run([PY, "pytorch/eval_weights.py", out])
        ours = re.search(r"test loss (\d+\.\d+), test acc (\d\.\d+)", stdout)
        self.assertAlmostEqual(float(ours.group(2)), float(theirs.group(2)), delta=0.00015, msg=f"{stdout} against cnnscope's {theirs.group(0)}")
        self.assertAlmostEqual(float(ours.group(1)), float(theirs.group(1)), delta=0.00015)

    def test_two_processes_train_as_one(self):
        """The global batch is kept: 2 gloo processes of 32 images make the same steps as 1 of 64."""
        d = tmpdir(self)
        net, start = os.path.join(d, "tiny.net"), os.path.join(d, "start.ckpt")
        with open(net, "w") as f:
            f.write(TINY)
        cnnscope("train", "--net", net, "--limit", "640", "--epochs", "1", "--checkpoint", start)
        one, two = os.path.join(d, "one.ckpt"), os.path.join(d, "two.ckpt")
        torch_train("--resume", start, "--epochs", "2", "--limit", "640", "--save-checkpoint", one)
        torch_train("--resume", start, "--epochs", "2", "--limit", "640", "--save-checkpoint", two, nproc=2)
        worst, key = worst_relative(one, two, parameters_only=True)
        self.assertLess(worst, 1e-4, f"{key} differs by {worst:.2e} relative")
        self.assertEqual(state(one)["steps"], state(two)["steps"])

    def test_a_run_stopped_mid_epoch_finishes_its_epoch(self):
        """A page autosave stops mid-epoch: PyTorch finishes that epoch (the remaining batches, the
        running sums kept, so the epoch line covers all 640 images), and a --batch changed at the
        boundary is the run's from then on, in cnnscope too."""
        from cnnscope_torch import checkpoint
        d = tmpdir(self)
        net, start, mid, out = (os.path.join(d, n) for n in ("tiny.net", "start.ckpt", "mid.ckpt", "out.ckpt"))
        with open(net, "w") as f:
            f.write(TINY)
        cnnscope("train", "--net", net, "--limit", "640", "--epochs", "1", "--checkpoint", start)
        c = checkpoint.read(start)
        # As if stopped after 4 batches of epoch 2 whose mean loss was 1.5 and accuracy 0.5.
        c.state.update(steps=14, batch_in_epoch=4, optimizer_steps=14,
                       sums=[checkpoint.f32_to_bits(v) for v in (1.5 * 256, 128.0, 256.0)])
        # The page's notes, as app/src/protocol.rs `Notes` writes them (with a field PyTorch does not know).
        page = {"name": "2026-12-03T10-00-00-000-own", "branched_from": None, "loss": [[10.0, 2.1]], "train_acc": [[1.0, 0.3]],
                "test_acc": [[1.0, 0.35]], "epoch_lines": ["epoch 1, loss 2.1000, train acc 0.300, test acc 0.350, time 1.0 sec, 640.0 images/s"],
                "seen": [1.5 * 256, 128.0, 256.0], "layers": {"latest": None, "hints": ["kept"], "dead": []}}
        c.state["notes"] = json.dumps(page)
        checkpoint.write(mid, c)
        _, stdout, stderr = torch_train("--resume", mid, "--epochs", "2", "--limit", "640", "--save-checkpoint", out)
        self.assertIn("resuming at step 14 (epoch 2, batch 4)", stderr)
        s = state(out)
        self.assertEqual((s["steps"], s["epoch"], s["batch_in_epoch"], s["optimizer_steps"]), (20, 2, 0, 20))
        notes = json.loads(s["notes"])
        self.assertEqual(notes["name"], page["name"])
        self.assertEqual(notes["layers"], page["layers"], "what PyTorch does not know stays")
        self.assertEqual(notes["epoch_lines"][0], page["epoch_lines"][0])
        self.assertEqual(len(notes["epoch_lines"]), 2)
        self.assertRegex(notes["epoch_lines"][1], EPOCH_LINE)
        self.assertEqual(notes["epoch_lines"][1], [l for l in stdout.splitlines() if l.startswith("epoch")][0])
        self.assertEqual(notes["test_acc"][-1][0], 2.0)
        self.assertEqual([p[0] for p in notes["loss"]], [10.0, 20.0], "the curve goes on from the page's last point")
        self.assertEqual(notes["seen"], [0.0, 0.0, 0.0])
        code, _, stderr = torch_train("--resume", mid, "--epochs", "2", "--limit", "640", "--batch", "32", ok=False)
        self.assertIn("stopped mid-epoch", stderr)
        wider = os.path.join(d, "wider.ckpt")
        torch_train("--resume", out, "--epochs", "3", "--limit", "640", "--batch", "32", "--save-checkpoint", wider)
        self.assertEqual((state(wider)["batch"], state(wider)["steps"]), (32, 40))
        _, _, stderr = cnnscope("train", "--net", net, "--resume", wider, "--limit", "640", "--epochs", "4")
        self.assertIn("batch 32", stderr)

    def test_a_batch_that_does_not_split_is_refused(self):
        d = tmpdir(self)
        start = os.path.join(d, "start.ckpt")
        cnnscope("train", "--net", "nin", "--ratio", "16", "--side", "67", "--limit", "128", "--epochs", "1", "--checkpoint", start)
        code, _, stderr = torch_train("--resume", start, "--epochs", "2", "--limit", "128", "--batch", "63", nproc=2, ok=False)
        self.assertNotEqual(code, 0)
        self.assertIn("the global batch 63 does not split evenly over 2 processes", stderr)
        self.assertNotIn("Traceback (most recent call last)", stderr.split("the global batch")[0])


if __name__ == "__main__":
    unittest.main()
