"""pde_bench: PDE problems with numerical solvers and exact, differentiable residual operators.

Attributes are imported on first use (PEP 562), so ``import pde_bench`` and its conventions
module stay light and command-line help does not wait for torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "InputError": "pde_bench.conventions",
    "Problem": "pde_bench.problems",
    "get_problem": "pde_bench.problems",
    "problem_names": "pde_bench.problems",
    "normalised_residual": "pde_bench.metrics",
    "rms": "pde_bench.metrics",
    "load": "pde_bench.loading",
    "FieldData": "pde_bench.loading",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pde_bench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
