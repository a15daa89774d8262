"""Default settings of ``piddm solve`` per problem and task, chosen on the validation split.

Where the table has no entry the generic defaults of :class:`piddm.solve.SolveSettings` and
:class:`piddm.solve.physics_only.PhysicsSettings` apply. The choices and the measurements behind
them: ``benchmarks/results/solve_tuning.md`` (``python benchmarks/solve_tuning.py``).
"""

from __future__ import annotations

from dataclasses import asdict

from .solve.physics_only import PhysicsSettings
from .solve.noise_search import SolveSettings

__all__ = ["PHYSICS_TUNED", "SOLVE_TUNED", "physics_defaults", "solve_defaults"]

# (problem, task) -> settings chosen on validation (8 samples, mask seed 1, K = 4, 100 Adam steps);
# polish 200 (L-BFGS on each member's fields) beat no polish on all six (solve_tuning_*.md); then K = 8
# starts beat K = 4 on all six (16 samples, the other settings as here; solve_tuning_starts.md)
SOLVE_TUNED: dict[tuple[str, str], dict] = {
    ("darcy", "forward"): {"lam": 0.1, "lr": 0.05, "polish": 200, "starts": 8},
    ("darcy", "inverse"): {"lam": 0.01, "lr": 0.05, "polish": 200, "starts": 8},
    ("darcy", "reconstruction"): {"lam": 0.01, "lr": 0.05, "polish": 200, "starts": 8},
    ("poisson", "forward"): {"lam": 0.01, "lr": 0.05, "polish": 200, "starts": 8},
    ("poisson", "inverse"): {"lam": 0.1, "lr": 0.05, "polish": 200, "starts": 8},
    ("poisson", "reconstruction"): {"lam": 0.01, "lr": 0.05, "polish": 200, "starts": 8},
}
PHYSICS_TUNED: dict[tuple[str, str], dict] = {
    ("darcy", "forward"): {"lam": 1.0, "mu": 1.0, "regulariser": "tikhonov", "optimizer": "lbfgs"},
    ("darcy", "inverse"): {"lam": 0.1, "mu": 1.0, "regulariser": "tikhonov", "optimizer": "lbfgs"},
    ("darcy", "reconstruction"): {"lam": 0.1, "mu": 1.0, "regulariser": "tikhonov", "optimizer": "lbfgs"},
    # Poisson: a convex quadratic, so the preconditioned run reaches the same minimiser (scores equal
    # to 3 digits); it won the validation scores by the last digit
    **{("poisson", t): {"lam": 0.1, "mu": 1.0, "regulariser": "tikhonov", "optimizer": "lbfgs", "precondition": True}
       for t in ("forward", "inverse", "reconstruction")},
}

_SOLVE_KEYS = ("starts", "iters", "lam", "lr", "optimizer", "polish")
_PHYSICS_KEYS = ("iters", "lam", "mu", "regulariser", "lr", "optimizer", "precondition")


def solve_defaults(problem: str, task: str) -> dict:
    base = {k: v for k, v in asdict(SolveSettings()).items() if k in _SOLVE_KEYS}
    return {**base, **SOLVE_TUNED.get((problem, task), {})}


def physics_defaults(problem: str, task: str) -> dict:
    base = {k: v for k, v in asdict(PhysicsSettings()).items() if k in _PHYSICS_KEYS}
    return {**base, **PHYSICS_TUNED.get((problem, task), {})}
