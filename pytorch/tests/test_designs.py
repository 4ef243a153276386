"""The design reader (cnnscope_torch/design.py) refuses what cnnscope's (src/net/design.rs) refuses,
with cnnscope's limits and words: every design of tests/fixtures/hostile_designs.json (which the
Rust tests read too) gets a one-line DesignError — its `error` exactly, where the fixture gives one
— and no other exception; through the command line, one line and exit 1. Designs at the limits
still build, and the four presets still make d2l's modules."""
import json
import os
import unittest

import torch

from common import DATA, ROOT, TINY, tmpdir
from test_bad_input import refused, safetensors_file

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hostile_designs.json")


def hostile_designs():
    """The fixture's entries, each with its `design` text: given, or `repeat_line` + "\\n" written
    `times` times."""
    with open(FIXTURE, encoding="utf-8") as f:
        entries = json.load(f)
    for e in entries:
        if "repeat_line" in e:
            e["design"] = (e["repeat_line"] + "\n") * e["times"]
    return entries


class HostileDesigns(unittest.TestCase):
    def test_every_hostile_design_is_refused_in_one_line(self):
        from cnnscope_torch import design
        entries = hostile_designs()
        self.assertGreaterEqual(len(entries), 12)
        for e in entries:
            with self.subTest(e["name"]):
                try:
                    design.build(e["design"], e["ratio"], e["side"])
                except design.DesignError as error:
                    message = str(error)
                else:
                    self.fail(f"{e['name']}: built")
                self.assertNotIn("\n", message)
                if "error" in e:
                    self.assertEqual(message, e["error"])

    def test_the_command_line_refuses_them_in_one_line(self):
        """A weights file or a checkpoint whose metadata holds a hostile design: export, predict and
        train answer `cnnscope_torch: error: FILE: ...`, exit 1."""
        from cnnscope_torch import checkpoint, design
        d = tmpdir(self)
        by_name = {e["name"]: e for e in hostile_designs()}
        for name, words in (("width 4097", "its design, line 1: width = «4097» is not a whole number from 1 to 4096"),
                            ("a superscript two as a width", "its design, line 1: width = «²» is not a whole number from 1 to 4096"),
                            ("an output of 2^32 values at side 1024", "its design, line 1: conv: its output of 4096×1024×1024 values is more than the 2^28"),
                            ("more characters than 64 KiB", "its design, line 1: the design has 66000 characters; at most 65536 are read"),
                            ("ratio 4097", "Own network: the width ratio must be 1 to 4096"),
                            ("side 1025", "Own network: the input side must be 1 to 1024")):
            e = by_name[name]
            path = os.path.join(d, "w.safetensors")
            safetensors_file(path, {"net": "own", "design": e["design"], "ratio": str(e["ratio"]), "side": str(e["side"])})
            refused(self, ["export", path, os.path.join(d, "w.onnx")], f"{path}: {words}")
        refused(self, ["predict", path, "--limit", "4", "--data", DATA], f"{path}: Own network: the input side must be 1 to 1024")
        # A checkpoint: written by this package from a tiny run, then its design made hostile.
        torch.manual_seed(0)
        model = design.build(TINY, 1, 28)
        names = list(model.state_dict())
        state = {"format": 1, "batch": 64, "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0},
                 "seed": 1, "epochs": 1, "steps": 1, "epoch": 1, "batch_in_epoch": 0, "optimizer_steps": 1,
                 "order_position": "0", "sums": [0, 0, 0], "train_images": 64, "notes": "", "augment": False}
        zeros = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
        c = checkpoint.Checkpoint("own", 1, 28, True, TINY, state, model.state_dict(), zeros)
        good = os.path.join(d, "good.ckpt")
        checkpoint.write(good, c)
        self.assertEqual(list(checkpoint.read(good).params), names)
        from safetensors import safe_open
        from safetensors.torch import load_file
        with safe_open(good, "pt") as f:
            meta = dict(f.metadata())
        bad = os.path.join(d, "bad.ckpt")
        safetensors_file(bad, dict(meta, design=TINY.replace("conv 16", "conv ١٦")), load_file(good))
        refused(self, ["train", "--resume", bad, "--epochs", "2", "--limit", "64", "--device", "cpu"],
                f"{bad}: its design, line 4: width = «١٦» is not a whole number from 1 to 4096")


class Limits(unittest.TestCase):
    def test_designs_at_the_limits_build(self):
        """Each limit is inclusive, as cnnscope's: 1,000 modules, groups 8 deep, 65,536 bytes,
        16 convolutions in a vgg_block, a width of 4,096 (the scores' width is not divided)."""
        from cnnscope_torch import design
        cases = {
            "1000 modules": "relu\n" * 998 + "flatten\nlinear 10\n",
            "8 deep": "{\n" * 8 + "flatten\nlinear 10\n" + "}\n" * 8,
            "65536 bytes": "flatten\nlinear 10\n" + "#" * (65536 - len("flatten\nlinear 10\n")),
            "vgg_block 16": "vgg_block 16 8\nflatten\nlinear 10\n",
            "width 4096 at ratio 4096": "conv 4096 k=3\nrelu\nglobal_avg_pool\nflatten\nlinear 10\n",
            "a + sign, leading zeros, kernel_size=": "conv +08 kernel_size=3 padding=001\nflatten\nlinear 0010\n",
            "dropout -0 and .5": "flatten\ndropout -0.0\ndropout .5\nlinear 10\n",
        }
        for name, text in cases.items():
            with self.subTest(name):
                model = design.build(text, 4096 if "ratio" in name else 1, 8)
                self.assertEqual(tuple(model.eval()(torch.zeros(2, 1, 8, 8)).shape), (2, 10))
        self.assertEqual(design.build("conv 12 k=3\nflatten\nlinear 10\n", 4096, 8)[0].out_channels, 1)

    def test_the_presets_make_d2ls_modules(self):
        """The rewritten reader builds what the old one did: the four presets give d2l's state_dict
        keys and shapes (as tests/fixtures/make_net_fixtures.py checks), and a mixed design runs."""
        from cnnscope_torch import d2l_nets, design
        for net in ("alexnet", "vgg11", "nin", "googlenet"):
            with open(os.path.join(ROOT, "src", "net", "presets", f"{net}.net"), encoding="utf-8") as f:
                text = f.read()
            for ratio, side in ((8, 67), (16, 100), (16, d2l_nets.NATIVE_SIDE[net])):
                want = {k: tuple(v.shape) for k, v in d2l_nets.build(net, ratio, side).state_dict().items()}
                got = {k: tuple(v.shape) for k, v in design.build(text, ratio, side).state_dict().items()}
                self.assertEqual(got, want, (net, ratio, side))
        with open(os.path.join(ROOT, "tests", "fixtures", "design_mixed.net"), encoding="utf-8") as f:
            model = design.build(f.read(), 2, 28)
        self.assertEqual(tuple(model(torch.zeros(3, 1, 28, 28)).shape), (3, 10))
        self.assertIn("stem.0.weight", model.state_dict())

    def test_names_pytorch_cannot_take(self):
        """cnnscope takes any name of letters, digits and _; nn.Module refuses its own attributes'
        names: a DesignError that says so, not a KeyError."""
        from cnnscope_torch import design
        with self.assertRaises(design.DesignError) as e:
            design.build("conv 8 k=3\nforward: relu\nflatten\nlinear 10\n", 1, 8)
        self.assertEqual(str(e.exception), "line 2: forward: PyTorch cannot name a module forward (nn.Module has an attribute "
                                           "of that name): name it otherwise")


if __name__ == "__main__":
    unittest.main()
