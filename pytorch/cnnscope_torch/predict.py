"""The predicted class of the first N test images: from a checkpoint or weights file through
PyTorch, or from an .onnx file through onnxruntime — the same preprocessing as cnnscope's eval."""
import numpy as np
import torch

from . import fashion_mnist


def predict(src, limit=1000, data=None):
    x, _ = fashion_mnist.load("test", data)
    x = x[:limit]
    if str(src).endswith(".onnx"):
        import onnxruntime as ort
        session = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
        side = session.get_inputs()[0].shape[2]
        out = []
        for i in range(0, len(x), 256):
            out.append(session.run(None, {"image": fashion_mnist.batch(x[i:i + 256], side).numpy()})[0].argmax(1))
        return np.concatenate(out).tolist()
    from .export import model_of
    model, side, _ = model_of(src)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 256):
            out.append(model(fashion_mnist.batch(x[i:i + 256], side)).argmax(1))
    return torch.cat(out).tolist()
