"""PIDDM-ref: a few gradient steps on the student's input noise that lower the residual.

eps is kept on the Gaussian shell (each sample's ||eps|| renormalised to sqrt(dim) after every
step): a standard normal in d dimensions lies within O(1) of that radius, so refinement moves
eps along the prior's typical set instead of drifting to atypical, low-norm noise that the
student never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["RefineResult", "refine_noise", "to_shell"]


def to_shell(eps: torch.Tensor) -> torch.Tensor:
    """Rescale each sample of eps (B, ...) to norm sqrt(numel per sample)."""
    flat = eps.flatten(1)
    radius = flat.shape[1] ** 0.5
    return (flat * (radius / flat.norm(dim=1, keepdim=True).clamp_min(1e-12))).view_as(eps)


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
