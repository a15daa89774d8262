"""piddm: EDM teachers on the joint field (a, u), one-step physics-informed students, solves and comparisons.

Attributes are imported on first use (PEP 562), so ``import piddm`` stays light and command-line
help does not wait for torch. The public face:

- models: :func:`load_model`, :func:`load_student`, :func:`reference_model` (the shipped ones);
- physics: :class:`PhysicsLoss` (``PhysicsLoss.for_model(model)``);
- generation: :func:`sample_teacher`, :func:`sample_student`;
- solving: :class:`Observation`, :data:`METHODS` (the solve registry), :class:`SolveContext`;
- experiments: :class:`SolveOptions` / :func:`run_solve`, :class:`DistillExperiment` /
  :func:`run_distill`, each returning a :class:`Comparison`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("piddm.models", "load_model"),
    "load_student": ("piddm.models", "load_student"),
    "reference_model": ("piddm.models", "reference_model"),
    "PhysicsLoss": ("piddm.physics", "PhysicsLoss"),
    "sample_teacher": ("piddm.teacher", "sample_teacher"),
    "sample_student": ("piddm.student", "sample_student"),
    "Observation": ("piddm.solve.observation", "Observation"),
    "METHODS": ("piddm.solve", "METHODS"),
    "SolveContext": ("piddm.solve", "SolveContext"),
    "SolveOptions": ("piddm.compare.solve", "SolveOptions"),
    "run_solve": ("piddm.compare.solve", "run"),
    "DistillExperiment": ("piddm.compare.distill", "DistillExperiment"),
    "run_distill": ("piddm.compare.distill", "run"),
    "Comparison": ("piddm.report", "Comparison"),
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'piddm' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
