"""The physics-only baseline: optimise the fields themselves, no network, no learned prior.

    L(x) = mean over observed points of ((x - x_obs) / s)^2 + lam * R(x_mix) + mu * Reg(x_mix)

over x = (a, u) in the network's normalised units, started from the observations on observed
points and the data mean elsewhere, with the same misfit, mixing and physics term R as the
noise search (:mod:`piddm.solve.objective`). Reg is a smoothness prior on both channels (only
unobserved points are free when observations are noise-free): ``tikhonov`` = mean squared
forward difference, ``tv`` = mean of a smoothed |grad x|. It answers whether the learned prior
earns its keep: with the same observations, physics and time, how far do physics plus
smoothness get? Every sample is optimised on its own, with its own time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError

from .method import Method, SolveContext
from .objective import OPTIMIZERS, fields_objective, impose, mix, observation_tensors, optimise_each, preconditioned
from .observation import Observation
from .result import SolveResult, pad_history

__all__ = ["METHOD", "REGULARISERS", "PhysicsSettings", "solve_physics_only"]

REGULARISERS = ("tikhonov", "tv")


@dataclass
class PhysicsSettings:
    """Baseline settings; tuned defaults per (problem, task) are in :mod:`piddm.defaults`."""

    iters: int = 20000  # L-BFGS iterations (Adam: steps); a cap: convergence or the time budget stops it first
    lam: float = 0.1
    mu: float = 1.0
    regulariser: str = "tikhonov"
    lr: float = 0.02  # Adam only
    optimizer: str = "lbfgs"
    precondition: bool = False  # optimise x = x0 + P v, P a smoothing inverse Laplacian (same minimisers)
    budget_s: float | None = None  # wall-time cap per sample (a comparison gives it the first method's time)

    def check(self) -> None:
        if self.iters < 0:
            raise InputError(f"physics-only: iters must be >= 0, got {self.iters}")
        for name in ("lam", "mu"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InputError(f"physics-only: {name} must be finite and >= 0, got {v}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"physics-only: lr must be finite and > 0, got {self.lr}")
        if self.budget_s is not None and not (math.isfinite(self.budget_s) and self.budget_s > 0):
            raise InputError(f"physics-only: budget_s must be a finite number of seconds > 0, got {self.budget_s}")
        if self.regulariser not in REGULARISERS:
            raise InputError(f"physics-only: regulariser must be one of {', '.join(REGULARISERS)}, got "
                             f"{self.regulariser!r}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"physics-only: optimizer must be one of {', '.join(OPTIMIZERS)}, got "
                             f"{self.optimizer!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def solve_physics_only(context: SolveContext, obs: Observation, settings: PhysicsSettings,
                       sample_ids: np.ndarray | None = None,
                       on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Data-space optimisation of every sample on its own (one member each: no ensemble, std 0).

    With ``settings.precondition`` the fields are x0 + P v, optimised over v (P as in
    :func:`piddm.solve.objective.inverse_laplacian_smoother`): the same minimisers, reached faster.
    """
    settings.check()
    physics, device = context.physics, context.device
    normaliser = physics.normaliser
    mask, x_obs, scale = observation_tensors(obs, normaliser, device, dtype=torch.float64)
    exact = torch.tensor([s == 0 for s in obs.noise], device=device)
    x0 = torch.where(mask, x_obs, torch.zeros_like(x_obs))

    def objective(rows):
        return fields_objective(physics, mask[rows], x_obs[rows], exact, scale, lam=settings.lam, mu=settings.mu,
                                regulariser=settings.regulariser)

    def fields_at(rows):
        return preconditioned(x0[rows]) if settings.precondition else (lambda v: v)

    def make(rows):
        leaf = (torch.zeros_like(x0[rows]) if settings.precondition else x0[rows].clone()).requires_grad_(True)
        loss, at = objective(rows), fields_at(rows)
        return leaf, lambda v: loss(at(v))

    t0 = time.perf_counter()
    outs, hist, losses, evaluations = [], [], [], []
    for i in range(len(obs)):
        rows = slice(i, i + 1)
        params, histories, calls = optimise_each([rows], make, optimizer=settings.optimizer, iters=settings.iters,
                                                 lr=settings.lr, budget_s=settings.budget_s)
        with torch.no_grad():
            x = fields_at(rows)(params[0])
            final = objective(rows)(x)
            outs.append(mix(x, mask[rows], x_obs[rows], exact).cpu())
        hist.append(np.concatenate([histories[0][:, 0], final.cpu().numpy()]))
        losses.append(final.cpu().numpy())
        evaluations.append(calls[0])
        if on_progress:
            on_progress(1)
    seconds = time.perf_counter() - t0
    a, u = normaliser.to_physical(torch.cat(outs))
    every = slice(0, len(obs))
    a, u = impose(a.numpy(), obs, 0, every), impose(u.numpy(), obs, 1, every)
    return SolveResult.single(physics.problem, a, u, loss=pad_history(hist), nfe=0, grad_evals=0, seconds=seconds,
                              extra={"final_loss": np.concatenate(losses), "evaluations": evaluations})


def _describe(s: PhysicsSettings) -> str:
    return (f"fields optimised directly, {s.optimizer}, λ = {s.lam:g}, {s.regulariser} weight μ = {s.mu:g}"
            + (", preconditioned" if s.precondition else "") + f", at most {s.iters} steps"
            + (f" and {s.budget_s:.2f} s per sample" if s.budget_s else ""))


METHOD = Method(name="physics", label="physics-only", solve=solve_physics_only, settings=PhysicsSettings,
                time_matched=True, describe=_describe)
