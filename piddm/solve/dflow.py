"""D-Flow on the teacher: PIDDM's noise search with the teacher's short ODE solve as the generator.

D-Flow (Ben-Hamu et al., ICML 2024) treats the source noise as the unknown and back-propagates
a task cost through every step of the generation ODE. Here the cost is exactly PIDDM's (misfit
on the observed points + λ R of the mixed field, :mod:`piddm.solve.noise_search`), the optimiser
the same, and only the generator differs: a deterministic ``teacher_steps``-step Heun solve of
the teacher instead of the one-step student. The row separates what the noise search buys from
what distillation buys. Costs per member: every evaluation runs 2 · steps - 1 network calls and
back-propagates through all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from pde_bench.conventions import InputError, is_int

from ..physics import PhysicsLoss
from ..sampling import heun_nfe, karras_sigmas, sample_heun
from .method import Method, SolveContext
from .noise_search import SolveSettings, solve_noise
from .observation import Observation
from .result import SolveResult
from .teacher_members import context_teacher

__all__ = ["DFlowSettings", "METHOD", "solve_dflow", "teacher_generator"]


@dataclass
class DFlowSettings(SolveSettings):
    starts: int = 1
    iters: int = 10
    optimizer: str = "lbfgs"
    teacher_steps: int = 10  # Heun steps of the differentiable teacher solve (6 drew poor fields: guidance_tuning.py)

    def check(self) -> None:
        super().check()
        if not (is_int(self.teacher_steps) and self.teacher_steps >= 1):
            raise InputError(f"D-Flow: teacher_steps must be an integer >= 1, got {self.teacher_steps!r}")


def teacher_generator(teacher, steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """eps (B, 2, N, N) standard normal -> the teacher's deterministic ``steps``-step Heun sample (float32),
    differentiable with respect to eps (the solve integrates in float64)."""
    sigmas = karras_sigmas(steps)

    def generate(eps: torch.Tensor) -> torch.Tensor:
        sig = sigmas.to(eps.device)
        return sample_heun(teacher.denoiser, eps.double() * sig[0], sig).x.float()

    return generate


def solve_dflow(context: SolveContext, obs: Observation, settings: DFlowSettings,
                sample_ids: np.ndarray | None = None, on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """The noise search of :func:`piddm.solve.noise_search.solve_noise` through the teacher's short solve."""
    settings.check()
    teacher = context_teacher(context, obs.resolution, "D-Flow optimises the noise of")
    physics = context.physics
    if teacher.normaliser != physics.normaliser:  # the student's physics term is in other units
        physics = PhysicsLoss.for_model(teacher)
    inner = SolveContext(physics=physics, student=teacher_generator(teacher, settings.teacher_steps), model=teacher,
                         device=context.device)
    result = solve_noise(inner, obs, settings, sample_ids, on_progress)
    calls = heun_nfe(settings.teacher_steps)
    return replace(result, nfe=result.nfe * calls, grad_evals=result.grad_evals * calls)


def _describe(s: DFlowSettings) -> str:
    from .noise_search import METHOD as PIDDM

    return (f"{PIDDM.describe(s)}; the generator is the teacher's {s.teacher_steps}-step Heun solve "
            f"({heun_nfe(s.teacher_steps)} network calls), back-propagated through")


METHOD = Method(name="dflow", label="D-Flow (teacher)", solve=solve_dflow, settings=DFlowSettings,
                describe=_describe, role="generative", needs_teacher=True)
