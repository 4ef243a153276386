"""cnnscope's other half in PyTorch: continue any cnnscope run (a checkpoint from the page or the CLI)
on PyTorch's engine — one process or many under torchrun — bring it back as a checkpoint cnnscope
opens, and ship the trained net as ONNX.

    python -m cnnscope_torch train --resume run.ckpt --epochs 10 --save-checkpoint out.ckpt
    torchrun --nproc_per_node 8 -m cnnscope_torch train --resume run.ckpt --epochs 10 --save-checkpoint out.ckpt
    python -m cnnscope_torch export out.ckpt model.onnx

Modules: `checkpoint` (cnnscope's checkpoint format, read and written exactly), `run` (continuing
a run, DistributedDataParallel), `augment` (cnnscope's augmentation draws), `export` (ONNX),
`predict`; and the oracle cnnscope is tested against: `d2l_nets` (the four nets as d2l builds
them), `design` (own networks' text format), `fashion_mnist` (the data, preprocessed as cnnscope
does), `train`, `bench`, `eval_weights` (fresh-start comparisons of accuracy and speed).
See docs/PYTORCH.md.
"""
__version__ = "0.1.0"
