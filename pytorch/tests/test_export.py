"""`python -m cnnscope_torch export`: an ONNX graph (opset 17, dynamic batch, input [N, 1, side,
side]) whose onnxruntime predictions on the first 1,000 test images equal PyTorch's from the same
checkpoint image for image, and whose correct count (±1, for a near tie) and mean loss on all
10,000 are cnnscope's (`cnnscope eval` prints both to 4 decimals; the accuracy of 10,000 images is
the count); and, where `cnnscope eval` has `--predictions`, equal to cnnscope's own classes image
for image."""
import os
import re
import unittest

import numpy as np

from common import BIN, PY, TINY, cnnscope, run, tmpdir


class Export(unittest.TestCase):
    def export(self, ckpt, d):
        onnx_path = os.path.join(d, "model.onnx")
        _, stdout, _ = run([PY, "-m", "cnnscope_torch", "export", ckpt, onnx_path])
        self.assertIn("opset 17", stdout)
        import onnx
        m = onnx.load(onnx_path)
        onnx.checker.check_model(m)
        self.assertGreaterEqual(max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 17)
        dims = m.graph.input[0].type.tensor_type.shape.dim
        self.assertEqual(dims[0].dim_param, "batch")
        return onnx_path, [d.dim_value for d in dims[1:]]

    def predictions(self, src, limit):
        _, stdout, _ = run([PY, "-m", "cnnscope_torch", "predict", src, "--limit", str(limit), "--data", os.environ.get("CNNSCOPE_DATA", "public/data/fashion-mnist")])
        return np.array([int(v) for v in stdout.split()])

    def test_a_trained_design_exports_and_predicts_as_cnnscope(self):
        d = tmpdir(self)
        net, ckpt = os.path.join(d, "tiny.net"), os.path.join(d, "run.ckpt")
        with open(net, "w") as f:
            f.write(TINY)
        cnnscope("train", "--net", net, "--limit", "1280", "--epochs", "2", "--checkpoint", ckpt)
        onnx_path, shape = self.export(ckpt, d)
        self.assertEqual(shape, [1, 28, 28])
        ort_first, torch_first = self.predictions(onnx_path, 1000), self.predictions(ckpt, 1000)
        self.assertEqual(len(ort_first), 1000)
        self.assertEqual(list(ort_first), list(torch_first), "onnxruntime and PyTorch differ on some of the first 1,000 images")
        self.assertGreater(len(set(ort_first.tolist())), 3, "a net that learned predicts more than a class or two")
        # cnnscope's own classes, image for image, where its eval writes them (`--predictions`).
        _, usage, _ = run([BIN, "eval", "--help"])
        if "--predictions" in usage:
            written = os.path.join(d, "cnnscope-predictions.txt")
            cnnscope("eval", "--weights", ckpt, "--limit", "1000", "--predictions", written)
            with open(written) as f:
                theirs = [int(v) for v in f.read().split()]
            differ = [i for i, (a, b) in enumerate(zip(ort_first.tolist(), theirs)) if a != b]
            print(f"\n  onnxruntime and cnnscope eval --predictions: {1000 - len(differ)}/1000 images the same", end="")
            self.assertEqual(len(theirs), 1000)
            self.assertEqual(differ, [], "onnxruntime and cnnscope differ on these of the first 1,000 test images")
        else:
            print("\n  (this cnnscope has no eval --predictions: compared with PyTorch and cnnscope's counts only)", end="")
        # All 10,000: onnxruntime's correct count and mean loss are cnnscope eval's (4 decimals).
        import onnxruntime as ort
        import torch
        from cnnscope_torch import fashion_mnist
        images, labels = fashion_mnist.load("test", os.environ.get("CNNSCOPE_DATA"))
        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        logits = torch.cat([torch.from_numpy(session.run(None, {"image": fashion_mnist.batch(images[i:i + 1000], 28).numpy()})[0])
                            for i in range(0, 10000, 1000)])
        correct = int((logits.argmax(1) == labels).sum())
        loss = torch.nn.functional.cross_entropy(logits.double(), labels).item()
        _, stdout, _ = cnnscope("eval", "--weights", ckpt)
        found = re.search(r"test loss (\d+\.\d{4}), test acc (\d\.\d{4}) on 10000 images", stdout)
        their_loss, acc = float(found.group(1)), float(found.group(2))
        print(f"\n  onnxruntime {correct}/10000 correct, loss {loss:.5f}; cnnscope eval {round(acc * 10000)}/10000, loss {their_loss}", end="")
        self.assertLessEqual(abs(correct - round(acc * 10000)), 1, f"onnxruntime {correct}/10000, cnnscope {acc}")
        self.assertLessEqual(abs(loss - their_loss), 6e-5, f"onnxruntime's test loss {loss:.5f}, cnnscope's {their_loss}")

    def test_a_d2l_net_exports(self):
        """NiN (its global average pool) and AlexNet's flatten, with weights: onnxruntime's logits are
        PyTorch's for a batch of 3 and of 7 (the batch is dynamic)."""
        import onnxruntime as ort
        import torch
        from cnnscope_torch.export import model_of
        for net, extra in (("nin", ["--ratio", "16", "--side", "67"]), ("alexnet", ["--ratio", "16", "--side", "67"])):
            d = tmpdir(self)
            ckpt = os.path.join(d, "run.ckpt")
            cnnscope("train", "--net", net, *extra, "--limit", "64", "--epochs", "1", "--checkpoint", ckpt)
            onnx_path, shape = self.export(ckpt, d)
            self.assertEqual(shape, [1, 67, 67])
            model = model_of(ckpt)[0].eval()
            session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
            for n in (3, 7):
                x = torch.rand(n, 1, 67, 67)
                ours = session.run(None, {"image": x.numpy()})[0]
                with torch.no_grad():
                    np.testing.assert_allclose(ours, model(x).numpy(), rtol=1e-4, atol=1e-5, err_msg=net)


if __name__ == "__main__":
    unittest.main()
