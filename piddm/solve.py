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

from .noise import standard_noise
from .observation import Observation
from .physics_loss import PhysicsLoss
from .refine import to_shell

__all__ = ["OPTIMIZERS", "SolveResult", "SolveSettings", "ensemble", "impose", "observation_tensors", "optimise",
           "pad_history", "solve_noise"]

OPTIMIZERS = ("adam", "lbfgs")


@dataclass
class SolveSettings:
    """What a solve does; the defaults are tuned on the validation split (benchmarks/solve_tuning.py)."""

    starts: int = 4
    iters: int = 100
    lam: float = 0.1
    lr: float = 0.05
    optimizer: str = "adam"
    seed: int = 0
    batch: int = 16  # samples per optimisation batch (each with ``starts`` members)

    def check(self) -> None:
        if self.starts < 1 or self.iters < 0 or self.batch < 1:
            raise InputError(f"--starts and --batch must be >= 1 and --iters >= 0, got {self.starts}, "
                             f"{self.batch}, {self.iters}")
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


def misfit(x: torch.Tensor, mask: torch.Tensor, x_obs: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean over each sample's observed points of ((x - x_obs) / s)^2; 0 for a sample with none."""
    sq = torch.where(mask, ((x - x_obs) / scale) ** 2, torch.zeros_like(x))
    count = mask.flatten(1).sum(1).clamp_min(1)
    return sq.flatten(1).sum(1) / count


def mix(x: torch.Tensor, mask: torch.Tensor, x_obs: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """x_obs on observed points of the channels imposed exactly (``exact`` (2,) bool), x elsewhere."""
    keep = mask & exact[:, None, None]
    return torch.where(keep, x_obs, x)


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


class _OutOfTime(Exception):
    pass


def optimise(params: torch.Tensor, total: Callable[[], torch.Tensor], *, optimizer: str, iters: int, lr: float,
             deadline: float | None = None) -> int:
    """Minimise ``total()`` over ``params`` in place; returns the number of loss evaluations.

    Adam takes ``iters`` steps of size ``lr`` (one evaluation each). L-BFGS runs as one call of
    up to ``iters`` iterations with a strong-Wolfe line search and unit step (a few evaluations
    per iteration; it stops early once converged): called one iteration at a time it loses its
    line-search state between calls and stalls. ``deadline`` (a ``time.perf_counter()`` value)
    stops either optimiser at the first evaluation after it, leaving ``params`` at the best
    point evaluated so far.
    """
    calls = [0]
    best = [float("inf"), params.detach().clone()]

    def closure():
        if deadline is not None and time.perf_counter() >= deadline:
            raise _OutOfTime
        opt.zero_grad(set_to_none=True)
        loss = total()
        loss.backward()
        calls[0] += 1
        if deadline is not None and loss.item() < best[0]:
            best[0] = loss.item()
            best[1].copy_(params.detach())
        return loss

    if iters == 0:
        return 0
    if optimizer == "adam":
        opt = torch.optim.Adam([params], lr=lr)
        steps = iters
    else:
        opt = torch.optim.LBFGS([params], lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")
        steps = 1
    try:
        for _ in range(steps):
            opt.step(closure)
    except _OutOfTime:
        with torch.no_grad():
            params.copy_(best[1])
    return calls[0]


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
    nfe = grads = 0
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
                       extra={"final_loss": np.concatenate(losses)})


def pad_history(hist: list[np.ndarray]) -> np.ndarray:
    """Stack per-batch histories (b, T_j) into (n, max T), padding with the last value (L-BFGS may stop early)."""
    T = max(h.shape[1] for h in hist)
    return np.concatenate([np.pad(h, ((0, 0), (0, T - h.shape[1])), mode="edge") for h in hist])
