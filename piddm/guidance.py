"""Guided and constrained EDM samplers over the shared ``denoiser(x, sigma)``: DiffusionPDE / DPS and ECI.

Pure functions on network-unit tensors; the solve methods (:mod:`piddm.solve.diffusion_pde`,
:mod:`piddm.solve.eci`) build the losses and constraints from observations and the physics.

- **DiffusionPDE** (Huang et al., NeurIPS 2024, as its released ``scripts/generate_*.py``):
  deterministic Heun on the joint prior; in step i, with x̂ the last denoiser output (Heun's
  second call, or the Euler call of the final step), the guide takes the gradient with respect to
  x_i, through both network calls, of L_obs (plain unsquared L2 norms of the masked misfit, one
  per observed channel) and L_pde (the plain L2 norm of the residual / its node count). For the
  first ``switch`` of the steps (i <= 0.8 N) x_{i+1} -= ζ_obs ∇L_obs; afterwards x_{i+1} -=
  0.1 ζ_obs ∇L_obs + ζ_pde ∇L_pde. It is :func:`piddm.sampling.sample_heun` with a ``guide``:
  NFE 2N - 1, one backward pass (through both calls of the step) per guided step: N when ζ_obs > 0.
  DPS with observations only is ζ_pde = 0.
- **ECI-sampling** (Cheng et al., ICLR 2025), gradient-free, here on the EDM prior: keep a prior
  noise ε (resampled every R passes), and per grid level i and mixing pass m: x̂ = C(D(x; σ_i)),
  then x = x̂ + σ_i ε (m < M, re-noise to the same level) or x = x̂ + σ_{i+1} ε (m = M, advance).
  The output is the last C(x̂), so the constraints hold exactly. NFE = N M, no gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .sampling import SampleResult, sample_heun

__all__ = ["DPDEGuide", "dpde_guide", "original_darcy_residual", "sample_dpde", "sample_eci"]

LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class DPDEGuide:
    """DiffusionPDE's update as a :func:`piddm.sampling.sample_heun` guide; ``losses(x̂)`` -> (L_obs, L_pde), (B,) each.

    Samples are independent: the gradient of the batch sum gives each sample its own loss's gradient.
    A step whose weights are both zero (e.g. generation's observation phase, ζ_obs = 0) takes no
    backward pass and leaves x_{i+1} exactly as the plain sampler has it; ``backward_passes``
    counts the ones taken. The gradient is taken with gradients enabled whatever the caller's
    mode, and a step that should be guided but has no graph is an error, never a silent no-op.
    """

    def __init__(self, losses: LossFn, steps: int, zeta_obs: float, zeta_pde: float, switch: float = 0.8):
        self.losses, self.steps, self.switch = losses, steps, switch
        self.zeta_obs, self.zeta_pde = float(zeta_obs), float(zeta_pde)
        self.backward_passes = 0

    def weights(self, i: int) -> tuple[float, float]:
        """(w_obs, w_pde) of step i: ζ_obs alone for i <= switch N, then 0.1 ζ_obs and ζ_pde."""
        return (self.zeta_obs, 0.0) if i <= self.switch * self.steps else (0.1 * self.zeta_obs, self.zeta_pde)

    def active(self, i: int) -> bool:
        """Whether step i is guided (a nonzero weight): the sampler builds a graph only for those."""
        return any(w != 0 for w in self.weights(i))

    def __call__(self, i: int, x: torch.Tensor, x_next: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
        if not self.active(i):
            return x_next
        w_obs, w_pde = self.weights(i)
        with torch.enable_grad():
            obs, pde = self.losses(denoised)
            total = w_obs * obs.sum() + w_pde * pde.sum()
            if not total.requires_grad:
                raise RuntimeError("DiffusionPDE guidance: the loss has no graph to x_i (were the network calls "
                                   "made without gradients?)")
            (grad,) = torch.autograd.grad(total, x)
        self.backward_passes += 1
        return x_next - grad


def dpde_guide(losses: LossFn, steps: int, zeta_obs: float, zeta_pde: float, switch: float = 0.8) -> DPDEGuide:
    """DiffusionPDE's guide for an N-step :func:`sample_heun` (see :class:`DPDEGuide`)."""
    return DPDEGuide(losses, steps, zeta_obs, zeta_pde, switch)


def sample_dpde(denoiser, x: torch.Tensor, sigmas: torch.Tensor, losses: LossFn, zeta_obs: float, zeta_pde: float,
                switch: float = 0.8) -> SampleResult:
    """DiffusionPDE's guided Heun from x = σ_0 ε: the final x (network units), NFE 2N - 1 and the backward passes."""
    guide = dpde_guide(losses, len(sigmas) - 1, zeta_obs, zeta_pde, switch)
    out = sample_heun(denoiser, x, sigmas, guide=guide)
    return SampleResult(out.x, out.nfe, guide.backward_passes)


@torch.no_grad()
def sample_eci(denoiser, eps: torch.Tensor, sigmas: torch.Tensor, constrain: Callable[[torch.Tensor], torch.Tensor],
               mix: int = 1, resample: int | None = 5,
               fresh: Callable[[int], torch.Tensor] | None = None) -> SampleResult:
    """ECI's extrapolate-correct-interpolate loop on the EDM grid ``sigmas`` (σ_0 > ... > σ_N = 0).

    ``eps``: the starting prior noise (B, C, N, N), standard normal; ``constrain``: C, overwriting
    the constrained values of a clean estimate; ``mix``: M passes per level; ``resample``: R, a
    fresh ε every R passes (None: never); ``fresh(c)``: the noise drawn at pass c (required with R).
    """
    if resample is not None and fresh is None:
        raise ValueError("resample needs a source of fresh noise")
    x = sigmas[0].to(eps.dtype) * eps
    passes, out = 0, x
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i].to(x.dtype), sigmas[i + 1].to(x.dtype)
        for m in range(1, mix + 1):
            passes += 1
            if resample is not None and passes % resample == 0:
                eps = fresh(passes).to(x)
            out = constrain(denoiser(x, s.expand(x.shape[0])))
            x = out + (s if m < mix else s_next) * eps
    return SampleResult(out, passes)


def original_darcy_residual(a: torch.Tensor, u: torch.Tensor, forcing: float = 1.0) -> torch.Tensor:
    """DiffusionPDE's released Darcy residual: ∂x(a ∂x u) + ∂y(a ∂y u) + f in index units (no grid spacing),
    central differences [-1, 0, 1] / 2 with zero padding, on the full (..., N, N) grid.

    Without 1/h² it is about h² div(a grad u) + f, so ground truth scores about f at every node
    (their issue #13); offered so users can see what guidance on it does.
    """
    def dx(v):
        p = torch.nn.functional.pad(v, (1, 1, 0, 0))
        return (p[..., :, 2:] - p[..., :, :-2]) / 2

    def dy(v):
        p = torch.nn.functional.pad(v, (0, 0, 1, 1))
        return (p[..., 2:, :] - p[..., :-2, :]) / 2

    return dx(a * dx(u)) + dy(a * dy(u)) + forcing
