"""EDM (Karras et al. 2022): preconditioned denoiser D(x; sigma) and its training loss.

D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), with the coefficients of the paper's
Table 1. Backbones only ever see scaled inputs; the preconditioning and the loss live here,
so model, loss and sampler are three independent pieces (k-diffusion's split).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "SIGMA_DATA",
    "Denoiser",
    "EDMSchedule",
    "coefficients",
    "edm_loss",
    "fixed_sigma_loss",
    "sample_sigmas",
]

SIGMA_DATA = 0.5


@dataclass(frozen=True)
class EDMSchedule:
    """The noise levels of training (log-normal) and sampling (Karras rho-schedule)."""

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_data: float = SIGMA_DATA


def coefficients(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA):
    """(c_skip, c_out, c_in, c_noise) of EDM's preconditioning for noise levels ``sigma``."""
    s2 = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / s2
    c_out = sigma * sigma_data / s2.sqrt()
    c_in = 1 / s2.sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class Denoiser(nn.Module):
    """EDM-preconditioned wrapper around a backbone ``F(x_in, c_noise, class_labels)``.

    Call it as ``D(x, sigma)``: x (B, C, N, N) in normalised units, sigma a scalar or (B,).
    The network runs in float32 (or the autocast dtype); the result has x's dtype, so
    samplers may integrate in float64. ``raw(x, sigma)`` returns c_out F alone (no skip),
    the parameterisation of the one-step student.
    """

    def __init__(self, backbone: nn.Module, sigma_data: float = SIGMA_DATA):
        super().__init__()
        self.backbone = backbone
        self.sigma_data = float(sigma_data)

    def _network(self, x: torch.Tensor, sigma, class_labels=None):
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1)
        if sigma.numel() == 1:
            sigma = sigma.expand(x.shape[0])
        c_skip, c_out, c_in, c_noise = coefficients(sigma.double(), self.sigma_data)
        shape = (-1,) + (1,) * (x.ndim - 1)
        x_in = (c_in.reshape(shape).to(x.dtype) * x).float()
        f = self.backbone(x_in, c_noise.float(), class_labels).to(x.dtype)
        return c_skip.reshape(shape).to(x.dtype), c_out.reshape(shape).to(x.dtype), f

    def forward(self, x: torch.Tensor, sigma, class_labels=None) -> torch.Tensor:
        c_skip, c_out, f = self._network(x, sigma, class_labels)
        return c_skip * x + c_out * f

    def raw(self, x: torch.Tensor, sigma, class_labels=None) -> torch.Tensor:
        """c_out F(c_in x; c_noise): the denoiser without its skip connection."""
        _, c_out, f = self._network(x, sigma, class_labels)
        return c_out * f


def sample_sigmas(n: int, schedule: EDMSchedule = EDMSchedule(), *, generator=None, device=None):
    """Training noise levels: ln sigma ~ N(P_mean, P_std^2)."""
    z = torch.randn(n, generator=generator, device=device)
    return (z * schedule.p_std + schedule.p_mean).exp()


def edm_loss(denoiser: nn.Module, x: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor,
             class_labels=None) -> torch.Tensor:
    """Per-sample EDM loss lambda(sigma) * mean ||D(x + sigma n; sigma) - x||^2, lambda = 1/c_out^2.

    ``noise`` is a standard normal tensor like x; returns shape (B,). The weight makes the
    loss unit-scale in F's regression target at every sigma.
    """
    sd = denoiser.module.sigma_data if hasattr(denoiser, "module") else denoiser.sigma_data
    shape = (-1,) + (1,) * (x.ndim - 1)
    s = sigma.reshape(shape)
    weight = (s**2 + sd**2) / (s * sd) ** 2
    d = denoiser(x + s * noise, sigma, class_labels)
    return (weight * (d - x) ** 2).flatten(1).mean(dim=1)


@torch.no_grad()
def fixed_sigma_loss(denoiser: nn.Module, x: torch.Tensor, sigmas=(0.01, 0.1, 0.5, 2.0, 10.0),
                     seed: int = 0, batch: int = 256, class_labels: torch.Tensor | None = None) -> dict[float, float]:
    """Mean EDM loss of ``x`` at each fixed sigma with fixed noise: a comparable validation curve.

    The same seed gives the same noise at every call, so two evaluations differ only by the
    model; this is the number that tells whether training works.
    """
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    out = {}
    for s in sigmas:
        total = 0.0
        for i in range(0, len(x), batch):
            xb, nb = x[i:i + batch], noise[i:i + batch]
            sig = torch.full((len(xb),), float(s), device=x.device)
            labels = None if class_labels is None else class_labels[i:i + batch]
            total += float(edm_loss(denoiser, xb, sig, nb, labels).sum())
        out[float(s)] = total / len(x)
    return out

