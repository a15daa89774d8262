"""Answering forward, inverse and reconstruction tasks from partial observations: the method registry.

Every way of answering a task is one module (a settings dataclass and a ``solve`` function, see
:mod:`piddm.solve.method`) and one line in :data:`METHODS`. All methods share the observation
(:mod:`piddm.solve.observation`) and the one objective (:mod:`piddm.solve.objective`).
"""

from __future__ import annotations

from . import bayes, dflow, diffusion_pde, eci, kriging, nearest, noise_search, operator, physics_only
from .then_solver import then_solver
from .method import Method, SolveContext, tuning_task, wanted_fields
from .result import SolveResult

__all__ = ["METHODS", "Method", "SolveContext", "SolveResult", "tuning_task", "wanted_fields"]

METHODS: dict[str, Method] = {m.name: m for m in (
    noise_search.METHOD,
    noise_search.METHOD_FAST,
    then_solver(noise_search.METHOD),
    diffusion_pde.DPDE,
    diffusion_pde.DPS,
    eci.METHOD,
    dflow.METHOD,
    physics_only.METHOD,
    kriging.METHOD,
    then_solver(kriging.METHOD),
    nearest.METHOD,
    then_solver(nearest.METHOD),
    nearest.METHOD_K,
    then_solver(nearest.METHOD_K),
    operator.METHOD,
    bayes.METHOD,
)}

