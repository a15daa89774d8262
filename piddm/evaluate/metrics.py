"""Every metric of a solve or a distillation, defined once (pure numpy / torch, per sample).

Quality of generated ensembles: MMSE / SMSE follow ECI-sampling: the mean squared difference
between the per-pixel mean (resp. standard deviation) of the generated ensemble and of the
reference ensemble. With a finite number of samples even two real ensembles differ, so
:func:`ensemble_floor` gives the same statistics between two disjoint real sets of the same
sizes: a method cannot be expected to do better than that.

Physics follows DESIGN.md rule 3: the per-sample normalised residual (Darcy's a thresholded
first) and, separately, the boundary-condition violation; beside them the amplitude ratio
(:func:`amplitude_ratio`) and the residual relative to the sample's own terms
(:func:`relative_residual`), which a method cannot lower by shrinking its fields.

Accuracy of a solve: :func:`relative_l2` for continuous fields, :func:`error_rate` for
two-valued ones. Uncertainty (rule 9) is scored by proper scores -- :func:`crps_ensemble` for
continuous fields, :func:`brier_vote` for two-valued ones -- and by :func:`coverage`, printed
beside :func:`nominal_coverage` for the ensemble size.

Arrays are (sample, x, y) unless said otherwise; every function returns one value per sample.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from pde_bench.metrics import normalised_residual
from pde_bench.problems.base import Problem

__all__ = [
    "amplitude_ratio",
    "brier_vote",
    "coverage",
    "crps_ensemble",
    "ensemble_errors",
    "ensemble_floor",
    "error_rate",
    "fluctuation_scale",
    "nominal_coverage",
    "physics_errors",
    "relative_l2",
    "relative_residual",
]

_TINY = 1e-30  # guards a division by a zero norm (an all-zero truth or residual)


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


def relative_residual(problem: Problem, a, u, batch: int = 256) -> np.ndarray:
    """PDE residual relative to the sample's own terms, (n,): not lowered by shrinking a field.

    For a residual affine in u, r(a, u) = L_a u - g(a), the value is
    ||r(a, u)|| / (||r(a, u) - r(a, 0)|| + ||r(a, 0)||) = ||L_a u - g|| / (||L_a u|| + ||g||)
    (norms over the residual's last two axes): Poisson ||Δ_h u - a|| / (||Δ_h u|| + ||a||),
    Darcy ||∇·(a∇u) + f|| / (||∇·(a∇u)|| + ||f||), Navier–Stokes ||u - Φ(a)|| / (||u|| + ||Φ(a)||).
    It lies in [0, 1]; it is scale-invariant for the linear problems, so a method that shrinks
    its fields (which lowers the normalised residual of DESIGN.md rule 3) gains nothing here.
    ``a`` is finalised first (Darcy: thresholded), as in :func:`physics_errors`; float64, in
    batches of ``batch`` samples (a sample's value does not depend on its batch).
    """
    out = []
    for i in range(0, len(a), batch):
        ab = torch.as_tensor(np.asarray(a[i:i + batch], dtype=np.float64))
        ub = torch.as_tensor(np.asarray(u[i:i + batch], dtype=np.float64))
        ab = problem.finalize_inputs(ab)
        r = problem.residual(ab, ub, check=False)
        r0 = problem.residual(ab, torch.zeros_like(ub), check=False)
        r, r0 = torch.broadcast_tensors(r, r0)

        def norm(x):
            return x.pow(2).sum(dim=(-2, -1)).sqrt()

        out.append((norm(r) / (norm(r - r0) + norm(r0)).clamp_min(_TINY)).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def relative_l2(pred, true) -> np.ndarray:
    """Per-sample relative L2 error ||pred - true|| / ||true|| over the last two axes, (n,)."""
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    num = np.sqrt(np.sum((p - t) ** 2, axis=(-2, -1)))
    return num / np.maximum(np.sqrt(np.sum(t**2, axis=(-2, -1))), _TINY)


def error_rate(pred, true) -> np.ndarray:
    """Fraction of pixels where a finalised two-valued field differs from the truth, (n,).

    The error of Darcy's a (as DiffusionPDE reports it): a relative L2 of a two-valued field
    says little, the share of misclassified pixels says what went wrong.
    """
    return np.mean(np.asarray(pred) != np.asarray(true), axis=(-2, -1)).astype(np.float64)


def fluctuation_scale(data) -> tuple[np.ndarray, float]:
    """(per-pixel mean (N, N), RMS of the fluctuation about it) of a reference set (m, N, N).

    The yardstick of :func:`amplitude_ratio`: how far real fields vary about the data mean.
    """
    d = np.asarray(data, dtype=np.float64)
    mean = d.mean(0)
    return mean, float(np.sqrt(np.mean((d - mean) ** 2)))


def amplitude_ratio(fields, mean_field, rms: float) -> np.ndarray:
    """Per-sample RMS of (field - data mean) over pixels, divided by the data's ``rms``, (n,).

    Real data scores about 1; a field shrunk toward the data mean scores < 1. Reported beside
    every residual (DESIGN.md rule 3, per channel), since shrinking a field lowers its residual.
    ``mean_field`` and ``rms`` come from :func:`fluctuation_scale` of the reference data.
    """
    if not rms > 0:
        raise ValueError(f"the data's fluctuation RMS must be positive, got {rms!r}")
    f = np.asarray(fields, dtype=np.float64) - np.asarray(mean_field, dtype=np.float64)
    return np.sqrt(np.mean(f**2, axis=(-2, -1))) / rms


def coverage(pred, std, true, free) -> np.ndarray:
    """Fraction of free (unobserved) pixels whose truth lies within pred ± 2 std, (n,).

    ``free`` is bool (n, N, N); NaN for a sample with no free pixel. Compare it with
    :func:`nominal_coverage` for the ensemble size, not with 0.95.
    """
    free = np.asarray(free, dtype=bool)
    inside = np.abs(np.asarray(true, dtype=np.float64) - np.asarray(pred, dtype=np.float64)) <= 2 * np.asarray(std)
    count = free.sum(axis=(-2, -1))
    hits = (inside & free).sum(axis=(-2, -1))
    return np.where(count > 0, hits / np.maximum(count, 1), np.nan)


def nominal_coverage(members: int, z: float = 2.0) -> float:
    """What :func:`coverage` is for ``members`` = K exact posterior samples (std with ddof = 0).

    With K draws of the truth's own (Gaussian) distribution, (y - mean) / (s * sqrt(1 + 1/K))
    is Student-t with K - 1 degrees of freedom (s the ddof = 1 std), so
    P(|y - mean| <= z * std_ddof0) = P(|T| <= z * sqrt((K - 1) / (K + 1))): 0.879 for K = 8,
    z = 2, not 0.954. NaN for K < 2 (no spread to measure).
    """
    k = int(members)
    if k < 2:
        return float("nan")
    return float(2 * stats.t.cdf(z * np.sqrt((k - 1) / (k + 1)), df=k - 1) - 1)


def _free_mean(values: np.ndarray, free) -> np.ndarray:
    """Mean of per-pixel values (n, N, N) over each sample's free pixels; NaN where none."""
    free = np.asarray(free, dtype=bool)
    count = free.sum(axis=(-2, -1))
    total = np.where(free, values, 0.0).sum(axis=(-2, -1))
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def crps_ensemble(members, truth, free) -> np.ndarray:
    """CRPS of the ensemble's empirical distribution per pixel, mean over free pixels, (n,).

    CRPS(F, y) = ∫ (F(x) - 1{x >= y})² dx = E|X - y| - ½ E|X - X'| for F the empirical
    distribution of the K members (the standard estimator, not the "fair" one), a proper score:
    it rewards a sharp ensemble only where it is also right. In the units of the field; K = 1
    gives the absolute error. ``members`` (n, K, N, N), ``truth`` (n, N, N), ``free`` bool
    (n, N, N); NaN for a sample with no free pixel. E|X - X'| comes from the sorted members
    (sum_i (2i - K + 1) x_(i), i = 0..K-1), in O(K N²) memory.
    """
    x = np.asarray(members, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    k = x.shape[1]
    skill = np.abs(x - y[:, None]).mean(axis=1)
    weights = (2 * np.arange(k) - k + 1).reshape(1, k, *([1] * (x.ndim - 2)))
    spread = 2 * (weights * np.sort(x, axis=1)).sum(axis=1) / k**2      # E|X - X'|
    return _free_mean(skill - 0.5 * spread, free)


def brier_vote(members, truth, free, levels) -> np.ndarray:
    """Brier score of the members' vote on a two-valued field, mean over free pixels, (n,).

    ``levels`` = (low, high) (Darcy's a); a value counts as high when nearer the high level.
    p = fraction of the K members (n, K, N, N) at the high level, y = 1 where the truth is high;
    the score is the mean of (p - y)² over free pixels: a proper score for the two-valued
    field, where a deterministic answer (K = 1) scores its error rate. NaN without free pixels.
    """
    low, high = map(float, levels)
    mid = 0.5 * (low + high)

    def is_high(v):
        v = np.asarray(v, dtype=np.float64)
        return v >= mid if high > low else v <= mid

    p = is_high(members).mean(axis=1)
    return _free_mean((p - is_high(truth)) ** 2, free)
