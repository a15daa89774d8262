"""What the teacher-sampling solve methods (DiffusionPDE / DPS, ECI) share: the teacher check, the members'
starting noise, the batch loop and the answer in physical units.

Member k of sample i starts from noise (settings.stream, settings.seed, members * i + k), so a
sample's answer depends neither on its batch nor on which other samples are solved.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from pde_bench.conventions import InputError

from ..noise import standard_noise
from .method import SolveContext
from .objective import impose, observation_tensors
from .observation import Observation

__all__ = ["context_teacher", "member_rows", "sample_members"]

# draw(eps (B, 2, N, N) standard normal float64, mask, x_obs (network units), member rows) -> x (network units)
Draw = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, list[int]], torch.Tensor]


def context_teacher(context: SolveContext, resolution: int, who: str):
    """The comparison's teacher, checked to exist and to work at the observations' resolution."""
    teacher = context.teacher
    if teacher is None:
        raise InputError(f"{who} the teacher, and no teacher was given")
    if teacher.resolution != resolution:
        raise InputError(f"{teacher.path}: teacher at {teacher.resolution}², observations at {resolution}²")
    return teacher


def member_rows(ids, members: int) -> list[int]:
    """Noise indices of the members of samples ``ids``: members * i + k."""
    return [members * int(i) + k for i in ids for k in range(members)]


def sample_members(context: SolveContext, obs: Observation, settings, sample_ids, on_progress, who: str,
                   draw: Draw) -> tuple[dict, float]:
    """``settings.members`` draws per sample in batches of ``settings.batch`` samples; returns the ensemble
    (:func:`piddm.solve.result.ensemble`, noise-free observations written back) and the seconds taken."""
    from .result import ensemble

    teacher = context_teacher(context, obs.resolution, who)
    device, res, K = context.device, obs.resolution, settings.members
    ids = np.arange(len(obs)) if sample_ids is None else np.asarray(sample_ids)
    mask_all, xobs_all, _ = observation_tensors(obs, teacher.normaliser, device, dtype=torch.float64)
    a_m, u_m = [], []
    t0 = time.perf_counter()
    for s in range(0, len(obs), settings.batch):
        b = min(settings.batch, len(obs) - s)
        rows = member_rows(ids[s:s + b], K)
        eps = torch.cat([standard_noise(1, (2, res, res), seed=settings.seed, start=r, stream=settings.stream)
                         for r in rows]).to(device=device, dtype=torch.float64)
        x = draw(eps, mask_all[s:s + b].repeat_interleave(K, 0), xobs_all[s:s + b].repeat_interleave(K, 0), rows)
        a, u = teacher.normaliser.to_physical(x.detach().cpu())
        sl = slice(s, s + b)
        a_m.append(impose(a.view(b, K, res, res).numpy().astype(np.float64), obs, 0, sl))
        u_m.append(impose(u.view(b, K, res, res).numpy().astype(np.float64), obs, 1, sl))
        if on_progress:
            on_progress(b)
    seconds = time.perf_counter() - t0
    a_m, u_m = np.concatenate(a_m), np.concatenate(u_m)
    return ensemble(context.physics.problem, a_m, u_m, np.zeros(a_m.shape[:2])), seconds
