"""Kept so scripts that put pytorch/ on sys.path can `import fashion_mnist` (tests/fixtures/make_*.py): it is
cnnscope_torch/fashion_mnist.py, the one copy."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cnnscope_torch import fashion_mnist as _module  # noqa: E402

sys.modules[__name__] = _module
