"""The physics-only baseline: optimise the fields themselves, no network, no learned prior.

    L(x) = mean over observed points of ((x - x_obs) / s)^2 + lam * R(x_mix) + mu * Reg(x)

over x = (a, u) in the network's normalised units, started from the observations on observed
points and the data mean elsewhere, with the same misfit, mixing and physics term R as
:func:`piddm.solve.solve_noise`. Reg is a smoothness prior on both channels (only unobserved
points are free when observations are noise-free): ``tikhonov`` = mean squared forward
difference, ``tv`` = mean of a smoothed |grad x|. It answers whether the learned prior earns its
keep: with the same observations, physics and time, how far do physics plus smoothness get?
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError

from .objective import (
    OPTIMIZERS,
    fields_objective,
    mix,
    optimise_fields,
    preconditioned,
    smoothness,
)
from .observation import Observation
from ..physics import PhysicsLoss
from .noise_search import SolveResult, impose, observation_tensors, pad_history

__all__ = ["REGULARISERS", "PhysicsSettings", "smoothness", "solve_physics_only"]

REGULARISERS = ("tikhonov", "tv")


@dataclass
class PhysicsSettings:
    """Baseline settings; defaults tuned on the validation split (benchmarks/solve_tuning.py)."""

    iters: int = 20000  # L-BFGS iterations (Adam: steps); a cap: convergence or the time budget stops it first
    lam: float = 0.1
    mu: float = 1.0
    regulariser: str = "tikhonov"
    lr: float = 0.02  # Adam only
    optimizer: str = "lbfgs"
    precondition: bool = False  # optimise x = x0 + P v, P a smoothing inverse Laplacian (same minimisers)
    budget_s: float | None = None  # wall-time cap per sample (the same budget as PIDDM's solve)
    batch: int = 100

    def check(self) -> None:
        if self.iters < 0 or self.batch < 1 or not self.lam >= 0 or not self.mu >= 0 or not self.lr > 0:
            raise InputError(f"physics-only settings out of range: {asdict(self)}")
        if self.regulariser not in REGULARISERS:
            raise InputError(f"--regulariser must be one of {', '.join(REGULARISERS)}, got {self.regulariser!r}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def solve_physics_only(physics: PhysicsLoss, obs: Observation, settings: PhysicsSettings, *, device=None,
                       on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Data-space optimisation of every sample (one member each: no ensemble, std 0).

    With ``settings.precondition`` the fields are x0 + P v, optimised over v (P as in
    :func:`piddm.solve.objective.inverse_laplacian_smoother`): the same minimisers, reached faster.
    """
    settings.check()
    device = device or torch.device("cpu")
    n = len(obs)
    normaliser = physics.normaliser
    mask_all, xobs_all, scale = observation_tensors(obs, normaliser, device, dtype=torch.float64)
    exact = torch.tensor([s == 0 for s in obs.noise], device=device)
    a_out, u_out, hist, losses = [], [], [], []
    evaluations = []
    t0 = time.perf_counter()
    for s in range(0, n, settings.batch):
        b = min(settings.batch, n - s)
        mask, x_obs = mask_all[s:s + b], xobs_all[s:s + b]
        x0 = torch.where(mask, x_obs, torch.zeros_like(x_obs))
        loss_of = fields_objective(physics, mask, x_obs, exact, scale, lam=settings.lam, mu=settings.mu,
                                   regulariser=settings.regulariser)
        fields_at = preconditioned(x0) if settings.precondition else (lambda v: v)
        v = (torch.zeros_like(x0) if settings.precondition else x0.clone()).requires_grad_(True)
        history = []  # the loss of every evaluation (Adam: one per step)
        deadline = None if settings.budget_s is None else time.perf_counter() + settings.budget_s * b
        calls = optimise_fields(v, lambda v, at=fields_at, loss=loss_of: loss(at(v)), optimizer=settings.optimizer,
                                iters=settings.iters, lr=settings.lr, deadline=deadline, history=history)
        with torch.no_grad():
            x = fields_at(v)
            final = loss_of(x)
            a, u = normaliser.to_physical(mix(x, mask, x_obs, exact).cpu())
        history.append(final.cpu().numpy())
        hist.append(np.stack(history, axis=1))
        losses.append(final.cpu().numpy())
        evaluations.append(calls)
        a = impose(a.numpy(), obs, 0, slice(s, s + b))
        a_out.append(np.asarray(physics.problem.finalize_inputs(torch.as_tensor(a))).astype(np.float64))
        u_out.append(impose(u.numpy(), obs, 1, slice(s, s + b)))
        if on_progress:
            on_progress(b)
    seconds = time.perf_counter() - t0
    a, u = np.concatenate(a_out), np.concatenate(u_out)
    return SolveResult(a=a, u=u, a_std=np.zeros_like(a), u_std=np.zeros_like(u), a_best=a, u_best=u,
                       loss=pad_history(hist),
                       nfe=0, grad_evals=0, seconds=seconds,
                       extra={"final_loss": np.concatenate(losses), "evaluations": evaluations})
