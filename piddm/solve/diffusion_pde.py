"""DiffusionPDE and DPS (observations only) on the teacher: guided Heun over the joint prior.

Each member is the teacher's deterministic Heun solve from σ_max ε, steered at every step by
the gradient of DiffusionPDE's losses of the denoised estimate x̂ (:mod:`piddm.guidance`):

    L_obs = Σ over observed channels of ||M_c ⊙ (x̂_c - x_obs,c)||₂   (network units, plain L2 norm)
    L_pde = ||r(x̂)||₂ / m                                            (m residual nodes)

r is the problem's own residual divided by the data set's residual scale (``residual="ours"``:
physical units, so the guidance acts on the operator the reports score), or DiffusionPDE's
released Darcy stencil in index units (``"original"``, Darcy only; its ground-truth floor is
about the forcing at every node). The misfit is measured in the network's normalised units,
where both channels have scale σ_data, so one ζ_obs serves both; the released code measures
physical units with a ζ per channel, which differs by a constant per channel (the ζ are tuned
on validation here: DESIGN rule 6). DPS is the same sampler with ζ_pde = 0.

The answer writes noise-free observed values back, as every row of a solve report does. Costs
per member: NFE 2N - 1, N backward passes through both network calls of a step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError, is_finite, is_int

from ..guidance import original_darcy_residual, sample_dpde
from ..noise import STREAMS
from ..sampling import heun_nfe, karras_sigmas
from .method import Method, SolveContext
from .observation import Observation
from .result import SolveResult
from .teacher_members import context_teacher, sample_members

__all__ = ["DPDE", "DPS", "DPDESettings", "DPSSettings", "RESIDUALS", "guided_losses", "solve_guided"]

RESIDUALS = ("ours", "original")


@dataclass
class DPSSettings:
    """Guided Heun on the teacher with the observation term only."""

    steps: int = 2000  # Heun steps N (DiffusionPDE's released default)
    zeta_obs: float = 1.0  # weight of the observation gradient (first 80 % of steps; then 0.1 × it)
    switch: float = 0.8  # share of the steps with observation guidance only
    members: int = 1  # samples per test sample (DiffusionPDE: one)
    seed: int = 0
    # samples per network batch: no sample sees another's loss, but the network's float32 round-off depends on the
    # batch shape and 2000 guided steps amplify it (Darcy forward, test 0-1: u differs by up to 4e-4 of a 0.012 max
    # between batch 2 and 16); metrics.json records the batch
    batch: int = 16
    stream: str = "solve"  # member k of sample i starts from noise index members * i + k

    def check(self) -> None:
        name = type(self).__name__.replace("Settings", "")
        checks = [("steps", is_int(self.steps) and self.steps >= 1, "an integer >= 1"),
                  ("zeta_obs", is_finite(self.zeta_obs) and self.zeta_obs >= 0, "a finite number >= 0"),
                  ("switch", is_finite(self.switch) and 0 <= self.switch <= 1, "a number in [0, 1]"),
                  ("members", is_int(self.members) and self.members >= 1, "an integer >= 1"),
                  ("seed", is_int(self.seed) and self.seed >= 0, "an integer >= 0"),
                  ("batch", is_int(self.batch) and self.batch >= 1, "an integer >= 1"),
                  ("stream", self.stream in STREAMS and self.stream not in ("pairs", "resample"),
                   "solve, evaluation or grid")]
        checks += self._more_checks()
        for field_name, ok, want in checks:
            if not ok:
                raise InputError(f"{name}: {field_name} must be {want}, got {getattr(self, field_name)!r}")

    def _more_checks(self) -> list:
        return []

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DPDESettings(DPSSettings):
    """DiffusionPDE: observation and PDE guidance."""

    zeta_pde: float = 1.0  # weight of the PDE-residual gradient in the last (1 - switch) of the steps
    residual: str = "ours"  # ours (the problem's operator / its scale) | original (DiffusionPDE's Darcy stencil)

    def _more_checks(self) -> list:
        return [("zeta_pde", is_finite(self.zeta_pde) and self.zeta_pde >= 0, "a finite number >= 0"),
                ("residual", self.residual in RESIDUALS, f"one of {', '.join(RESIDUALS)}")]


def guided_losses(teacher, physics, mask: torch.Tensor, x_obs: torch.Tensor, residual: str = "ours",
                  ) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """x̂ (B, 2, N, N) in the teacher's units -> (L_obs, L_pde) per sample, DiffusionPDE's plain L2 norms."""
    problem, normaliser = teacher.problem, teacher.normaliser
    if residual == "original" and problem.name != "darcy":
        raise InputError(f"residual 'original' is DiffusionPDE's Darcy stencil; {problem.name} has none")

    def losses(xhat: torch.Tensor):
        diff = torch.where(mask, xhat - x_obs, torch.zeros_like(xhat))
        obs = diff.flatten(2).norm(dim=2).sum(1)
        a, u = normaliser.to_physical(xhat)
        if residual == "original":
            r = original_darcy_residual(a, u, float(problem.params["forcing"]))
        else:
            r = problem.residual(a, u, check=False) / physics.scale
        r = r.flatten(1)
        return obs, r.norm(dim=1) / r.shape[1]

    return losses


def solve_guided(context: SolveContext, obs: Observation, settings: DPSSettings,
                 sample_ids: np.ndarray | None = None, on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Guided Heun members per sample from noise (stream, seed, members * id + k); see the module docstring."""
    settings.check()
    teacher = context_teacher(context, obs.resolution, "DiffusionPDE and DPS sample")
    zeta_pde = float(getattr(settings, "zeta_pde", 0.0))
    residual = getattr(settings, "residual", "ours")
    sigmas = karras_sigmas(settings.steps, device=context.device)
    backward = [0]

    def draw(eps, mask, x_obs, rows):
        losses = guided_losses(teacher, context.physics, mask, x_obs, residual)
        out = sample_dpde(teacher.denoiser, eps * sigmas[0], sigmas, losses, settings.zeta_obs, zeta_pde,
                          settings.switch)
        backward[0] = out.grad_evals  # the same steps are guided for every sample
        return out.x

    ens, seconds = sample_members(context, obs, settings, sample_ids, on_progress, "DiffusionPDE and DPS sample",
                                  draw)
    K = settings.members
    return SolveResult(**ens, loss=np.zeros((len(obs), 1)), nfe=K * heun_nfe(settings.steps),
                       grad_evals=K * backward[0], seconds=seconds)

def _describe(s: DPSSettings) -> str:
    zeta_pde = getattr(s, "zeta_pde", None)
    text = (f"guided Heun on the teacher, N = {s.steps} steps, ζ_obs = {s.zeta_obs:g} on plain L2 norms of the "
            f"masked misfit (network units)")
    if zeta_pde is None:
        return text + (f", 0.1 ζ_obs after {100 * s.switch:g} % of the steps; {s.members} member(s) per sample; one "
                       "backward pass through both network calls of a step per step")
    stencil = ("DiffusionPDE's released Darcy stencil (index units)" if s.residual == "original"
               else "the problem's residual / its scale")
    return (text + f"; after {100 * s.switch:g} % of the steps 0.1 ζ_obs and ζ_pde = {zeta_pde:g} on "
            f"||r||₂ / m of {stencil}; {s.members} member(s) per sample; one backward pass through both network "
            "calls of a step per step")


DPDE = Method(name="dpde", label="DiffusionPDE", solve=solve_guided, settings=DPDESettings, describe=_describe,
              role="generative", needs_teacher=True)
DPS = Method(name="dps", label="DPS (observations only)", solve=solve_guided, settings=DPSSettings,
             describe=_describe, role="generative", needs_teacher=True)
