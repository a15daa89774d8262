"""The pieces every solve from observations shares: misfit, mixing, smoothness, the optimiser.

Both solvers minimise, per sample, a misfit on the observed points plus lam times the physics
term R of the mixed field (observations imposed where they are noise-free). The network-free
ones (the physics-only baseline, and the data-space polish after PIDDM's noise search) optimise
the fields themselves with :func:`optimise_fields`; PIDDM's noise search optimises the
student's input with :func:`optimise`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

__all__ = ["OPTIMIZERS", "fields_objective", "inverse_laplacian_smoother", "misfit", "mix", "optimise",
           "optimise_fields", "preconditioned", "smoothness"]

OPTIMIZERS = ("adam", "lbfgs")


def misfit(x: torch.Tensor, mask: torch.Tensor, x_obs: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean over each sample's observed points of ((x - x_obs) / s)^2; 0 for a sample with none."""
    sq = torch.where(mask, ((x - x_obs) / scale) ** 2, torch.zeros_like(x))
    count = mask.flatten(1).sum(1).clamp_min(1)
    return sq.flatten(1).sum(1) / count


def mix(x: torch.Tensor, mask: torch.Tensor, x_obs: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """x_obs on observed points of the channels imposed exactly (``exact`` (2,) bool), x elsewhere."""
    keep = mask & exact[:, None, None]
    return torch.where(keep, x_obs, x)


def smoothness(x: torch.Tensor, kind: str = "tikhonov", delta: float = 1e-2) -> torch.Tensor:
    """Per-sample mean of squared (Tikhonov) or smoothed absolute (TV) forward differences of x (B, C, N, N)."""
    dx = x[..., 1:, :] - x[..., :-1, :]
    dy = x[..., :, 1:] - x[..., :, :-1]
    if kind == "tikhonov":
        return dx.pow(2).flatten(1).mean(1) + dy.pow(2).flatten(1).mean(1)
    g = dx[..., :, :-1].pow(2) + dy[..., :-1, :].pow(2)
    return (g + delta**2).sqrt().flatten(1).mean(1)


def fields_objective(physics: Callable[[torch.Tensor], torch.Tensor], mask: torch.Tensor, x_obs: torch.Tensor,
                     exact: torch.Tensor, scale: torch.Tensor, *, lam: float, mu: float = 0.0,
                     regulariser: str = "tikhonov") -> Callable[[torch.Tensor], torch.Tensor]:
    """x -> per-sample misfit(x) + lam * R(x_mix) + mu * smoothness(x_mix), for fields x in network units."""

    def loss(x: torch.Tensor) -> torch.Tensor:
        xm = mix(x, mask, x_obs, exact)
        value = misfit(x, mask, x_obs, scale) + lam * physics(xm)
        return value + mu * smoothness(xm, regulariser) if mu else value

    return loss


def inverse_laplacian_smoother(n: int, *, device=None, dtype=torch.float64) -> Callable[[torch.Tensor], torch.Tensor]:
    """v (..., n, n) -> P v with P = lambda_1 (lambda_1 - Delta_h)^-1 on the periodic n x n grid (via FFT).

    A preconditioner for field updates: the residuals here are second-order elliptic, so the loss
    ||A u - f||^2 has a Hessian like Delta^2, condition number ~ n^4, and L-BFGS creeps along the
    smooth modes. Optimising v with u = u0 + P v gives a Hessian like P Delta^2 P, bounded on all
    but the lowest modes. P is symmetric positive definite (P_00 = 1, the highest mode 1/(1 + 8 /
    lambda_1)), so the minimisers are the same; only the path changes. Periodic by construction,
    it serves every boundary condition as a preconditioner, not as a model.
    """
    k = torch.fft.fftfreq(n, device=device, dtype=dtype)
    lam = 4 * torch.sin(torch.pi * k) ** 2
    lap = lam[:, None] + lam[None, : n // 2 + 1]
    lam1 = 4 * torch.sin(torch.tensor(torch.pi / n, dtype=dtype)) ** 2
    gain = lam1 / (lam1 + lap)

    def apply(v: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft2(torch.fft.rfft2(v) * gain, s=v.shape[-2:])

    return apply


def preconditioned(x0: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> x0 + P v: fields started at x0, parameterised for L-BFGS (P: :func:`inverse_laplacian_smoother`)."""
    smooth = inverse_laplacian_smoother(x0.shape[-1], device=x0.device, dtype=x0.dtype)
    return lambda v: x0 + smooth(v)


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


def optimise_fields(x: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor], *, optimizer: str, iters: int,
                    lr: float, deadline: float | None = None, history: list | None = None) -> int:
    """Minimise the per-sample ``loss(x)`` summed over the batch, in place over the leaf ``x``.

    Samples do not interact, so the summed loss optimises each one. ``history`` receives the
    per-sample loss (numpy) of every evaluation. Returns the number of evaluations.
    """

    def total():
        value = loss(x)
        if history is not None:
            history.append(value.detach().cpu().numpy())
        return value.sum()

    return optimise(x, total, optimizer=optimizer, iters=iters, lr=lr, deadline=deadline)
