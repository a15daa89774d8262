"""Quality of generated fields: ensemble statistics against reference data, and physics.

MMSE / SMSE follow ECI-sampling: the mean squared difference between the per-pixel mean
(resp. standard deviation) of the generated ensemble and of the reference ensemble. With a
finite number of samples even two real ensembles differ, so :func:`ensemble_floor` gives the
same statistics between two disjoint real sets of the same sizes: a method cannot be expected
to do better than that. Physics follows DESIGN.md rule 3: the per-sample normalised residual
(Darcy's a thresholded first) and, separately, the boundary-condition violation.
"""

from __future__ import annotations

import numpy as np
import torch

from pde_bench.metrics import normalised_residual
from pde_bench.problems.base import Problem

__all__ = ["ensemble_errors", "ensemble_floor", "physics_errors"]


def ensemble_errors(generated: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """MMSE and SMSE of two ensembles (n, N, N) in the same (physical) units."""
    g, r = np.asarray(generated, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    mmse = float(np.mean((g.mean(0) - r.mean(0)) ** 2))
    smse = float(np.mean((g.std(0) - r.std(0)) ** 2))
    return {"mmse": mmse, "smse": smse}


def ensemble_floor(real_a: np.ndarray, reference: np.ndarray, n_generated: int) -> dict[str, float]:
    """MMSE / SMSE between ``n_generated`` real samples (disjoint from ``reference``) and ``reference``."""
    if len(real_a) < n_generated:
        raise ValueError(f"need {n_generated} real samples for the floor, have {len(real_a)}")
    return ensemble_errors(real_a[:n_generated], reference)


def physics_errors(problem: Problem, a, u, scale: float, u_rms: float | None = None,
                   batch: int = 256) -> dict[str, float | None]:
    """Normalised residual (mean, median; per sample) and boundary violation of fields (n, N, N).

    ``a`` is passed through ``problem.finalize_inputs`` (Darcy: thresholded) first. ``bc`` is
    the RMS of the boundary values relative to ``u_rms`` (the data's RMS of u); None for
    periodic problems, which have no boundary to violate. ``residual_per_sample`` and
    ``bc_per_sample`` (NaN without a boundary) give the same per sample.
    """
    per_sample, bc_sq = [], []
    for i in range(0, len(a), batch):
        ab = torch.as_tensor(np.asarray(a[i:i + batch], dtype=np.float64))
        ub = torch.as_tensor(np.asarray(u[i:i + batch], dtype=np.float64))
        ab = problem.finalize_inputs(ab)
        per_sample.append(normalised_residual(problem.residual(ab, ub), scale))
        if problem.boundary == "dirichlet":
            bc_sq.append(problem.boundary_residual(ub).pow(2).mean(dim=-1))
    r = torch.cat(per_sample)
    bc, bc_each = None, np.full(len(r), np.nan)
    if bc_sq and u_rms:
        sq = torch.cat(bc_sq)
        bc = float(sq.mean().sqrt() / u_rms)
        bc_each = (sq.sqrt() / u_rms).numpy()
    return {"residual": float(r.mean()), "residual_median": float(r.median()), "bc": bc,
            "residual_per_sample": r.numpy(), "bc_per_sample": bc_each}
