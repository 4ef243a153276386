"""Kept so scripts that put pytorch/ on sys.path can `import d2l_nets` (tests/fixtures/make_*.py): it is
cnnscope_torch/d2l_nets.py, the one copy."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cnnscope_torch import d2l_nets as _module  # noqa: E402

sys.modules[__name__] = _module
