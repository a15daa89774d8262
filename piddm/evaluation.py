"""Evaluate a generator against a data set: the rows of every quality table.

A row follows the ``metrics.json`` schema shared by all reports: method, nfe, grad_evals,
ms_per_sample, batch, residual, residual_median, bc, mmse, smse. ``floors`` gives the rows'
yardsticks: the ground-truth residual of the test split and the finite-sample MMSE/SMSE floor.
"""

from __future__ import annotations

import time

import numpy as np

from pde_bench.loading import load

from .model_file import LoadedModel
from .quality import ensemble_errors, ensemble_floor, physics_errors
from .teacher import sample_teacher

__all__ = ["ReferenceSets", "evaluate_fields", "floors", "teacher_row"]


class ReferenceSets:
    """The test split (the reference ensemble) and a disjoint real set (for the floor) of a data set."""

    def __init__(self, data, n: int):
        test = load(data, "test")
        train = load(data, "train")
        if len(test) < n:
            raise ValueError(f"{test.path}: {len(test)} test samples, {n} needed")
        self.problem = test.problem
        self.a_test, self.u_test = test.a[:n].astype(np.float64), test.u[:n].astype(np.float64)
        self.u_real = train.u[:n].astype(np.float64)
        self.scale = float(test.attrs["residual_scale"])
        self.u_rms = float(np.sqrt(np.mean(np.square(train.u[: max(n, 256)], dtype=np.float64))))


def evaluate_fields(method: str, a, u, ref: ReferenceSets, *, nfe: int, grad_evals: int = 0,
                    seconds: float, batch: int) -> dict:
    """One table row for generated physical fields (a raw or thresholded; it is thresholded here)."""
    phys = physics_errors(ref.problem, a, u, ref.scale, ref.u_rms)
    return {"method": method, "nfe": nfe, "grad_evals": grad_evals,
            "ms_per_sample": 1000 * seconds / len(u), "batch": batch,
            "residual": phys["residual"], "residual_median": phys["residual_median"], "bc": phys["bc"],
            **ensemble_errors(u, ref.u_test)}


def floors(ref: ReferenceSets) -> dict:
    """Ground-truth residual of the reference set and the finite-sample MMSE/SMSE floor."""
    gt = physics_errors(ref.problem, ref.a_test, ref.u_test, ref.scale, ref.u_rms)
    fl = ensemble_floor(ref.u_real, ref.u_test, len(ref.u_test))
    return {"residual": gt["residual"], "residual_median": gt["residual_median"], "bc": gt["bc"],
            "mmse": fl["mmse"], "smse": fl["smse"], "samples": len(ref.u_test)}


def teacher_row(teacher: LoadedModel, ref: ReferenceSets, *, steps: int = 18, batch: int = 128,
                seed: int = 1, sampler: str = "heun", on_progress=None) -> dict:
    """Sample as many fields as the reference set holds, at its resolution, and score them."""
    n, res = len(ref.u_test), ref.u_test.shape[-1]
    t0 = time.perf_counter()
    a, u, nfe = sample_teacher(teacher, n, steps=steps, sampler=sampler, seed=seed, batch=batch,
                               resolution=res, on_progress=on_progress)
    seconds = time.perf_counter() - t0
    label = f"teacher {sampler.capitalize()}-{steps}"
    return evaluate_fields(label, a, u, ref, nfe=nfe, seconds=seconds, batch=min(batch, n))
