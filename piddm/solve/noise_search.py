"""PIDDM's solve: optimise the one-step student's input noise against observations and the physics.

For each sample, K starts eps_k minimise

    L(eps) = mean over observed points of ((G(eps) - x_obs) / s)^2 + lam * R(x_mix),
    x_mix  = x_obs on observed points, G(eps) elsewhere,

with s the observation noise std (sigma_obs > 0) or, for noise-free observations, the
channel's data scale (the normalised units the network works in). Noise-free observations are
imposed exactly (x_mix keeps them); noisy ones enter only through the misfit (x_mix = G(eps)).
R is the physics term of the student's own training loss. eps = sqrt(d) z / ||z|| keeps every
start on the Gaussian shell by construction: the parameterisation works for Adam and L-BFGS
alike (a projection after each step would corrupt L-BFGS's curvature pairs).

With no observations this is PIDDM-ref: a few steps on eps that lower R(G(eps)) alone.

With ``polish`` > 0, each member's fields are then refined directly (no network) by L-BFGS on
the same objective, preconditioned by a smoothing inverse Laplacian: the prior picks the basin,
the polish makes the member satisfy the PDE as far as the observations allow.

Every sample is optimised on its own: Adam's update is per coordinate, so the batched sum of
per-sample losses gives each sample its own steps; L-BFGS (noise search or polish) runs once
per sample, with its own line search and curvature memory. The K finished members give the
ensemble mean (the prediction), the per-pixel std and the best member (lowest final loss).
Darcy's a is thresholded per member; the prediction is then the majority level.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError

from ..noise import STREAMS, standard_noise
from .method import Method, SolveContext
from .objective import (
    OPTIMIZERS,
    fields_objective,
    impose,
    misfit,
    mix,
    observation_tensors,
    optimise,
    optimise_each,
    preconditioned,
)
from .observation import Observation
from .result import SolveResult, ensemble, pad_history

__all__ = ["METHOD", "POLISH_FIELDS", "SolveSettings", "solve_noise", "to_shell"]

# Channel masks of the polish's update, (a, u): with "u" the polish keeps each member's a as the noise search
# left it. On Darcy inverse at 30 % observed the free polish drove a toward its low level while fitting the
# many exact u values (benchmarks/results/darcy_inverse_polish_val/).
POLISH_FIELDS = {"au": (1.0, 1.0), "u": (0.0, 1.0)}


def to_shell(eps: torch.Tensor) -> torch.Tensor:
    """Rescale each sample of eps (B, ...) to norm sqrt(numel per sample)."""
    flat = eps.flatten(1)
    radius = flat.shape[1] ** 0.5
    return (flat * (radius / flat.norm(dim=1, keepdim=True).clamp_min(1e-12))).view_as(eps)


@dataclass
class SolveSettings:
    """What a noise search does; tuned defaults per (problem, task) are in :mod:`piddm.defaults`."""

    starts: int = 4
    iters: int = 100
    lam: float = 0.1
    lr: float = 0.05
    optimizer: str = "adam"
    polish: int = 0  # L-BFGS iterations on each member's fields after the noise search (0: none)
    polish_fields: str = "au"  # the channels the polish moves: "au" both, "u" u only (a kept as the search left it)
    seed: int = 0
    batch: int = 16  # samples per network batch (each with ``starts`` members); never changes an answer
    stream: str = "solve"  # noise stream of the starts: start k of sample i is index starts * i + k

    def check(self) -> None:
        if self.starts < 1 or self.batch < 1:
            raise InputError(f"noise search: starts and batch must be >= 1, got {self.starts}, {self.batch}")
        if self.iters < 0 or self.polish < 0:
            raise InputError(f"noise search: iters and polish must be >= 0, got {self.iters}, {self.polish}")
        if self.polish_fields not in POLISH_FIELDS:
            raise InputError(f"noise search: polish_fields must be one of {', '.join(POLISH_FIELDS)}, got "
                             f"{self.polish_fields!r}")
        if not (math.isfinite(self.lam) and self.lam >= 0):
            raise InputError(f"noise search: lam must be finite and >= 0, got {self.lam}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"noise search: lr must be finite and > 0, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"noise search: optimizer must be one of {', '.join(OPTIMIZERS)}, got "
                             f"{self.optimizer!r}")
        if self.stream not in STREAMS or self.stream == "pairs":  # the pairs' noise would replay training inputs
            raise InputError(f"noise search: stream must be one of {', '.join(k for k in STREAMS if k != 'pairs')}, "
                             f"got {self.stream!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def solve_noise(context: SolveContext, obs: Observation, settings: SolveSettings,
                sample_ids: np.ndarray | None = None,
                on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Optimise K starts of the student's noise per sample against ``obs``; see the module docstring.

    Sample i's starts are noise (settings.stream, settings.seed, K * sample_ids[i] + k), so a
    sample's answer depends neither on its batch nor on which other samples are solved.
    """
    settings.check()
    student, physics, device = context.student, context.physics, context.device
    if student is None:
        raise InputError("the noise search needs a student")
    n, res, K = len(obs), obs.resolution, settings.starts
    ids = np.arange(n) if sample_ids is None else np.asarray(sample_ids)
    normaliser = physics.normaliser
    mask_all, xobs_all, scale = observation_tensors(obs, normaliser, device)
    exact = torch.tensor([s == 0 for s in obs.noise], device=device)
    a_m, u_m, losses, hist = [], [], [], []
    nfe = grads = polish_evals = 0
    t0 = time.perf_counter()
    for s in range(0, n, settings.batch):
        b = min(settings.batch, n - s)
        eps0 = torch.cat([standard_noise(K, (2, res, res), seed=settings.seed, start=K * int(i),
                                         stream=settings.stream) for i in ids[s:s + b]]).to(device)
        mask = mask_all[s:s + b].repeat_interleave(K, 0)
        x_obs = xobs_all[s:s + b].repeat_interleave(K, 0)

        def member_loss(z, rows=slice(None), mask=mask, x_obs=x_obs):
            x = student(to_shell(z))
            m, xo = mask[rows], x_obs[rows]
            phys = physics(mix(x, m, xo, exact).double()).float()
            return misfit(x, m, xo, scale) + settings.lam * phys, x

        groups = [slice(j * K, (j + 1) * K) for j in range(b)]
        if settings.optimizer == "adam":  # per-coordinate steps: the batched sum is every sample on its own
            z = eps0.clone().requires_grad_(True)
            history = []

            def total(z=z, history=history):
                value, _ = member_loss(z)
                history.append(value.detach().cpu().numpy())
                return value.sum()

            calls = [optimise(z, total, optimizer="adam", iters=settings.iters, lr=settings.lr)] * b
            z_opt = z.detach()
            histories = [np.stack(history)[:, g] if history else np.zeros((0, K)) for g in groups]
        else:
            def make(rows, eps0=eps0, member_loss=member_loss):
                leaf = eps0[rows].clone().requires_grad_(True)
                return leaf, lambda z, rows=rows: member_loss(z, rows)[0]

            params, histories, calls = optimise_each(groups, make, optimizer="lbfgs", iters=settings.iters,
                                                     lr=settings.lr)
            z_opt = torch.cat(params)
        with torch.no_grad():
            final, x = member_loss(z_opt)
        if settings.polish:
            x, final, polished, evals = _polish(x, physics, mask, x_obs, exact, scale, settings, groups)
            histories = [np.concatenate([h, p]) for h, p in zip(histories, polished)]
            polish_evals += sum(evals)
        with torch.no_grad():
            a, u = normaliser.to_physical(mix(x, mask, x_obs, exact).double().cpu())
        final = final.view(b, K).cpu().numpy()
        hist += [np.concatenate([h.mean(1), f.mean(keepdims=True)]) for h, f in zip(histories, final)]
        nfe += sum(c + 1 for c in calls)
        grads += sum(calls)
        a_m.append(impose(a.view(b, K, res, res).numpy(), obs, 0, slice(s, s + b)))
        u_m.append(impose(u.view(b, K, res, res).numpy(), obs, 1, slice(s, s + b)))
        losses.append(final)
        if on_progress:
            on_progress(b)
    seconds = time.perf_counter() - t0
    ens = ensemble(physics.problem, np.concatenate(a_m), np.concatenate(u_m), np.concatenate(losses))
    return SolveResult(**ens, loss=pad_history(hist), nfe=round(K * nfe / n), grad_evals=round(K * grads / n),
                       seconds=seconds,
                       extra={"final_loss": np.concatenate(losses), "polish_evaluations": round(polish_evals / n)})


def _polish(x, physics, mask, x_obs, exact, scale, settings: SolveSettings, groups: list[slice]):
    """L-BFGS on each sample's member fields (network units, float64) from the student's output: the same
    misfit and lam * R, no network. The update is preconditioned (x = x0 + P v, P a smoothing inverse
    Laplacian) so smooth errors converge as fast as rough ones. One L-BFGS run per sample. Returns
    (fields, final per-member loss, per-sample histories (evals, K), evaluations per sample)."""
    x0 = x.detach().double()
    x_obs, scale = x_obs.double(), scale.double()
    moves = torch.tensor(POLISH_FIELDS[settings.polish_fields], dtype=x0.dtype, device=x0.device).view(1, 2, 1, 1)

    def make(rows):
        loss_of = fields_objective(physics, mask[rows], x_obs[rows], exact, scale, lam=settings.lam)
        fields_at = preconditioned(x0[rows])
        leaf = torch.zeros_like(x0[rows], requires_grad=True)
        return leaf, lambda v: loss_of(fields_at(v * moves))

    params, histories, calls = optimise_each(groups, make, optimizer="lbfgs", iters=settings.polish, lr=1.0)
    with torch.no_grad():
        out, final = [], []
        for rows, v in zip(groups, params):
            xr = preconditioned(x0[rows])(v * moves)
            out.append(xr)
            final.append(fields_objective(physics, mask[rows], x_obs[rows], exact, scale, lam=settings.lam)(xr))
    return torch.cat(out), torch.cat(final).float(), histories, calls


def _describe(s: SolveSettings) -> str:
    return (f"K = {s.starts} starts, {s.iters} {s.optimizer} steps" + (f" (lr {s.lr:g})" if s.optimizer == "adam" else "")
            + f", λ_infer = {s.lam:g}, noise on the Gaussian shell"
            + (f"; then up to {s.polish} L-BFGS iterations on each sample's member fields"
               + (" (u only, a kept)" if s.polish_fields == "u" else "") if s.polish else ""))


METHOD = Method(name="piddm", label="PIDDM", solve=solve_noise, settings=SolveSettings,
                describe=_describe, role="generative")
# PIDDM at a time budget (piddm.defaults.PRESETS says which and why): the speed/accuracy point of a comparison
METHOD_FAST = Method(name="piddm-fast", label="PIDDM-fast", solve=solve_noise, settings=SolveSettings,
                     describe=_describe, role="generative", variant_of="piddm")
