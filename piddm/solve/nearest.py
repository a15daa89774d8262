"""Nearest neighbour: the training samples closest to the observations, on the observed pixels only.

Distance = sum over observed pixels of the squared difference, each channel standardised by the
model's normaliser (so a and u pixels weigh alike), divided by each channel's observation noise
variance plus one when the observations are noisy. The answer is the mean of the k nearest
training samples' (a, u) (Darcy: the majority of their a), the k neighbours are its members
(std, CRPS, Brier), and the observed values are imposed. ``nearest`` (k = 1) and ``nearest-k``
(the mean of k, k chosen on validation) are two registry entries of this one module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from pde_bench.conventions import InputError, is_int

from .kriging import standardiser
from .method import Method, SolveContext
from .objective import impose
from .observation import Observation
from .result import SolveResult, ensemble

__all__ = ["METHOD", "METHOD_K", "NearestSettings", "solve_nearest"]


@dataclass
class NearestSettings:
    k: int = 1  # neighbours averaged (and returned as members)
    max_train: int | None = None  # search the first max_train training samples (None: all)

    def check(self) -> None:
        if not (is_int(self.k) and self.k >= 1):
            raise InputError(f"nearest: k must be an integer >= 1, got {self.k!r}")
        if not (self.max_train is None or (is_int(self.max_train) and self.max_train >= 1)):
            raise InputError(f"nearest: max_train must be an integer >= 1 or none, got {self.max_train!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def solve_nearest(context: SolveContext, obs: Observation, settings: NearestSettings,
                  sample_ids: np.ndarray | None = None,
                  on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """The k training samples nearest on each sample's observed pixels, their mean and spread."""
    settings.check()
    a_train, u_train = context.training(settings.max_train)
    if a_train.shape[-1] != obs.resolution:
        raise InputError(f"nearest: the training fields are {a_train.shape[-1]}², the observations {obs.resolution}²")
    if settings.k > len(a_train):
        raise InputError(f"nearest: k = {settings.k} is more than the {len(a_train)} training samples")
    mean_c, std_c = standardiser(context.physics.normaliser)
    weight = 1.0 / (1.0 + (np.asarray(obs.noise, np.float64) / std_c.ravel()) ** 2)
    t0 = time.perf_counter()
    train = ((np.stack([a_train, u_train], 1) - mean_c) / std_c).reshape(len(a_train), 2, -1)  # (n_train, 2, N²)
    picks, dists = [], []
    for i in range(len(obs)):
        z = (obs.values[i] - mean_c) / std_c
        d = np.zeros(len(train))
        for c in range(2):
            o = np.flatnonzero(obs.mask[i, c].ravel())
            if len(o):
                d += weight[c] * ((train[:, c, o] - z[c].ravel()[o]) ** 2).sum(1)
        nearest = np.argsort(d, kind="stable")[:settings.k]
        picks.append(nearest)
        dists.append(d[nearest])
        if on_progress:
            on_progress(1)
    picks, dists = np.stack(picks), np.stack(dists)
    every = slice(0, len(obs))
    a_m, u_m = impose(a_train[picks], obs, 0, every), impose(u_train[picks], obs, 1, every)
    ens = ensemble(context.physics.problem, a_m, u_m, dists)
    ens["a"], ens["u"] = impose(ens["a"], obs, 0, every), impose(ens["u"], obs, 1, every)
    seconds = time.perf_counter() - t0
    return SolveResult(**ens, loss=dists.mean(1, keepdims=True), nfe=0, grad_evals=0, seconds=seconds,
                       extra={"neighbours": picks, "distances": dists, "train_samples": len(a_train)})


def _describe(s: NearestSettings) -> str:
    what = "the nearest training sample" if s.k == 1 else f"the mean of the {s.k} nearest training samples"
    return f"{what} on the observed pixels (standardised squared distance); observed values imposed"


METHOD = Method(name="nearest", label="nearest neighbour", solve=solve_nearest, settings=NearestSettings,
                describe=_describe, needs_train=True)
METHOD_K = Method(name="nearest-k", label="mean of k nearest", solve=solve_nearest, settings=NearestSettings,
                  describe=_describe, needs_train=True)
