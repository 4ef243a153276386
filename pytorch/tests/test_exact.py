"""One optimiser step in PyTorch and one in cnnscope from the same checkpoint and the same batch give
the same weights and optimiser buffers (1e-5 relative) and the same counters, both ways: from a
checkpoint cnnscope wrote, and from one this package wrote.

Ten steps first, so Adam's moments are not the first gradient alone. One step is one epoch with --limit equal to the batch: every epoch is the same 64 images, only
their order (and so the rounding) differs. The net has no dropout. With --augment the batch is 1
image, so its place in the batch, and so its augmentation, is the same on both sides."""
import os
import unittest

from common import TINY, cnnscope, state, tmpdir, torch_train, worst_relative

TOLERANCE = 1e-5


class OneStep(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        self.net = os.path.join(self.dir, "tiny.net")
        with open(self.net, "w") as f:
            f.write(TINY)

    def path(self, name):
        return os.path.join(self.dir, name)

    def both_ways(self, recipe, limit=64, warm=10):
        start = self.path("start.ckpt")
        cnnscope("train", "--net", self.net, "--limit", limit, "--batch", limit, "--epochs", warm, *recipe, "--checkpoint", start)
        source = start
        for way in ("from cnnscope's checkpoint", "from PyTorch's checkpoint"):
            epoch = state(source)["epoch"] + 1
            theirs, ours = self.path(f"c{epoch}.ckpt"), self.path(f"p{epoch}.ckpt")
            cnnscope("train", "--net", self.net, "--resume", source, "--limit", limit, "--epochs", epoch, "--checkpoint", theirs)
            torch_train("--resume", source, "--limit", limit, "--epochs", epoch, "--save-checkpoint", ours)
            a, b = state(ours), state(theirs)
            for key in ("steps", "epoch", "batch_in_epoch", "optimizer_steps", "epochs", "batch", "optimizer", "seed", "augment", "train_images"):
                self.assertEqual(a[key], b[key], f"{way}: {key}")
            self.assertEqual(a["steps"], state(source)["steps"] + 1, way)
            worst, key = worst_relative(ours, theirs)
            weights, wkey = worst_relative(ours, theirs, parameters_only=True)
            print(f"\n  {' '.join(recipe)} {way}: largest relative difference {worst:.2e} ({key}); weights alone {weights:.2e} ({wkey})", end="")
            self.assertLessEqual(worst, TOLERANCE, f"{way}: {key} differs by {worst:.2e} relative")
            source = ours

    def test_adam(self):
        self.both_ways(["--opt", "adam", "--lr", "0.001"])

    def test_sgd_with_momentum(self):
        self.both_ways(["--opt", "sgd", "--lr", "0.05", "--momentum", "0.9"])

    def test_adam_with_weight_decay_and_augmentation(self):
        self.both_ways(["--opt", "adam", "--lr", "0.001", "--weight-decay", "0.0005", "--augment"], limit=1)


if __name__ == "__main__":
    unittest.main()
