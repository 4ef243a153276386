#!/usr/bin/env python3
"""Kept so `python3 pytorch/bench.py …` works as before: the code is cnnscope_torch/bench.py
(`python -m cnnscope_torch.bench …` after `pip install -e pytorch`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cnnscope_torch.bench import main  # noqa: E402

if __name__ == "__main__":
    main()
