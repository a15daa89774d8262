"""Deterministic EDM samplers as pure functions over a ``denoiser(x, sigma)`` callable.

Schedules are separate functions (:func:`karras_sigmas`); a sampler takes the starting state
``x = sigmas[0] * eps`` and the grid, and returns a :class:`SampleResult` with the number of
network calls it made. Guidance methods (DiffusionPDE, ECI) are variants of these loops that
hook in through ``callback``/their own step, not copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .edm import EDMSchedule

__all__ = [
    "SAMPLERS",
    "SampleResult",
    "generate",
    "heun_nfe",
    "karras_sigmas",
    "sample_euler",
    "sample_heun",
]

DenoiserFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SampleResult:
    x: torch.Tensor
    nfe: int  # network calls per sample
    grad_evals: int = 0  # backward passes per sample (guided samplers)


def karras_sigmas(steps: int, schedule: EDMSchedule = EDMSchedule(), *, device=None,
                  dtype=torch.float64) -> torch.Tensor:
    """EDM's grid sigma_0 = sigma_max > ... > sigma_{N-1} = sigma_min, then sigma_N = 0 (N + 1 values)."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    i = torch.arange(steps, dtype=torch.float64)
    lo, hi, rho = schedule.sigma_min ** (1 / schedule.rho), schedule.sigma_max ** (1 / schedule.rho), schedule.rho
    ramp = i / max(steps - 1, 1)
    sig = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sig, sig.new_zeros(1)]).to(device=device, dtype=dtype)


def heun_nfe(steps: int) -> int:
    """Network calls of Heun on an N-step grid: 2N - 1 (the last step to sigma = 0 is Euler)."""
    return 2 * steps - 1


def _sigma_like(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return sigma.to(x.dtype).expand(x.shape[0])


def sample_euler(denoiser: DenoiserFn, x: torch.Tensor, sigmas: torch.Tensor,
                 callback: Callable | None = None) -> SampleResult:
    """First-order probability-flow ODE solve: x' = x + (sigma_next - sigma) (x - D(x)) / sigma."""
    nfe = 0
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, _sigma_like(s, x))
        nfe += 1
        x = x + (s_next - s).to(x.dtype) * (x - denoised) / s.to(x.dtype)
        if callback is not None:
            callback(i, x, denoised)
    return SampleResult(x, nfe)


def sample_heun(denoiser: DenoiserFn, x: torch.Tensor, sigmas: torch.Tensor,
                callback: Callable | None = None, guide: Callable | None = None) -> SampleResult:
    """EDM's Algorithm 1 (deterministic Heun, no churn); the last step to sigma = 0 is Euler.

    ``guide(i, x_i, x_next, denoised)`` (optional) returns the step's corrected x_next; with it,
    both network calls of step i are taken with gradients with respect to x_i, so the guide can
    differentiate a loss of ``denoised`` (the last denoiser output, Heun's second call or the final
    Euler call) through both (DiffusionPDE's guidance, :mod:`piddm.guidance`). A guide that returns
    x_next unchanged gives exactly the plain sampler. A guide with an ``active(i)`` method is given
    no graph on the steps where that is false.
    """
    nfe = 0
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i].to(x.dtype), sigmas[i + 1].to(x.dtype)
        guided = guide is not None and getattr(guide, "active", lambda i: True)(i)  # no graph for a step it skips
        if guided:
            x = x.detach().requires_grad_(True)
        with torch.set_grad_enabled(guided or torch.is_grad_enabled()):
            denoised = denoiser(x, _sigma_like(s, x))
            nfe += 1
            d = (x - denoised) / s
            x_next = x + (s_next - s) * d
            if s_next > 0:
                denoised = denoiser(x_next, _sigma_like(s_next, x))
                nfe += 1
                x_next = x + (s_next - s) * (d + (x_next - denoised) / s_next) / 2
        if guide is not None:
            x_next = guide(i, x, x_next, denoised).detach()
            denoised = denoised.detach()
        x = x_next
        if callback is not None:
            callback(i, x, denoised)
    return SampleResult(x, nfe)


SAMPLERS = {"heun": sample_heun, "euler": sample_euler}


@torch.no_grad()
def generate(denoiser: DenoiserFn, noise: torch.Tensor, steps: int = 18, sampler: str = "heun",
             schedule: EDMSchedule = EDMSchedule(), dtype=torch.float64) -> SampleResult:
    """Samples from standard normal ``noise`` (B, C, N, N): x_0 = sigma_max * noise, then ODE solve.

    Integration runs in ``dtype`` (float64 by default, as EDM does); the result is float32.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    sigmas = karras_sigmas(steps, schedule, device=noise.device, dtype=dtype)
    x = noise.to(dtype) * sigmas[0]
    out = SAMPLERS[sampler](denoiser, x, sigmas)
    return SampleResult(out.x.float(), out.nfe)
