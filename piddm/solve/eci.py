"""ECI-sampling on the teacher: gradient-free sampling with the observations imposed at every step.

ECI (Cheng et al., ICLR 2025) extrapolates to a clean estimate, corrects it by overwriting the
constrained values, and interpolates back to the next noise level with a kept prior noise ε
(:func:`piddm.guidance.sample_eci`). The paper's prior is functional flow matching; here it is
the same EDM teacher every other row uses (clean estimate D(x; σ_i), re-noising x̂ + σ ε), so
the comparison isolates the way constraints are enforced. The constraint C overwrites the
observed pixels with their values (in the teacher's units); the output is the last C(x̂), so
the observations hold exactly. No gradients; NFE = N · M per member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError, is_int

from ..guidance import sample_eci
from ..noise import RESAMPLE_STRIDE, STREAMS, standard_noise
from ..sampling import karras_sigmas
from .method import Method, SolveContext
from .observation import Observation
from .result import SolveResult
from .teacher_members import context_teacher, sample_members

__all__ = ["ECISettings", "METHOD", "overwrite", "resample_noise", "solve_eci"]


@dataclass
class ECISettings:
    steps: int = 200  # N grid levels (Karras grid, σ_N = 0)
    mix: int = 1  # M passes per level
    resample: int = 5  # R: a fresh ε every R passes (0: never)
    members: int = 1
    seed: int = 0
    batch: int = 16  # samples per network batch; changes an answer only at float32 round-off (1e-9 in u measured)
    stream: str = "solve"  # starting ε of member k of sample i: index members * i + k

    def check(self) -> None:
        checks = (("steps", is_int(self.steps) and self.steps >= 1, "an integer >= 1"),
                  ("mix", is_int(self.mix) and self.mix >= 1, "an integer >= 1"),
                  ("resample", is_int(self.resample) and self.resample >= 0, "an integer >= 0 (0: never)"),
                  ("members", is_int(self.members) and self.members >= 1, "an integer >= 1"),
                  ("seed", is_int(self.seed) and self.seed >= 0, "an integer >= 0"),
                  ("batch", is_int(self.batch) and self.batch >= 1, "an integer >= 1"),
                  ("stream", self.stream in STREAMS and self.stream not in ("pairs", "resample"),
                   "solve, evaluation or grid"))
        for name, ok, want in checks:
            if not ok:
                raise InputError(f"ECI: {name} must be {want}, got {getattr(self, name)!r}")
        if self.steps * self.mix >= RESAMPLE_STRIDE:
            raise InputError(f"ECI: steps × mix must stay below {RESAMPLE_STRIDE}, got {self.steps * self.mix}")

    def to_dict(self) -> dict:
        return asdict(self)


def overwrite(mask: torch.Tensor, values: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """ECI's Dirichlet-type constraint: C(x) = values where mask, x elsewhere."""
    return lambda x: torch.where(mask, values.to(x.dtype), x)


def resample_noise(rows: list[int], resolution: int, seed: int) -> Callable[[int], torch.Tensor]:
    """ECI's fresh prior noise for noise rows ``rows``: pass c of row r is index r * RESAMPLE_STRIDE + c of the
    ``resample`` stream (docs/seeds.md)."""
    shape = (2, resolution, resolution)
    return lambda c: torch.cat([standard_noise(1, shape, seed=seed, start=r * RESAMPLE_STRIDE + c, stream="resample")
                                for r in rows])


def solve_eci(context: SolveContext, obs: Observation, settings: ECISettings, sample_ids: np.ndarray | None = None,
              on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """ECI members per sample; member k of sample i starts from noise (stream, seed, members * id + k)."""
    settings.check()
    teacher = context_teacher(context, obs.resolution, "ECI samples")
    sigmas = karras_sigmas(settings.steps, device=context.device)

    def draw(eps, mask, x_obs, rows):
        fresh = resample_noise(rows, obs.resolution, settings.seed)
        return sample_eci(teacher.denoiser, eps, sigmas, overwrite(mask, x_obs), settings.mix,
                          settings.resample or None, fresh).x

    ens, seconds = sample_members(context, obs, settings, sample_ids, on_progress, "ECI samples", draw)
    return SolveResult(**ens, loss=np.zeros((len(obs), 1)), nfe=settings.members * settings.steps * settings.mix,
                       grad_evals=0, seconds=seconds)

def _describe(s: ECISettings) -> str:
    again = "never" if not s.resample else f"every {s.resample} passes"
    return (f"ECI-sampling on the teacher: N = {s.steps} levels, M = {s.mix} pass(es) per level, fresh prior noise "
            f"{again}; observed pixels overwritten in every clean estimate; {s.members} member(s) per sample")


METHOD = Method(name="eci", label="ECI-sampling", solve=solve_eci, settings=ECISettings, describe=_describe,
                role="generative", needs_teacher=True)
