"""A solve method as the registry sees it, what every method is given, and the fairness rule.

A method is one module that defines a settings dataclass (with ``check()`` and ``to_dict()``)
and a function ``solve(context, obs, settings, sample_ids, on_progress) -> SolveResult``, and
one :class:`Method` entry in :data:`piddm.solve.METHODS`. Tuned defaults per (problem, task)
live in :mod:`piddm.defaults`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from pde_bench.conventions import InputError

from ..physics import PhysicsLoss

__all__ = ["ROLES", "Method", "SolveContext", "tuning_task", "wanted_fields"]

ROLES = ("generative", "baseline", "bound")


@dataclass
class SolveContext:
    """What a method may use: the physics term (with the model file's scale and normaliser), the
    one-step student and its model file, and the device."""

    physics: PhysicsLoss
    student: Callable[[torch.Tensor], torch.Tensor] | None = None
    model: Any = None
    device: torch.device = torch.device("cpu")
    train: Any = None  # a TrainSplit (piddm.solve.train_split) for the methods fitted on the training split
    cache: dict = field(default_factory=dict)  # fits shared by the methods of one comparison (e.g. a covariance)
    teacher: Any = None  # the teacher (a LoadedModel) for the methods that sample it (DiffusionPDE, ECI, D-Flow)

    def training(self, max_samples: int | None = None):
        """(a, u) of the training split (physical, float64); an InputError when the comparison gave none."""
        if self.train is None:
            raise InputError("this method is fitted on the training split, and no data set with one was given")
        return self.train.fields(max_samples)


@dataclass(frozen=True)
class Method:
    """A registry entry: name (also the output file stem), display label, solve function, settings class.

    ``time_matched``: the fairness rule of a comparison (DESIGN rule 5). A method without a
    learned prior gets the wall time per sample that the first generative method of the
    comparison measured (whatever the order asked), unless its settings already carry a
    ``budget_s``; its settings class must have that field. Without a generative method it runs
    to its own stopping rule.

    ``role``: ``generative`` (uses the learned prior), ``baseline`` (no network, or one trained for
    the task; reports compare the generative rows with the best of these) or ``bound`` (the Bayes
    limit: knows the data generator, no practical method can use it; reported last).
    ``needs_train``: fitted on the comparison's training split (:attr:`SolveContext.train`).
    ``tuned_as``: the method whose tuned settings it takes (a variant such as "then the solver").
    ``needs_teacher``: samples the diffusion teacher (:attr:`SolveContext.teacher`).
    ``reads``: the files of its own the method loads (e.g. a trained operator), so a staged answer
    (:mod:`piddm.compare.staging`) is reused only while they are unchanged.
    ``variant_of``: the same method at a preset operating point (``piddm-fast``: PIDDM at a time
    budget): its settings are that method's tuned ones, then its operating point for the (problem,
    task) (:func:`piddm.defaults.preset`), then its own overrides (those given to the base method do
    not reach it), and reports give it verdicts against the other generative rows and the best
    baseline when the base method is the first row.
    """

    name: str
    label: str
    solve: Callable
    settings: type
    time_matched: bool = False
    describe: Callable[[Any], str] = lambda s: ""
    role: str = "baseline"
    needs_train: bool = False
    tuned_as: str | None = None
    needs_teacher: bool = False
    variant_of: str | None = None
    reads: Callable[[Any, str, str], list] | None = None  # (settings, problem, task) -> model files it loads

    def __post_init__(self):
        if self.role not in ROLES:
            raise TypeError(f"solve method {self.name!r}: role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if self.time_matched and "budget_s" not in {f.name for f in fields(self.settings)}:
            raise TypeError(f"solve method {self.name!r} is time-matched, so its settings need a budget_s field")

    def make_settings(self, problem: str, task: str, overrides: dict | None = None):
        """Settings = the class defaults, then the tuned ones for (problem, task), then ``overrides``; checked."""
        from ..defaults import preset, tuned

        defaults = {f.name: f.default for f in fields(self.settings)}
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise InputError(f"{self.name} settings: unknown field(s) {', '.join(unknown)}; expected some of "
                             f"{', '.join(sorted(defaults))}")
        for k, v in overrides.items():  # none is a value only where the field's own default is none
            if v is None and defaults[k] is not None:
                raise InputError(f"{self.name} settings: {k} cannot be none (default {defaults[k]!r})")
        base = tuned(self.tuned_as or self.variant_of or self.name, problem, task)
        settings = self.settings(**{**base, **preset(self.name, problem, task)[0], **overrides})
        settings.check()
        return settings

    def fair(self, settings, reference_seconds: float | None):
        """The fairness rule: a time-matched method without its own budget gets the reference's seconds per sample."""
        if self.time_matched and getattr(settings, "budget_s", None) is None and reference_seconds is not None:
            settings.budget_s = float(reference_seconds)
        return settings


def tuning_task(obs) -> str:
    """The task whose tuned settings apply: ``forward-full`` when all of a and none of u is observed
    (a well-posed PDE solve, tuned on its own), else the observation's task."""
    task = obs.task()
    if task == "forward" and bool(np.all(obs.mask[:, 0])):
        return "forward-full"
    return task


def wanted_fields(task: str) -> tuple[str, ...]:
    """The fields a task asks for: forward -> u, inverse -> a, otherwise both."""
    if task.startswith("forward"):
        return ("u",)
    return {"inverse": ("a",)}.get(task, ("a", "u"))
