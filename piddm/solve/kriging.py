"""Kriging: Gaussian conditioning of (a, u) with the empirical covariance of the training split.

The joint field x = (a, u), each channel standardised by the model's normaliser, is modelled as
Gaussian with the sample mean and covariance of the training split. Given observed pixels o
with values y (noise variance D, zero for exact observations), the posterior is

    mean = m + C[:, o] (C[o, o] + D)^-1 (y - m[o]),   var = diag(C) - rowsum(C[:, o] (C[o, o] + D)^-1 C[o, :])

and posterior draws come by pathwise conditioning (Matheron's rule): a prior draw x~ moved by
C[:, o] (C[o, o] + D)^-1 (y - x~[o] - e), e ~ N(0, D). On Poisson and Helmholtz (linear, Gaussian
inputs) this estimates the exact Bayes posterior from data; on Darcy, a is thresholded at the
level midpoint. It is the strongest simple method a reviewer tries first (DESIGN rule 8).

Covariance: ``rank`` None uses the full sample covariance ((2N²)² numbers: 34 MB at 32², 0.5 GB
at 64²); ``rank`` r uses probabilistic PCA, C = W W^T + s² I with the top r principal
directions and s² the mean of the other eigenvalues (memory 2N² r), which is how it runs at 64²
and above. ``jitter`` (relative to the mean variance) is added to the diagonal in both: with
exact observations and fewer samples than dimensions the covariance is singular.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pde_bench.conventions import InputError, is_finite, is_int

from .method import Method, SolveContext
from .objective import impose
from .observation import Observation
from .result import SolveResult

__all__ = ["METHOD", "GaussianFit", "KrigingSettings", "condition", "fit_gaussian", "solve_kriging"]


@dataclass
class KrigingSettings:
    rank: int | None = None  # None: full sample covariance; r: probabilistic PCA with r components
    jitter: float = 1e-6  # added to the covariance diagonal, relative to the mean variance
    members: int = 8  # posterior draws (for CRPS, Brier and coverage)
    max_train: int | None = None  # fit on the first max_train training samples (None: all)
    seed: int = 0  # posterior draws

    def check(self) -> None:
        checks = (("rank", self.rank is None or (is_int(self.rank) and self.rank >= 1), "an integer >= 1 or none"),
                  ("jitter", is_finite(self.jitter) and self.jitter > 0, "a finite number > 0"),
                  ("members", is_int(self.members) and self.members >= 1, "an integer >= 1"),
                  ("max_train", self.max_train is None or (is_int(self.max_train) and self.max_train >= 2),
                   "an integer >= 2 or none"),
                  ("seed", is_int(self.seed) and self.seed >= 0, "an integer >= 0"))
        for name, ok, want in checks:
            if not ok:
                raise InputError(f"kriging: {name} must be {want}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GaussianFit:
    """A Gaussian N(mean, C) over flattened standardised fields: C full (``cov``), or W W^T + s2 I (``W``)."""

    mean: np.ndarray  # (D,)
    cov: np.ndarray | None  # (D, D), jitter included
    W: np.ndarray | None  # (D, r)
    s2: float  # isotropic part (probabilistic PCA: mean discarded eigenvalue + jitter; full: 0)
    samples: int
    seconds: float
    _chol: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return len(self.mean)

    def columns(self, o: np.ndarray) -> np.ndarray:
        """C[:, o] (D, |o|)."""
        if self.cov is not None:
            return self.cov[:, o]
        cols = self.W @ self.W[o].T
        cols[o, np.arange(len(o))] += self.s2
        return cols

    def diagonal(self) -> np.ndarray:
        if self.cov is not None:
            return np.diag(self.cov).copy()
        return (self.W * self.W).sum(1) + self.s2

    def draw(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """k prior draws (k, D)."""
        if self.cov is not None:
            if self._chol is None:
                self._chol = np.linalg.cholesky(self.cov)
            return self.mean + rng.standard_normal((k, self.dim)) @ self._chol.T
        return (self.mean + rng.standard_normal((k, self.W.shape[1])) @ self.W.T
                + math.sqrt(self.s2) * rng.standard_normal((k, self.dim)))


def fit_gaussian(x: np.ndarray, rank: int | None = None, jitter: float = 1e-6, seed: int = 0) -> GaussianFit:
    """Sample mean and covariance (full, or probabilistic PCA of rank ``rank``) of rows x (n, D), n >= 2."""
    t0 = time.perf_counter()
    x = np.asarray(x, np.float64)
    n, dim = x.shape
    if n < 2:
        raise InputError(f"kriging needs at least 2 training samples, got {n}")
    mean = x.mean(0)
    xc = (x - mean) / math.sqrt(n - 1)
    total = float((xc * xc).sum())  # trace of the sample covariance
    eps = jitter * total / dim
    if rank is None or rank >= min(n - 1, dim):
        cov = xc.T @ xc
        cov[np.diag_indices(dim)] += eps
        return GaussianFit(mean, cov, None, 0.0, n, time.perf_counter() - t0)
    torch.manual_seed(seed)
    _, s, v = torch.svd_lowrank(torch.from_numpy(xc), q=min(rank + 10, n - 1, dim), niter=4)
    lam, v = s.numpy()[:rank] ** 2, v.numpy()[:, :rank]
    s2 = max(total - lam.sum(), 0.0) / (dim - rank)
    W = v * np.sqrt(np.clip(lam - s2, 0.0, None))
    return GaussianFit(mean, None, W, s2 + eps, n, time.perf_counter() - t0)


def condition(fit: GaussianFit, o: np.ndarray, y: np.ndarray, noise_var: np.ndarray, members: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean (D,), std (D,) and draws (members, D) given values y at flat indices o."""
    draws = fit.draw(rng, members)
    if len(o) == 0:
        return fit.mean.copy(), np.sqrt(fit.diagonal()), draws
    cols = fit.columns(o)
    gram = cols[o] + np.diag(noise_var)
    chol = np.linalg.cholesky(gram)
    solve = lambda r: np.linalg.solve(chol.T, np.linalg.solve(chol, r))  # noqa: E731
    mean = fit.mean + cols @ solve(y - fit.mean[o])
    var = fit.diagonal() - (cols * solve(cols.T).T).sum(1)
    e = rng.standard_normal((members, len(o))) * np.sqrt(noise_var)
    draws = draws + solve((y - draws[:, o] - e).T).T @ cols.T
    return mean, np.sqrt(np.clip(var, 0.0, None)), draws


def standardiser(normaliser) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (mean, std) arrays (2, 1, 1) of the model's normaliser: the units the baselines work in."""
    mean = np.array([normaliser.mean_a, normaliser.mean_u], np.float64)[:, None, None]
    std = np.array([normaliser.std_a, normaliser.std_u], np.float64)[:, None, None]
    return mean, std


def fitted(context: SolveContext, settings: KrigingSettings) -> GaussianFit:
    """The Gaussian of the training split, fitted once per comparison and settings (kept in the context's cache)."""
    key = ("kriging", settings.rank, settings.jitter, settings.max_train, settings.seed if settings.rank else None)
    if key not in context.cache:
        a, u = context.training(settings.max_train)
        mean, std = standardiser(context.physics.normaliser)
        z = (np.stack([a, u], 1) - mean) / std
        context.cache[key] = fit_gaussian(z.reshape(len(z), -1), settings.rank, settings.jitter, settings.seed)
    return context.cache[key]


def solve_kriging(context: SolveContext, obs: Observation, settings: KrigingSettings,
                  sample_ids: np.ndarray | None = None,
                  on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Posterior mean, std and draws of every sample under the training split's Gaussian."""
    settings.check()
    fit = fitted(context, settings)
    mean_c, std_c = standardiser(context.physics.normaliser)
    res = obs.resolution
    if fit.dim != 2 * res * res:
        raise InputError(f"kriging: the training fields are {int(math.sqrt(fit.dim // 2))}², the observations {res}²")
    noise_var = (np.asarray(obs.noise, np.float64) / std_c.ravel()) ** 2  # per channel, standardised units
    ids = np.arange(len(obs)) if sample_ids is None else np.asarray(sample_ids)
    t0 = time.perf_counter()
    means, stds, draws = [], [], []
    for i in range(len(obs)):
        z = ((obs.values[i] - mean_c) / std_c).ravel()
        flat = obs.mask[i].ravel()
        o = np.flatnonzero(flat)
        nv = np.repeat(noise_var, res * res)[o]
        rng = np.random.default_rng([int(settings.seed), int(ids[i])])
        m, s, d = condition(fit, o, z[o], nv, settings.members, rng)
        means.append(m.reshape(2, res, res) * std_c + mean_c)
        stds.append(s.reshape(2, res, res) * std_c)
        draws.append(d.reshape(-1, 2, res, res) * std_c + mean_c)
        if on_progress:
            on_progress(1)
    seconds = time.perf_counter() - t0
    means, stds, draws = np.stack(means), np.stack(stds), np.stack(draws)
    every = slice(0, len(obs))
    mean = {"a": impose(means[:, 0], obs, 0, every), "u": impose(means[:, 1], obs, 1, every)}
    members = {"a": impose(draws[:, :, 0], obs, 0, every), "u": impose(draws[:, :, 1], obs, 1, every)}
    return SolveResult.posterior(context.physics.problem, mean, {"a": stds[:, 0], "u": stds[:, 1]}, members,
                                 loss=np.zeros((len(obs), 1)), nfe=0, grad_evals=0, seconds=seconds,
                                 extra={"one_off": [("kriging fit", fit.seconds, f"covariance of {fit.samples} "
                                                     "training samples")], "train_samples": fit.samples})


def _describe(s: KrigingSettings) -> str:
    cov = ("full sample covariance" if s.rank is None else
           f"probabilistic PCA of rank {s.rank} (the full covariance where the rank reaches min(samples - 1, 2N²))")
    return (f"Gaussian conditioning on the training split's mean and {cov} of (a, u) (standardised), jitter "
            f"{s.jitter:g} × mean variance; {s.members} posterior draws by pathwise conditioning")


METHOD = Method(name="kriging", label="kriging (empirical covariance)", solve=solve_kriging, settings=KrigingSettings,
                describe=_describe, needs_train=True)
