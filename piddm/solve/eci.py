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

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError, is_int

from ..guidance import sample_eci
from ..noise import RESAMPLE_STRIDE, STREAMS, standard_noise
from ..sampling import karras_sigmas
from .method import Method, SolveContext
from .objective import impose, observation_tensors
from .observation import Observation
from .result import SolveResult, ensemble

__all__ = ["ECISettings", "METHOD", "overwrite", "solve_eci"]


@dataclass
class ECISettings:
    steps: int = 200  # N grid levels (Karras grid, σ_N = 0)
    mix: int = 1  # M passes per level
    resample: int = 5  # R: a fresh ε every R passes (0: never)
    members: int = 1
    seed: int = 0
    batch: int = 16  # samples per network batch; never changes an answer
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


def solve_eci(context: SolveContext, obs: Observation, settings: ECISettings, sample_ids: np.ndarray | None = None,
              on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """ECI members per sample; member k of sample i starts from noise (stream, seed, members * id + k)."""
    settings.check()
    teacher = context.teacher
    if teacher is None:
        raise InputError("ECI samples the teacher, and no teacher was given")
    device, res, K = context.device, obs.resolution, settings.members
    if teacher.resolution != res:
        raise InputError(f"{teacher.path}: teacher at {teacher.resolution}², observations at {res}²")
    ids = np.arange(len(obs)) if sample_ids is None else np.asarray(sample_ids)
    mask_all, xobs_all, _ = observation_tensors(obs, teacher.normaliser, device, dtype=torch.float64)
    sigmas = karras_sigmas(settings.steps, device=device)
    a_m, u_m = [], []
    t0 = time.perf_counter()
    for s in range(0, len(obs), settings.batch):
        b = min(settings.batch, len(obs) - s)
        rows = [K * int(i) + k for i in ids[s:s + b] for k in range(K)]
        eps = torch.cat([standard_noise(1, (2, res, res), seed=settings.seed, start=r, stream=settings.stream)
                         for r in rows]).to(device=device, dtype=torch.float64)

        def fresh(c, rows=rows):
            return torch.cat([standard_noise(1, (2, res, res), seed=settings.seed, start=r * RESAMPLE_STRIDE + c,
                                             stream="resample") for r in rows])

        constrain = overwrite(mask_all[s:s + b].repeat_interleave(K, 0), xobs_all[s:s + b].repeat_interleave(K, 0))
        out = sample_eci(teacher.denoiser, eps, sigmas, constrain, settings.mix, settings.resample or None, fresh)
        a, u = teacher.normaliser.to_physical(out.x.cpu())
        sl = slice(s, s + b)
        a_m.append(impose(a.view(b, K, res, res).numpy().astype(np.float64), obs, 0, sl))
        u_m.append(impose(u.view(b, K, res, res).numpy().astype(np.float64), obs, 1, sl))
        if on_progress:
            on_progress(b)
    seconds = time.perf_counter() - t0
    a_m, u_m = np.concatenate(a_m), np.concatenate(u_m)
    ens = ensemble(context.physics.problem, a_m, u_m, np.zeros(a_m.shape[:2]))
    return SolveResult(**ens, loss=np.zeros((len(obs), 1)), nfe=K * settings.steps * settings.mix, grad_evals=0,
                       seconds=seconds)


def _describe(s: ECISettings) -> str:
    again = "never" if not s.resample else f"every {s.resample} passes"
    return (f"ECI-sampling on the teacher: N = {s.steps} levels, M = {s.mix} pass(es) per level, fresh prior noise "
            f"{again}; observed pixels overwritten in every clean estimate; {s.members} member(s) per sample")


METHOD = Method(name="eci", label="ECI-sampling", solve=solve_eci, settings=ECISettings, describe=_describe,
                role="generative", needs_teacher=True)
