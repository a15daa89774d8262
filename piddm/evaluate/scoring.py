"""Scoring: generated ensembles against a data set (distill rows) and solves against the truth (solve rows).

Both use one residual scale and one u normaliser, taken from the model file (the data set's
stored scale is checked against it), and the metrics of :mod:`piddm.evaluate.metrics`.

- :class:`ReferenceSets`, :func:`score_teacher`, :func:`score_student`: a generator draws as many
  samples as the reference split holds (sample i from noise (evaluation stream, seed, i), so rows
  are paired by sample), timed after an untimed warm-up, scored by :func:`generation_metrics`.
- :func:`score_solve`: the per-sample metrics of a :class:`piddm.solve.SolveResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError
from pde_bench.loading import load
from pde_bench.problems.base import Problem

from ..models import LoadedModel
from ..physics import PhysicsLoss
from ..student import Student, sample_student
from ..teacher import sample_teacher
from .metrics import (
    amplitude_ratio,
    brier_vote,
    coverage,
    crps_ensemble,
    ensemble_errors,
    ensemble_floor,
    error_rate,
    nominal_coverage,
    physics_errors,
    relative_l2,
    relative_residual,
)

__all__ = ["SCALE_TOLERANCE", "ReferenceSets", "Scored", "discrete_inputs", "evaluate_fields", "failed_samples",
           "field_error",
           "flat_row", "floors", "generation_metrics", "teacher_row",
           "score_solve", "score_student", "score_teacher", "summarise"]

SCALE_TOLERANCE = 0.10  # a data set's stored residual scale may differ this much (relative) from the model's


def discrete_inputs(problem: Problem) -> bool:
    """Whether the problem finalises its input to discrete levels (Darcy's thresholded a)."""
    return type(problem).finalize_inputs is not Problem.finalize_inputs


def field_error(problem: Problem, channel: str, pred, true) -> np.ndarray:
    """Per-sample error of a solve's field against the truth, over the last two axes (any leading shape, e.g.
    (n,) or (n, K) for members): relative L2, or for a discrete input (Darcy's a) the error rate of the
    finalised prediction against the finalised truth. ``true`` broadcasts against ``pred``."""
    if channel == "a" and discrete_inputs(problem):
        true_fin = np.asarray(problem.finalize_inputs(torch.as_tensor(true))).astype(np.float64)
        return error_rate(pred, true_fin)
    return relative_l2(pred, true)


class ReferenceSets:
    """A reference split (test; val when tuning) and a disjoint real set (train, for the floor).

    ``scale`` (the residual scale) and ``u_rms`` come from the model file; the data set's stored
    scale must agree with the model's within :data:`SCALE_TOLERANCE` (a small evaluation set
    estimates it from fewer training samples).
    """

    def __init__(self, data, n: int, model: LoadedModel, split: str = "test"):
        test = load(data, split)
        self.split = split
        train = load(data, "train")
        if len(test) < n:
            raise InputError(f"{test.path}: {len(test)} {split} samples, {n} needed")
        self.problem = test.problem
        prob = model.problem
        if prob.name != self.problem.name or dict(prob.params) != dict(self.problem.params):
            raise InputError(f"{test.path}: data of {self.problem.name} {dict(self.problem.params)}, the model is "
                             f"{prob.name} {dict(prob.params)}")
        if test.u.shape[-1] != model.resolution and model.info.backbone.get("backbone") != "fno":
            raise InputError(f"{test.path}: data at {test.u.shape[-1]}^2, the model was trained at "
                             f"{model.resolution}^2")
        self.a_test, self.u_test = test.a[:n].astype(np.float64), test.u[:n].astype(np.float64)
        self.u_real = train.u[:n].astype(np.float64)
        physics = PhysicsLoss.for_model(model)
        self.scale, self.u_rms = physics.scale, physics.u_rms
        self.normaliser = model.normaliser
        stored = float(test.attrs["residual_scale"])
        if abs(stored - self.scale) > SCALE_TOLERANCE * self.scale:
            raise InputError(f"{test.path}: stored residual scale {stored:.4g} differs from the model's "
                             f"{self.scale:.4g} by more than {100 * SCALE_TOLERANCE:.0f} %: not the model's data")


def generation_metrics(problem: Problem, a, u, ref: ReferenceSets) -> dict[str, np.ndarray]:
    """Per-sample physics of generated fields (a raw or finalised): residual, relative residual, bc, amplitudes.

    A sample with a non-finite value is a failure: its metrics are inf (see :func:`summarise`).
    """
    bad = failed_samples(a, u)
    if bad.any():
        a, u = np.where(bad[:, None, None], 0.0, a), np.where(bad[:, None, None], 0.0, u)
        return _fail(generation_metrics(problem, a, u, ref), bad)
    phys = physics_errors(problem, a, u, ref.scale, ref.u_rms)
    n = ref.normaliser
    a_fin = np.asarray(problem.finalize_inputs(torch.as_tensor(np.asarray(a, np.float64))))
    return {"residual": phys["residual_per_sample"], "residual_rel": relative_residual(problem, a, u),
            "bc": phys["bc_per_sample"], "amplitude_a": amplitude_ratio(a_fin, n.mean_a, n.std_a),
            "amplitude_u": amplitude_ratio(u, n.mean_u, n.std_u), "failed": np.zeros(len(u))}


def floors(ref: ReferenceSets) -> dict:
    """Ground-truth physics of the reference set and the finite-sample MMSE/SMSE floor."""
    gt = summarise(generation_metrics(ref.problem, ref.a_test, ref.u_test, ref))[0]
    gt.pop("failed")
    gt["residual_median"] = float(np.median(physics_errors(ref.problem, ref.a_test, ref.u_test, ref.scale,
                                                           ref.u_rms)["residual_per_sample"]))
    fl = ensemble_floor(ref.u_real, ref.u_test, len(ref.u_test))
    return {**gt, **fl, "samples": len(ref.u_test), "label": "floor (ground truth; real vs real)"}


def summarise(per_sample: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """(mean, std) over samples of each per-sample metric (None where none applies).

    NaN means "does not apply to this sample" (e.g. coverage with no free pixel) and is left out;
    inf marks a failed sample (:func:`failed_samples`) and is kept, so a method cannot improve
    its mean by failing on the hard samples: its mean becomes inf.
    """
    means, stds = {}, {}
    for k, v in per_sample.items():
        v = np.asarray(v, dtype=np.float64)
        ok = ~np.isnan(v)
        means[k] = float(v[ok].mean()) if ok.any() else None
        stds[k] = float(v[ok].std()) if ok.any() and np.isfinite(v[ok]).all() else (None if not ok.any() else
                                                                                     float("inf"))
    return means, stds


def failed_samples(*fields: np.ndarray) -> np.ndarray:
    """(n,) bool: samples whose fields hold a non-finite value (a method's failure, scored as inf)."""
    bad = np.zeros(len(fields[0]), dtype=bool)
    for f in fields:
        bad |= ~np.isfinite(np.asarray(f, dtype=np.float64)).reshape(len(f), -1).all(1)
    return bad


def _fail(per_sample: dict[str, np.ndarray], bad: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of a failed sample set to inf (kept by :func:`summarise`); ``failed`` 0/1 added."""
    out = {k: np.where(bad, np.inf, np.asarray(v, dtype=np.float64)) for k, v in per_sample.items()}
    out["failed"] = bad.astype(np.float64)
    return out


@dataclass
class Scored:
    """A generator's fields (physical units, a as generated, not finalised), per-sample metrics and costs."""

    a: np.ndarray
    u: np.ndarray
    per_sample: dict
    ensemble: dict  # mmse, smse against the reference split
    cost: dict  # nfe, grad_evals, ms_per_sample, batch


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


def _scored(a, u, ref: ReferenceSets, *, nfe: int, grad_evals: int, seconds: float, batch: int) -> Scored:
    ensemble = ensemble_errors(u, ref.u_test) if not failed_samples(a, u).any() else {"mmse": np.inf, "smse": np.inf}
    return Scored(a, u, generation_metrics(ref.problem, a, u, ref), ensemble,
                  {"nfe": nfe, "grad_evals": grad_evals, "ms_per_sample": 1000 * seconds / len(u),
                   "batch": min(batch, len(u))})


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
    return _scored(a, u, ref, nfe=nfe[0], grad_evals=0, seconds=seconds, batch=batch)


def score_student(student: Student, normaliser, ref: ReferenceSets, *, batch: int = 128, seed: int = 1,
                  refine: Callable | None = None, nfe: int = 1, grad_evals: int = 0, on_progress=None) -> Scored:
    """One-step samples (or refined ones, see :func:`piddm.student.sample_student`) scored like the teacher's."""
    n, res = len(ref.u_test), ref.u_test.shape[-1]

    def draw(m, warmup=False):
        return sample_student(student, normaliser, m, res, seed=seed, batch=batch, refine=refine,
                              on_progress=None if warmup else on_progress)

    a, u, seconds = _timed(draw, n, batch)
    return _scored(a, u, ref, nfe=nfe, grad_evals=grad_evals, seconds=seconds, batch=batch)


def score_solve(physics: PhysicsLoss, result, obs, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-sample metrics (n,) of a solve (its a already finalised).

    Always: ``residual`` (normalised, DESIGN rule 3), ``residual_rel`` (relative to the sample's
    own terms), ``bc``, ``amplitude_a`` / ``amplitude_u`` (RMS fluctuation about the training
    mean / the training std, from the model file). With the true field of a channel: ``err_*``
    (relative L2; Darcy a: error rate), the proper score (``crps_*``; Darcy a: ``brier_a`` of the
    member vote), and for ensembles (K > 1) ``coverage_*`` of ±2 std over unobserved pixels.
    """
    problem, n = physics.problem, physics.normaliser
    bad = failed_samples(result.a, result.u)
    if bad.any():  # score the finite samples; the failed ones become inf below
        result = _finite_copy(result, bad)
    phys = physics_errors(problem, result.a, result.u, physics.scale, physics.u_rms)
    out = {"residual": phys["residual_per_sample"], "residual_rel": relative_residual(problem, result.a, result.u),
           "bc": phys["bc_per_sample"], "amplitude_a": amplitude_ratio(result.a, n.mean_a, n.std_a),
           "amplitude_u": amplitude_ratio(result.u, n.mean_u, n.std_u)}
    size = len(result.u)
    for c, ch in enumerate(("a", "u")):
        true = truth.get(ch)
        if true is None:
            continue
        pred, std = (result.a, result.a_std) if ch == "a" else (result.u, result.u_std)
        members = result.a_members if ch == "a" else result.u_members
        free = ~obs.mask[:, c]
        out[f"err_{ch}"] = field_error(problem, ch, pred, true)
        if ch == "a" and discrete_inputs(problem):
            true_fin = np.asarray(problem.finalize_inputs(torch.as_tensor(true))).astype(np.float64)
            levels = (problem.params["a_low"], problem.params["a_high"])
            out["brier_a"] = brier_vote(members, true_fin, free, levels)
        else:
            out[f"crps_{ch}"] = crps_ensemble(members, true, free)
        if result.members > 1 and not (ch == "a" and discrete_inputs(problem)):  # Brier scores the two-valued a
            out[f"coverage_{ch}"] = coverage(pred, std, true, free)
        else:
            out[f"coverage_{ch}"] = np.full(size, np.nan)
    return _fail(out, bad)


def _finite_copy(result, bad: np.ndarray):
    """The result with the fields of failed samples zeroed (their scores are replaced by inf afterwards)."""
    import dataclasses

    fields = {k: np.where(bad.reshape(-1, *([1] * (v.ndim - 1))), 0.0, v)
              for k, v in dataclasses.asdict(result).items() if isinstance(v, np.ndarray) and v.shape[:1] == bad.shape
              and k not in ("loss",)}
    return dataclasses.replace(result, **fields)


def coverage_note(members: int | None) -> str | None:
    """The nominal value printed beside a coverage: what K exact posterior samples would give, or (``members``
    None: the std is the posterior's own) the Gaussian P(|Z| <= 2) = 0.954."""
    nominal = 0.9544997 if members is None else nominal_coverage(members)
    return None if not np.isfinite(nominal) else f"nominal {nominal:.3f}"


def flat_row(label: str, scored: Scored) -> dict:
    """A scored generator as one flat dict (means over samples, costs, MMSE/SMSE): a benchmark table row."""
    per_sample = {k: v for k, v in scored.per_sample.items() if k != "failed"}
    means, _ = summarise(per_sample)
    return {"method": label, **scored.cost, **means, "residual_median": float(np.nanmedian(per_sample["residual"])),
            **scored.ensemble, "failed": int(np.sum(scored.per_sample["failed"]))}


def teacher_row(teacher: LoadedModel, ref: ReferenceSets, *, steps: int = 18, sampler: str = "heun", **kwargs) -> dict:
    """:func:`score_teacher` as a flat row labelled ``teacher Heun-18`` (or the sampler and steps asked)."""
    return flat_row(f"teacher {sampler.capitalize()}-{steps}", score_teacher(teacher, ref, steps=steps,
                                                                              sampler=sampler, **kwargs))


def evaluate_fields(label: str, a, u, ref: ReferenceSets, *, nfe: int, grad_evals: int = 0, seconds: float,
                    batch: int) -> dict:
    """Generated physical fields (a raw or finalised) scored as a flat row, with the given costs."""
    return flat_row(label, _scored(a, u, ref, nfe=nfe, grad_evals=grad_evals, seconds=seconds, batch=batch))
