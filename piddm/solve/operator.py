"""The supervised neural operator as a solve method: one FNO call per sample, trained for the task.

The learned baseline DiffusionPDE compares against (:mod:`piddm.operator`): an FNO trained on
the training split to map the observed values and masks of (a, u) to both fields. Its file
comes from ``piddm train-operator`` (by default ``runs/<pde>-operator-<task>/operator.pt``); its
training time is reported as a one-off cost, as the kriging fit and the teacher's training are.
The answer is the network's output in physical units with the noise-free observed values
imposed; one member, no uncertainty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import InputError

from ..operator import KIND, OBSERVED, LoadedOperator, default_path, load_operator, operator_inputs
from .method import Method, SolveContext
from .objective import impose
from .observation import CHANNELS, Observation
from .result import SolveResult

__all__ = ["METHOD", "OperatorSettings", "solve_operator"]

# observations whose mean observed fraction lies beyond the trained fractions by more than this factor are
# refused: the network never saw masks like them
FRACTION_SLACK = 2.0
# the operator and the comparison's model must learn from the same training split (DESIGN rule 5): their
# stored training statistics agree to this fraction of the channel's std
STATS_TOLERANCE = 1e-4


@dataclass
class OperatorSettings:
    model: str | None = None  # operator.pt or its run folder; None: runs/<pde>-operator-<task>/operator.pt
    batch: int = 64  # samples per network call (never changes an answer beyond float32 round-off)

    def check(self) -> None:
        if self.model is not None and not str(self.model).strip():
            raise InputError("operator: model must be a path (or none for the default run folder)")
        if self.batch < 1:
            raise InputError(f"operator: batch must be >= 1, got {self.batch}")

    def to_dict(self) -> dict:
        return asdict(self)


def operator_path(problem: str, task: str, settings: OperatorSettings) -> Path:
    """The operator file this comparison loads: ``--set operator.model`` (a file or run folder) or the task's
    default run folder; a one-line error when there is none."""
    from ..models import resolve_model_path

    if settings.model is not None:
        return resolve_model_path(settings.model, KIND)
    path = default_path(problem, task)
    if not path.exists():
        raise InputError(f"no operator model at {path}: train one with `piddm train-operator --pde {problem} "
                         f"--task {task}` (or pass `--set operator.model=PATH`)")
    return path


def operator_for(context: SolveContext, obs: Observation, settings: OperatorSettings) -> LoadedOperator:
    """The operator file for this problem and task (loaded once per comparison), checked against both."""
    problem, task = context.physics.problem, obs.task()
    if task not in OBSERVED:
        raise InputError(f"operator: answers the {', '.join(OBSERVED)} tasks; these observations observe nothing")
    path = operator_path(problem.name, task, settings)
    key = ("operator", str(path), str(context.device))
    if key not in context.cache:
        context.cache[key] = load_operator(path, context.device)
    op = context.cache[key]
    _check_fits(op, problem, task, obs, context.physics.normaliser)
    return op


def _check_fits(op: LoadedOperator, problem, task: str, obs: Observation, normaliser) -> None:
    """One-line errors for an operator of another problem, task, resolution, training split or fraction range."""
    info = op.info
    if info.problem != problem.name or dict(info.params) != dict(problem.params):
        raise InputError(f"{op.path}: operator of {info.problem} {dict(info.params)}, the observations are of "
                         f"{problem.name} {dict(problem.params)}")
    if info.task != task:
        raise InputError(f"{op.path}: operator trained for the {info.task} task, the observations pose the {task} task")
    if info.resolution != obs.resolution:
        raise InputError(f"{op.path}: operator trained at {info.resolution}², the observations are "
                         f"{obs.resolution}²")
    for stat in ("mean_a", "std_a", "mean_u", "std_u"):
        trained, model = info.normaliser[stat], getattr(normaliser, stat)
        if not abs(trained - model) <= STATS_TOLERANCE * info.normaliser["std_" + stat[-1]]:
            raise InputError(f"{op.path}: trained on data whose {stat} is {trained:.6g}, the comparison's model on "
                             f"data with {model:.6g}: train both on the same training split")
    low, high = min(info.fractions), max(info.fractions)
    for c in OBSERVED[task]:
        seen = obs.fraction(CHANNELS[c])
        if not low / FRACTION_SLACK <= seen <= high * FRACTION_SLACK:
            raise InputError(f"{op.path}: trained on {100 * low:g}-{100 * high:g} % of {CHANNELS[c]} observed, the "
                             f"observations hold {100 * seen:.3g} %: train one whose fractions cover it")


def solve_operator(context: SolveContext, obs: Observation, settings: OperatorSettings,
                   sample_ids: np.ndarray | None = None,
                   on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """The operator's (a, u) for every sample, observed values imposed."""
    settings.check()
    op = operator_for(context, obs, settings)
    t0 = time.perf_counter()
    out = []
    for start in range(0, len(obs), settings.batch):
        rows = slice(start, min(start + settings.batch, len(obs)))
        values = torch.as_tensor(obs.values[rows], dtype=torch.float32, device=context.device)
        mask = torch.as_tensor(obs.mask[rows], device=context.device)
        mean, std = op.standardiser(values)
        with torch.no_grad():
            z = op.net(operator_inputs((values - mean) / std, mask))
        out.append((z.double() * std.double() + mean.double()).cpu().numpy())
        if on_progress:
            on_progress(rows.stop - rows.start)
    fields = np.concatenate(out)
    every = slice(0, len(obs))
    a, u = impose(fields[:, 0], obs, 0, every), impose(fields[:, 1], obs, 1, every)
    seconds = time.perf_counter() - t0
    training = op.info.training
    return SolveResult.single(context.physics.problem, a, u, loss=np.zeros((len(obs), 1)), nfe=1, grad_evals=0,
                              seconds=seconds,
                              extra={"one_off": [("operator training", training.get("elapsed_s"),
                                                  f"{training.get('step', '?')} steps on "
                                                  f"{training.get('n_train', '?')} training samples")],
                                     "operator": str(op.path)})


def _describe(s: OperatorSettings) -> str:
    where = s.model or "runs/<pde>-operator-<task>/operator.pt"
    return (f"a supervised FNO ({where}) trained on the training split to map the observed values and masks of "
            "(a, u) to both fields (MSE, standardised, masks drawn afresh per batch at the task's fractions); "
            "observed values imposed")


METHOD = Method(name="operator", label="FNO (supervised)", solve=solve_operator, settings=OperatorSettings,
                describe=_describe, reads=lambda s, problem, task: [operator_path(problem, task, s)])
