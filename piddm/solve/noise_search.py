"""Solving from partial observations by optimising the one-step student's input noise.

For each sample, K starts eps_k (one batch) minimise

    L(eps) = mean over observed points of ((G(eps) - x_obs) / s)^2 + lam * R(x_mix),
    x_mix  = x_obs on observed points, G(eps) elsewhere,

with s the observation noise std (sigma_obs > 0) or, for noise-free observations, the
channel's data scale (the normalised units the network works in). Noise-free observations are
imposed exactly (x_mix keeps them); noisy ones enter only through the misfit (x_mix = G(eps)).
R is the physics term of the student's own training loss. eps = sqrt(d) z / ||z|| keeps every
start on the Gaussian shell by construction: the parameterisation works for Adam and L-BFGS
alike (a projection after each step would corrupt L-BFGS's curvature pairs).

With ``polish`` > 0, each member's fields are then refined directly (no network) by L-BFGS on
the same objective, preconditioned by a smoothing inverse Laplacian: the prior picks the basin,
the polish makes the member satisfy the PDE as far as the observations allow.

The K finished members give the ensemble mean (the prediction), the per-pixel std (the
uncertainty) and the best member (lowest final loss). Darcy's a is thresholded per member; the
prediction is then the majority level and the std that of the two-valued members.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from pde_bench.conventions import InputError

from ..noise import standard_noise
from .objective import (
    OPTIMIZERS,
    fields_objective,
    misfit,
    mix,
    optimise,
    optimise_fields,
    preconditioned,
)
from .observation import Observation
from ..physics import PhysicsLoss

__all__ = ["OPTIMIZERS", "SolveResult", "SolveSettings", "ensemble", "impose", "misfit", "mix",
           "observation_tensors", "optimise", "pad_history", "solve_noise"]

def to_shell(eps: torch.Tensor) -> torch.Tensor:
    """Rescale each sample of eps (B, ...) to norm sqrt(numel per sample)."""
    flat = eps.flatten(1)
    radius = flat.shape[1] ** 0.5
    return (flat * (radius / flat.norm(dim=1, keepdim=True).clamp_min(1e-12))).view_as(eps)



@dataclass
class SolveSettings:
    """What a solve does; the defaults are tuned on the validation split (benchmarks/solve_tuning.py)."""

    starts: int = 4
    iters: int = 100
    lam: float = 0.1
    lr: float = 0.05
    optimizer: str = "adam"
    polish: int = 0  # L-BFGS iterations on each member's fields after the noise search (0: none)
    seed: int = 0
    batch: int = 16  # samples per optimisation batch (each with ``starts`` members)

    def check(self) -> None:
        if self.starts < 1 or self.iters < 0 or self.batch < 1 or self.polish < 0:
            raise InputError(f"--starts and --batch must be >= 1, --iters and --polish >= 0, got {self.starts}, "
                             f"{self.batch}, {self.iters}, {self.polish}")
        if not self.lam >= 0 or not self.lr > 0:
            raise InputError(f"--lam must be >= 0 and --lr > 0, got {self.lam}, {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SolveResult:
    """Physical fields (n, N, N): prediction (ensemble mean), std, best member; costs per sample.

    ``a`` and ``a_best`` are finalised (Darcy: thresholded), as every report needs them.
    """

    a: np.ndarray
    u: np.ndarray
    a_std: np.ndarray
    u_std: np.ndarray
    a_best: np.ndarray
    u_best: np.ndarray
    loss: np.ndarray  # (n, evaluations + 1): mean over the starts of each sample's loss at each evaluation
    nfe: int
    grad_evals: int
    seconds: float  # wall time of the whole solve
    extra: dict = field(default_factory=dict)

    @property
    def seconds_per_sample(self) -> float:
        return self.seconds / max(len(self.u), 1)


def observation_tensors(obs: Observation, normaliser, device, dtype=torch.float32):
    """(mask, normalised values, per-channel misfit scale) as tensors (n, 2, N, N) / (2, 1, 1)."""
    mask = torch.as_tensor(obs.mask, device=device)
    vals = torch.as_tensor(obs.values, dtype=torch.float64)
    x_obs = normaliser.normalise(vals[:, 0], vals[:, 1]).to(device=device, dtype=dtype)
    sd = normaliser.sigma_data
    stds = (normaliser.std_a, normaliser.std_u)
    scale = [sd * (n / s) if n > 0 else sd for n, s in zip(obs.noise, stds)]
    return mask, x_obs, torch.tensor(scale, device=device, dtype=dtype)[:, None, None]


def impose(field: np.ndarray, obs: Observation, channel: int, rows: slice) -> np.ndarray:
    """Noise-free observed values of a channel written back exactly (float64) into physical fields.

    ``field`` is (b, N, N) or members (b, K, N, N) for samples ``rows`` of ``obs``; the network
    works in float32, so the mixed field holds the observations only to float32 round-off.
    """
    if obs.noise[channel] > 0:
        return field
    mask, vals = obs.mask[rows, channel], obs.values[rows, channel]
    if field.ndim == 4:
        mask, vals = mask[:, None], vals[:, None]
    return np.where(mask, vals, field)


def ensemble(problem, a: np.ndarray, u: np.ndarray, loss: np.ndarray) -> dict[str, np.ndarray]:
    """Members (n, K, N, N) -> mean / std / best (n, N, N); a finalised per member (Darcy: thresholded).

    The prediction of a finalised input is finalised again: for Darcy the majority level.
    """
    a = np.asarray(problem.finalize_inputs(torch.as_tensor(a))).astype(np.float64)
    best = np.argmin(loss, axis=1)
    idx = np.arange(len(u))
    a_mean = np.asarray(problem.finalize_inputs(torch.as_tensor(a.mean(1)))).astype(np.float64)
    return {"a": a_mean, "u": u.mean(1), "a_std": a.std(1), "u_std": u.std(1),
            "a_best": a[idx, best], "u_best": u[idx, best]}


def solve_noise(student: Callable[[torch.Tensor], torch.Tensor], physics: PhysicsLoss, obs: Observation,
                settings: SolveSettings, *, sample_ids: np.ndarray | None = None, device=None,
                on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Optimise K starts of the student's noise per sample against ``obs``; see the module docstring.

    Sample i's starts use noise seeds (settings.seed, K * sample_ids[i] + k), so a sample's
    answer does not depend on the batch it was solved in. ``student`` maps eps (B, 2, N, N) to
    a normalised field; ``physics`` gives R per sample.
    """
    settings.check()
    n, res, K = len(obs), obs.resolution, settings.starts
    ids = np.arange(n) if sample_ids is None else np.asarray(sample_ids)
    device = device or torch.device("cpu")
    normaliser = physics.normaliser
    mask_all, xobs_all, scale = observation_tensors(obs, normaliser, device)
    exact = torch.tensor([s == 0 for s in obs.noise], device=device)
    a_m, u_m, losses, hist = [], [], [], []
    nfe = grads = polish_evals = 0
    t0 = time.perf_counter()
    for s in range(0, n, settings.batch):
        b = min(settings.batch, n - s)
        eps0 = torch.cat([standard_noise(K, (2, res, res), seed=settings.seed, start=K * int(i)) for i in ids[s:s + b]])
        mask = mask_all[s:s + b].repeat_interleave(K, 0)
        x_obs = xobs_all[s:s + b].repeat_interleave(K, 0)
        z = eps0.to(device).requires_grad_(True)

        def member_loss(z=z, mask=mask, x_obs=x_obs):
            x = student(to_shell(z))
            phys = physics(mix(x, mask, x_obs, exact).double()).float()
            return misfit(x, mask, x_obs, scale) + settings.lam * phys, x

        history = []  # the loss of every evaluation (Adam: one per step)

        def total(member_loss=member_loss, history=history, b=b):
            loss, _ = member_loss()
            history.append(loss.detach().view(b, K).mean(1).cpu().numpy())
            return loss.sum()

        calls = optimise(z, total, optimizer=settings.optimizer, iters=settings.iters, lr=settings.lr)
        with torch.no_grad():
            final, x = member_loss()
        if settings.polish:
            x, final, polished = _polish(x, physics, mask, x_obs, exact, scale, settings)
            history += [h.reshape(b, K).mean(1) for h in polished]
            polish_evals += b * len(polished)
        with torch.no_grad():
            a, u = normaliser.to_physical(mix(x, mask, x_obs, exact).double().cpu())
        history.append(final.view(b, K).mean(1).cpu().numpy())
        nfe += b * (calls + 1)
        grads += b * calls
        a_m.append(impose(a.view(b, K, res, res).numpy(), obs, 0, slice(s, s + b)))
        u_m.append(impose(u.view(b, K, res, res).numpy(), obs, 1, slice(s, s + b)))
        losses.append(final.view(b, K).cpu().numpy())
        hist.append(np.stack(history, axis=1))
        if on_progress:
            on_progress(b)
    seconds = time.perf_counter() - t0
    ens = ensemble(physics.problem, np.concatenate(a_m), np.concatenate(u_m), np.concatenate(losses))
    return SolveResult(**ens, loss=pad_history(hist), nfe=round(K * nfe / n), grad_evals=round(K * grads / n),
                       seconds=seconds,
                       extra={"final_loss": np.concatenate(losses), "polish_evaluations": round(polish_evals / n)})


def _polish(x, physics, mask, x_obs, exact, scale, settings: SolveSettings):
    """L-BFGS on each member's fields (network units, float64) from the student's output: the same misfit
    and lam * R, no network. The learned prior chose the basin; this makes the member satisfy the PDE
    as far as the observations allow. The update is preconditioned (x = x0 + P v, P a smoothing
    inverse Laplacian) so smooth errors converge as fast as rough ones. Returns (fields, final
    per-member loss, per-evaluation losses)."""
    loss_of = fields_objective(physics, mask, x_obs.double(), exact, scale.double(),
                               lam=settings.lam)
    fields_at = preconditioned(x.detach().double())
    v = torch.zeros_like(x, dtype=torch.float64, requires_grad=True)
    history: list = []
    optimise_fields(v, lambda v: loss_of(fields_at(v)), optimizer="lbfgs", iters=settings.polish, lr=1.0,
                    history=history)
    with torch.no_grad():
        x = fields_at(v)
        final = loss_of(x).float()
    return x, final, history


def pad_history(hist: list[np.ndarray]) -> np.ndarray:
    """Stack per-batch histories (b, T_j) into (n, max T), padding with the last value (L-BFGS may stop early)."""
    T = max(h.shape[1] for h in hist)
    return np.concatenate([np.pad(h, ((0, 0), (0, T - h.shape[1])), mode="edge") for h in hist])


@dataclass
class RefineResult:
    x: torch.Tensor  # final normalised output G(eps)
    eps: torch.Tensor
    nfe: int  # network forward calls per sample
    grad_evals: int  # backward passes per sample
    history: list


def refine_noise(generator: Callable[[torch.Tensor], torch.Tensor], eps: torch.Tensor,
                 objective: Callable[[torch.Tensor], torch.Tensor], *, steps: int = 5, lr: float = 0.05,
                 ) -> RefineResult:
    """Adam on eps minimising ``objective(generator(eps)).sum()``, eps projected to the shell.

    ``objective`` returns a per-sample loss (B,); samples are independent, so the sum gives
    each its own gradient. Returns the final output (one more forward call) and the costs.
    """
    eps = to_shell(eps.detach().clone()).requires_grad_(True)
    opt = torch.optim.Adam([eps], lr=lr)
    history = []
    for _ in range(steps):
        loss = objective(generator(eps))
        history.append(float(loss.detach().mean()))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            eps.copy_(to_shell(eps))
    with torch.no_grad():
        x = generator(eps)
        history.append(float(objective(x).mean()))
    return RefineResult(x.detach(), eps.detach(), nfe=steps + 1, grad_evals=steps, history=history)
