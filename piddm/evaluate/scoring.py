"""Evaluate a generator against a data set: the rows of every quality table.

A row follows the ``metrics.json`` schema shared by all reports: method, nfe, grad_evals,
ms_per_sample, batch, residual, residual_median, bc, mmse, smse. ``floors`` gives the rows'
yardsticks: the ground-truth residual of the test split and the finite-sample MMSE/SMSE floor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pde_bench.loading import load

from ..models import LoadedModel
from .metrics import ensemble_errors, ensemble_floor, physics_errors
from ..student import Student, sample_student
from ..teacher import sample_teacher

__all__ = ["ReferenceSets", "Scored", "evaluate_fields", "floors", "score_student", "score_teacher", "teacher_row"]


class ReferenceSets:
    """A reference split (test; val when tuning) and a disjoint real set (train, for the floor)."""

    def __init__(self, data, n: int, split: str = "test"):
        test = load(data, split)
        self.split = split
        train = load(data, "train")
        if len(test) < n:
            raise ValueError(f"{test.path}: {len(test)} {split} samples, {n} needed")
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


@dataclass
class Scored:
    """A table row and the fields behind it (physical units, a as generated, not thresholded)."""

    row: dict
    a: np.ndarray
    u: np.ndarray


def _timed(draw: Callable[..., tuple[np.ndarray, np.ndarray]], n: int, batch: int,
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Draw ``n`` samples after an untimed warm-up call at the timed batch shape.

    The warm-up makes the CPU backend build its kernels for that shape (oneDNN caches them
    per shape), so the one-off cost is billed to no method: it would weigh 35x more on a
    one-step generator than on a 35-call sampler.
    """
    draw(min(batch, n), warmup=True)
    t0 = time.perf_counter()
    a, u = draw(n)
    return a, u, time.perf_counter() - t0


def score_teacher(teacher: LoadedModel, ref: ReferenceSets, *, steps: int = 18, batch: int = 128,
                  seed: int = 1, sampler: str = "heun", on_progress=None) -> Scored:
    """Sample as many fields as the reference set holds, at its resolution, and score them."""
    n, res = len(ref.u_test), ref.u_test.shape[-1]
    nfe = [0]

    def draw(m, warmup=False):
        if warmup:  # one Euler step: the network at the timed batch shape, without a full solve
            return sample_teacher(teacher, m, steps=1, sampler="euler", seed=seed, batch=batch, resolution=res)[:2]
        a, u, nfe[0] = sample_teacher(teacher, m, steps=steps, sampler=sampler, seed=seed, batch=batch,
                                      resolution=res, on_progress=on_progress)
        return a, u

    a, u, seconds = _timed(draw, n, batch)
    label = f"teacher {sampler.capitalize()}-{steps}"
    return Scored(evaluate_fields(label, a, u, ref, nfe=nfe[0], seconds=seconds, batch=min(batch, n)), a, u)


def teacher_row(teacher: LoadedModel, ref: ReferenceSets, **kwargs) -> dict:
    return score_teacher(teacher, ref, **kwargs).row


def score_student(label: str, student: Student, normaliser, ref: ReferenceSets, *, batch: int = 128,
                  seed: int = 1, refine: Callable | None = None, nfe: int = 1, grad_evals: int = 0,
                  on_progress=None) -> Scored:
    """One-step samples (or refined ones, see :func:`piddm.student.sample_student`) scored like the teacher's."""
    n, res = len(ref.u_test), ref.u_test.shape[-1]

    def draw(m, warmup=False):
        return sample_student(student, normaliser, m, res, seed=seed, batch=batch, refine=refine,
                              on_progress=None if warmup else on_progress)

    a, u, seconds = _timed(draw, n, batch)
    row = evaluate_fields(label, a, u, ref, nfe=nfe, grad_evals=grad_evals, seconds=seconds, batch=min(batch, n))
    return Scored(row, a, u)
