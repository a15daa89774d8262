"""The Bayes limit of the nonlinear problems by MCMC, and the chain diagnostics that vouch for it.

Every problem draws its input from standard normals, a = map(xi) with xi ~ N(0, I)
(``Problem.inputs_from_normals``), and u = ``problem.solve(a)``. Given observed pixels of (a, u),
:func:`pcn_posterior` samples the posterior of xi with preconditioned Crank–Nicolson (pCN) moves,
xi' = sqrt(1 - beta^2) xi + beta eps: they leave the prior invariant, so the acceptance ratio is
the likelihood ratio alone and does not degrade with the grid (Cotter, Roberts, Stuart, White
2013). Where a linearisation of the observations is checked to fit (Poisson, Helmholtz,
Navier–Stokes; not Darcy's thresholded a), the directions the data inform get moves about the
Gauss-Newton posterior instead (:class:`_Proposal`). The posterior mean of (a, u) is the
minimum mean-squared-error estimate: a floor for every method on average, for Darcy and
Navier–Stokes where no closed form exists.

Whether the chains have mixed is measured, not assumed: rank-normalised split R-hat and bulk
effective sample size (Vehtari, Gelman, Simpson, Carpenter, Bürkner 2021) per pixel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import fft as sfft
from scipy.special import ndtri
from scipy.stats import rankdata

from pde_bench.conventions import InputError, is_finite, is_int
from pde_bench.problems.base import Problem

__all__ = ["split_rhat", "ess_bulk", "SAMPLERS", "PCNSettings", "pcn_posterior"]


# -- diagnostics ------------------------------------------------------------------------------
def _as_draws(draws) -> tuple[np.ndarray, tuple]:
    """(chains, n_draws, ...) -> split halves (2 chains, n_draws // 2, K) and the trailing shape."""
    x = np.asarray(draws, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 1 or x.shape[1] < 4:
        raise InputError(f"draws must be shaped (chains, n_draws >= 4, ...), got {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("draws contain non-finite values (NaN or inf)")
    tail = x.shape[2:]
    x = x.reshape(*x.shape[:2], -1)
    half = x.shape[1] // 2  # an odd chain loses its middle draw, as in the paper's code
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]]), tail


def _rank_normal(x: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks pooled over all chains (ties get their average rank)."""
    m, n, k = x.shape
    r = rankdata(x.reshape(m * n, k), axis=0, method="average")
    return ndtri((r - 0.375) / (m * n + 0.25)).reshape(m, n, k)


def _rhat(z: np.ndarray) -> np.ndarray:
    """Classic R-hat of (chains, n, K): sqrt of the pooled over the within-chain variance."""
    n = z.shape[1]
    within = z.var(axis=1, ddof=1).mean(axis=0)
    between = n * z.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(((n - 1) / n * within + between / n) / within)
    return np.where(within > 0, r, np.where(between > 0, np.inf, 1.0))


def _constant(x: np.ndarray) -> np.ndarray:
    return (x == x[:1, :1]).all(axis=(0, 1))


def split_rhat(draws) -> np.ndarray:
    """Rank-normalised split R-hat of draws (chains, n_draws, ...) -> (...).

    The larger of the bulk R-hat (of the rank-normal scores) and the tail R-hat (of the scores of
    the draws folded about their median), as Vehtari et al. (2021) recommend. A quantity that is
    the same in every draw gives 1.0; one constant within chains but not across them gives inf.
    """
    x, tail = _as_draws(draws)
    folded = np.abs(x - np.median(x.reshape(-1, x.shape[-1]), axis=0))
    r = np.maximum(_rhat(_rank_normal(x)), _rhat(_rank_normal(folded)))
    stuck = (x == x[:, :1]).all(axis=(0, 1))  # every split chain constant (rounding must not decide)
    return np.where(_constant(x), 1.0, np.where(stuck, np.inf, r)).reshape(tail)


def _ess(z: np.ndarray) -> np.ndarray:
    """Effective sample size of (chains, n, K) by Geyer's initial monotone sequence (as Stan)."""
    m, n, _ = z.shape
    centred = z - z.mean(axis=1, keepdims=True)
    size = sfft.next_fast_len(2 * n)
    spec = sfft.rfft(centred, size, axis=1)
    acov = sfft.irfft(spec * spec.conj(), size, axis=1)[:, :n] / n  # biased autocovariance
    within = acov[:, 0].mean(axis=0) * n / (n - 1)
    var_plus = within * (n - 1) / n + (z.mean(axis=1).var(axis=0, ddof=1) if m > 1 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    lags = 2 * max(1, (n - 2) // 2)  # n >= 2: split chains of at least 4 draws
    pairs = rho[:lags].reshape(lags // 2, 2, -1).sum(axis=1)
    keep = np.cumprod(pairs > 0, axis=0).astype(bool)  # up to the first non-positive pair sum
    keep[0] = True
    mono = np.where(keep, np.minimum.accumulate(pairs, axis=0), 0.0)
    stop = keep.sum(axis=0)  # first dropped pair: its even lag still counts when positive
    even = rho[np.minimum(2 * stop, n - 1), np.arange(rho.shape[1])]
    last = np.where((stop < len(pairs)) & (even > 0), even, 0.0)
    tau = -1.0 + 2.0 * mono.sum(axis=0) + last
    total = m * n
    return total / np.maximum(tau, 1.0 / math.log10(total))


def ess_bulk(draws) -> np.ndarray:
    """Bulk effective sample size of draws (chains, n_draws, ...) -> (...).

    Geyer's initial monotone sequence on the rank-normalised split chains (Vehtari et al. 2021),
    in units of the draws given, at most n log10(n) for n draws in all. NaN for a quantity that
    is the same in every draw (its Monte Carlo error is zero; there is nothing to count).
    """
    x, tail = _as_draws(draws)
    ess = _ess(_rank_normal(x))
    return np.where(_constant(x), np.nan, ess).reshape(tail)


# -- the sampler ------------------------------------------------------------------------------
SAMPLERS = ("pcn", "elliptical")


@dataclass
class PCNSettings:
    """Settings of :func:`pcn_posterior`.

    ``likelihood_std``: the Gaussian likelihood std of a noise-free channel, as a fraction of
    that channel's prior std (exact observations have no likelihood to speak of; the
    noise-free posterior is the limit of this one as ``likelihood_std`` -> 0, at the price of
    smaller steps). Noisy channels use their noise std. During ``burn`` the likelihood is
    tempered geometrically from the prior std down to its target over the first ``anneal``
    share of the steps, and each chain's steps adapt toward ``target_accept`` (from ``beta``);
    both are then frozen and ``steps`` more steps are kept, every ``thin``-th stored.
    ``precondition``: linearise the observations (finite differences of step ``fd_step`` in xi,
    d extra forward solves per sample) at the middle and the end of tempering, and use
    likelihood-informed moves where the linearisation fits. ``sampler``: "pcn" (this module) or
    "elliptical" (:func:`piddm.evaluate.elliptical.elliptical_posterior`, which reads the chain
    lengths, ``likelihood_std``, ``anneal``, ``members`` and ``seed`` only).
    ``rungs`` > 1: replica exchange (parallel tempering; Swendsen and Wang 1986, Geyer 1991):
    each chain becomes a ladder of ``rungs`` pCN chains whose likelihood stds grow geometrically
    from the target to ``top_std`` × the channel's prior std, with swaps of adjacent rungs'
    states proposed after every step (even and odd pairs in turn); only the bottom rung (the
    target) is stored. It lets states cross between modes the target's own steps cannot leave
    (Darcy with u observed: which pixels of a flip). ``rungs`` times the solves per step; plain
    pCN moves only (``precondition`` must be off).
    """

    chains: int = 4
    burn: int = 1000
    steps: int = 2000
    thin: int = 5
    beta: float = 0.2
    target_accept: float = 0.25
    likelihood_std: float = 0.01
    members: int = 8
    seed: int = 0
    anneal: float = 0.6
    precondition: bool = True
    fd_step: float = 0.1
    sampler: str = "pcn"
    rungs: int = 1
    top_std: float = 1.0

    def check(self) -> "PCNSettings":
        checks = (("chains", is_int(self.chains) and self.chains >= 2),
                  ("burn", is_int(self.burn) and self.burn >= 0),
                  ("thin", is_int(self.thin) and self.thin >= 1),
                  ("steps", is_int(self.steps) and is_int(self.thin) and self.steps >= 4 * max(self.thin, 1)),
                  ("beta", is_finite(self.beta) and 0 < self.beta <= 1),
                  ("target_accept", is_finite(self.target_accept) and 0 < self.target_accept < 1),
                  ("likelihood_std", is_finite(self.likelihood_std) and self.likelihood_std > 0),
                  ("members", is_int(self.members) and self.members >= 1),
                  ("seed", is_int(self.seed) and self.seed >= 0),
                  ("anneal", is_finite(self.anneal) and 0 <= self.anneal <= 0.75),
                  ("precondition", isinstance(self.precondition, (bool, np.bool_))),
                  ("fd_step", is_finite(self.fd_step) and self.fd_step > 0),
                  ("sampler", self.sampler in SAMPLERS),
                  ("rungs", is_int(self.rungs) and self.rungs >= 1
                   and (self.rungs == 1 or (self.sampler == "pcn" and self.precondition is False))),
                  ("top_std", is_finite(self.top_std) and (self.rungs == 1 or self.top_std > self.likelihood_std)))
        for name, ok in checks:
            if not ok:
                raise InputError(f"pcn: {name} = {getattr(self, name)!r} is out of range (chains >= 2, burn >= 0, "
                                 "thin >= 1, steps >= 4 thin, 0 < beta <= 1, 0 < target_accept < 1, "
                                 "likelihood_std > 0, members >= 1, seed >= 0, 0 <= anneal <= 0.75, "
                                 f"precondition a bool, fd_step > 0, sampler one of {', '.join(SAMPLERS)}, "
                                 "rungs >= 1 (> 1 only with sampler pcn and precondition false), "
                                 "top_std > likelihood_std when rungs > 1)")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


_PRIOR_STD: dict[tuple, tuple[float, float]] = {}


def prior_std(problem: Problem, n_side: int) -> tuple[float, float]:
    """RMS over pixels of the prior std of a and u, from 128 fixed prior draws (cached).

    Pixels that never vary (u on a Dirichlet boundary) are left out so they do not dilute it.
    """
    key = (type(problem).__name__, tuple(sorted(problem.params.items())), int(n_side))
    if key not in _PRIOR_STD:
        xi = np.random.default_rng(20210101).standard_normal((128, *problem.normals_shape(int(n_side))))
        a = problem.inputs_from_normals(xi)
        stds = []
        for field in (a, problem.solve(a)):
            var = field.var(axis=0)
            stds.append(float(np.sqrt(var[var > 0].mean())) if (var > 0).any() else 1.0)
        _PRIOR_STD[key] = tuple(stds)
    return _PRIOR_STD[key]


def _check_observations(mask, values, noise) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = np.asarray(mask)
    values = np.asarray(values, dtype=np.float64)
    if mask.dtype != bool:
        raise InputError(f"pcn: mask must be boolean, got dtype {mask.dtype}")
    if mask.ndim != 4 or mask.shape[1] != 2 or mask.shape != values.shape or mask.shape[-1] != mask.shape[-2]:
        raise InputError(f"pcn: mask and values must both be shaped (n, 2, N, N), got {mask.shape} and {values.shape}")
    if len(mask) < 1:
        raise InputError("pcn: no samples to solve (n = 0)")
    if not np.isfinite(values[mask]).all():
        raise InputError("pcn: observed values contain non-finite numbers")
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != (2,) or not np.isfinite(noise).all() or (noise < 0).any():
        raise InputError(f"pcn: noise must be two finite stds >= 0 (a, u), got {noise.tolist()}")
    return mask, np.where(mask, values, 0.0), noise


class _Observed:
    """The observed pixels of n samples: fields of latents, and the observed values of fields.

    Observed values of a sample are its a pixels then its u pixels (u only where any sample
    observes u), zero-padded to ``size`` (padding has likelihood std inf: no information).
    """

    def __init__(self, problem: Problem, mask: np.ndarray, values: np.ndarray):
        self.problem, self.mask = problem, mask
        self.n_side = mask.shape[-1]
        self.shape = problem.normals_shape(self.n_side)
        self.needs_u = bool(mask[:, 1].any())
        self.channels = (0, 1) if self.needs_u else (0,)
        self.solves = 0
        counts = mask.sum(axis=(-2, -1))  # (n, 2)
        self.size = int(sum(counts[:, ch].max() for ch in self.channels))
        self.y = np.stack([self._pad(np.concatenate([values[i, ch][mask[i, ch]] for ch in self.channels]))
                           for i in range(len(mask))])
        self.channel = np.stack([self._pad(np.concatenate([np.full(counts[i, ch], ch) for ch in self.channels]), -1)
                                 for i in range(len(mask))]).astype(int)

    def _pad(self, flat: np.ndarray, fill: float = 0.0) -> np.ndarray:
        out = np.full((*flat.shape[:-1], self.size), fill, dtype=np.float64)
        out[..., :flat.shape[-1]] = flat
        return out

    def fields(self, xi: np.ndarray, u_too: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """a and (when asked) u of latents (..., d), shaped (..., N, N)."""
        lead = xi.shape[:-1]
        a = self.problem.inputs_from_normals(xi.reshape(-1, *self.shape))
        u = None
        if u_too:
            u = self.problem.solve(a).reshape(*lead, self.n_side, self.n_side)
            self.solves += len(a)
        return a.reshape(*lead, self.n_side, self.n_side), u

    def values(self, i: int, a: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        """Sample i's observed values (..., size) of fields a, u (..., N, N)."""
        parts = [a[..., self.mask[i, 0]]] + ([u[..., self.mask[i, 1]]] if self.needs_u else [])
        return self._pad(np.concatenate(parts, axis=-1))

    def scale(self, std: np.ndarray) -> np.ndarray:
        """Likelihood std (n, size) of every observed value for the channel stds (2,); inf on padding."""
        return np.where(self.channel >= 0, std[np.maximum(self.channel, 0)], np.inf)

    def residuals(self, a: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        """Misfits (n, chains, size) g - y of fields (n, chains, N, N) at the observed pixels."""
        return np.stack([self.values(i, a[i], None if u is None else u[i]) for i in range(len(a))]) - self.y[:, None]

    def jacobian(self, i: int, xi0: np.ndarray, step: float, chunk: int = 256) -> np.ndarray:
        """Finite-difference Jacobian (d, size) of sample i's observed values at xi0 (d,)."""
        base = self.values(i, *self.fields(xi0[None], self.needs_u))
        rows = []
        for j0 in range(0, xi0.size, chunk):
            x = np.repeat(xi0[None], min(chunk, xi0.size - j0), axis=0)
            x[np.arange(len(x)), j0 + np.arange(len(x))] += step
            rows.append((self.values(i, *self.fields(x, self.needs_u)) - base) / step)
        return np.concatenate(rows)


class _Proposal:
    """pCN moves, made likelihood-informed where a linearisation of the observations holds.

    Plain pCN, xi' = sqrt(1 - b^2) xi + b eps, leaves the prior N(0, I) invariant, so the
    acceptance is the likelihood ratio. Once a sample's observations g are linearised (a
    finite-difference Jacobian J at its first chain's state, whitened by the likelihood std:
    singular vectors V, values s), its chains alternate two moves, each with its own step b.
    Informed: rho = V^T xi moves about the Gauss-Newton posterior at the chain's state x
    (g(x') ~ g(x) + J^T (x' - x), prior N(0, I)), N(mu_x, diag(lam)), lam = 1 / (1 + s^2):
    rho' = mu_x + sqrt(1 - b^2) (rho - mu_x) + b sqrt(lam) eps, accepted with the full
    Metropolis-Hastings ratio (mu_x' is known from the proposal's own misfit). Uninformed: pCN
    in the other directions. This is the likelihood-informed subspace idea of Cui, Law and
    Marzouk (2016, "Dimension-independent likelihood-informed MCMC"): exact (always accepted
    at b = 1) for linear observations, and dimension-robust still. A linearisation is kept only
    where it is checked to fit: the log importance weights of draws from its Gaussian vary by
    at most ``_MAX_LOG_WEIGHT_STD`` (they do not for Darcy's thresholded a); elsewhere plain pCN.
    """

    def __init__(self, n: int, d: int):
        self.jac = np.zeros((n, d, 0))
        self.active, self.failed = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        self.vecs, self.ut = np.zeros((n, d, 0)), np.zeros((n, 0, 0))
        self.sing, self.scale = np.zeros((n, 0)), np.full((n, 0), np.inf)

    @property
    def var(self) -> np.ndarray:
        return 1.0 / (1.0 + self.sing**2)

    def linearise(self, obs: _Observed, xi: np.ndarray, step: float) -> None:
        """Jacobians (n, d, size) of each sample's observations at its first chain's state.

        A sample whose linearisation failed its check once is not tried again (the likelihood
        only sharpens as tempering goes on)."""
        self.active = ~self.failed
        self.jac = np.stack([obs.jacobian(i, xi[i, 0], step) if ok else np.zeros((xi.shape[-1], obs.size))
                             for i, ok in enumerate(self.active)])

    def whiten(self, obs: _Observed, std: np.ndarray) -> None:
        """Directions and singular values of the linearisations under the likelihood std (2,)."""
        self.scale = obs.scale(std)
        self.vecs, self.sing, self.ut = np.linalg.svd(self.jac / self.scale[:, None], full_matrices=False)
        self.vecs[~self.active], self.sing[~self.active], self.ut[~self.active] = 0.0, 0.0, 0.0

    def centre(self, rho: np.ndarray, resid: np.ndarray) -> np.ndarray:
        """Gauss-Newton posterior mean (n, c, m) of rho at states with coordinates rho and misfits resid."""
        r = np.einsum("nrm,ncm->ncr", self.ut, resid / self.scale[:, None])
        sing, lam = self.sing[:, None], self.var[:, None]
        return lam * sing * (sing * rho - r)

    def check(self, obs: _Observed, xi: np.ndarray, resid: np.ndarray, rngs, draws: int = 16) -> None:
        """Drop the linearisations whose Gaussian posterior does not fit the likelihood."""
        rho0 = np.einsum("nd,ndr->nr", xi[:, 0], self.vecs)
        mu = self.centre(rho0[:, None], resid[:, :1])[:, 0]
        for i in np.nonzero(self.active)[0]:
            rho = mu[i] + np.sqrt(self.var[i]) * rngs[i].standard_normal((draws, mu.shape[-1]))
            x = xi[i, 0] + (rho - rho0[i]) @ self.vecs[i].T
            actual = (((obs.values(i, *obs.fields(x, obs.needs_u)) - obs.y[i]) / self.scale[i]) ** 2).sum(axis=1)
            linear = (((resid[i, 0] + (x - xi[i, 0]) @ self.jac[i]) / self.scale[i]) ** 2).sum(axis=1)
            if not 0.5 * np.std(actual - linear) <= _MAX_LOG_WEIGHT_STD:
                self.active[i], self.failed[i] = False, True
                self.vecs[i], self.sing[i], self.ut[i] = 0.0, 0.0, 0.0

    def __call__(self, obs: _Observed, xi: np.ndarray, resid: np.ndarray, eps: np.ndarray, b: np.ndarray,
                 informed: bool):
        """One move from states xi (n, c, d) with misfits resid, normals eps and steps b (n, c):
        the informed move, or pCN outside the informed directions (all of them without one).

        Returns the proposals, their fields a, u and misfits, and the log proposal correction
        (n, c) that the Metropolis-Hastings ratio adds to the likelihood ratio.
        """
        b = b[..., None]
        keep = np.sqrt(1.0 - b**2)
        v = self.vecs
        rho, rho_eps = np.einsum("ncd,ndr->ncr", xi, v), np.einsum("ncd,ndr->ncr", eps, v)
        if not informed:
            new = xi + (keep - 1.0) * (xi - _span(rho, v)) + b * (eps - _span(rho_eps, v))
            a, u = obs.fields(new, obs.needs_u)
            return new, a, u, obs.residuals(a, u), np.zeros(xi.shape[:2])
        lam = self.var[:, None]
        mu = self.centre(rho, resid)
        rho_new = mu + keep * (rho - mu) + b * np.sqrt(lam) * rho_eps
        new = xi + _span(rho_new - rho, v)
        a, u = obs.fields(new, obs.needs_u)
        resid_new = obs.residuals(a, u)
        mu_new = self.centre(rho_new, resid_new)
        forward = (rho_new - mu - keep * (rho - mu)) ** 2
        backward = (rho - mu_new - keep * (rho_new - mu_new)) ** 2
        log_q = (forward - backward) / (b**2 * lam)
        return new, a, u, resid_new, 0.5 * (rho**2 - rho_new**2 + log_q).sum(axis=-1)


def _span(coef: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Latents (n, c, d) of coefficients (n, c, m) on each sample's directions v (n, d, m)."""
    return np.einsum("ncr,ndr->ncd", coef, v)


_MAX_LOG_WEIGHT_STD = 2.0  # spread allowed of the log importance weights of a linearisation's Gaussian
_MIN_STEP = 1e-4


def pcn_posterior(problem: Problem, mask, values, noise, settings: PCNSettings,
                  on_progress: Callable[[int], None] | None = None) -> dict:
    """Posterior of (a, u) of each sample given its observed pixels, by pCN over the latent xi.

    ``mask`` bool (n, 2, N, N) marks the observed pixels of (a, u), ``values`` (n, 2, N, N) holds
    the physical values there, ``noise`` (2,) the observation noise std per channel (0: exact,
    see :class:`PCNSettings` ``likelihood_std``). All chains of all samples run together, one
    ``problem.solve`` per step on the batch of proposals (none while u is unobserved: u is then
    solved only for the stored draws). Sample i's chains draw from the generator (seed, i);
    the move schedule is shared, so for answers that do not depend on the batch, pass one
    sample at a time (as :mod:`piddm.solve.bayes` does, seeding each from its sample id).
    With ``precondition`` the moves use a checked linearisation (see :class:`_Proposal`); with
    ``rungs`` > 1 each chain is a replica-exchange ladder (see :class:`PCNSettings`).

    Returns arrays with a leading sample axis: ``a``, ``u`` posterior means and ``a_std``,
    ``u_std`` (n, N, N); ``a_members``, ``u_members`` (n, members, N, N) evenly spaced stored
    draws pooled over chains; ``acceptance`` of the kept steps, ``beta`` (the pCN step; outside
    the informed directions where a linearisation is used) and ``beta_informed`` (the step of
    the informed move; NaN without one) (n, chains); ``rhat_a``, ``rhat_u`` (max over pixels
    not observed exactly of split R-hat), ``rhat_a_median``, ``rhat_u_median`` (median over
    those pixels that vary) and ``ess_a``, ``ess_u`` (min over them of the bulk ESS, in stored
    draws) (n,); with ``rungs`` > 1 ``swap_acceptance`` (n, rungs - 1), the share of the kept
    steps' proposed swaps of rungs r and r + 1 that were taken; ``solves`` (solver calls per
    sample, linearisations included; float) and
    ``seconds`` (float). ``on_progress(k)`` is told every k steps taken.
    """
    t0 = time.perf_counter()
    s = settings.check()
    mask, values, noise = _check_observations(mask, values, noise)
    n, n_side, c = len(mask), mask.shape[-1], s.chains
    ladder = _ladder(s)  # likelihood std multiplier (chains * rungs,) of every chain, rung-major
    n_chains = len(ladder)  # the first c are the target's: only they are stored
    temper = _Tempering(problem, n_side, noise, s)
    obs = _Observed(problem, mask, values)
    d = int(np.prod(obs.shape))
    rngs = [np.random.default_rng([int(s.seed), i]) for i in range(n)]
    n_anneal = temper.steps
    linearise_at = {n_anneal // 2, n_anneal} if s.precondition and s.burn and obs.size else set()
    avg_from = s.burn - max(1, (s.burn - n_anneal) // 2)  # average log steps over the last half after tempering

    xi = np.stack([rng.standard_normal((n_chains, d)) for rng in rngs])
    a, u = obs.fields(xi, obs.needs_u)
    resid = obs.residuals(a, u)
    propose = _Proposal(n, d)
    log_b = np.full((n, n_chains, 2), math.log(s.beta))  # steps of the uninformed (plain) and informed moves
    averaged, n_averaged = np.zeros((n, n_chains, 2)), np.zeros(2)
    accepted = np.zeros((n, n_chains))
    swapped = np.zeros((n, s.rungs - 1))
    kept = s.steps // s.thin
    store_a = np.empty((n, c, kept, n_side, n_side))
    store_u = np.empty_like(store_a)
    u_now = u.copy() if obs.needs_u else np.zeros_like(a)
    stale = np.full((n, n_chains), not obs.needs_u)  # chains whose stored u must be solved again
    total, reported, every = s.burn + s.steps, 0, max(1, (s.burn + s.steps) // 100)
    for t in range(total):
        std = temper.std(t)
        base = obs.scale(std)[:, None]  # (n, 1, size): the target's likelihood std of each observed value
        scale = base * ladder[None, :, None]
        if t in linearise_at:
            propose.linearise(obs, xi, s.fd_step)
            log_b[..., 1] = 0.0  # the informed move starts as independent draws from its Gaussian
        if propose.active.any() and (t in linearise_at or (t <= n_anneal and t % 10 == 0)):
            propose.whiten(obs, std)
            if t in linearise_at:
                propose.check(obs, xi, resid, rngs)
        if t == s.burn and s.burn:
            log_b = averaged / np.maximum(n_averaged, 1)
        informed = bool(propose.active.any() and t % 2)  # alternate the two moves once linearised
        eps = np.stack([rng.standard_normal((n_chains, d)) for rng in rngs])
        proposal, a_new, u_new, resid_new, correction = propose(obs, xi, resid, eps, np.exp(log_b[..., int(informed)]),
                                                                informed)
        log_ratio = 0.5 * ((resid / scale) ** 2 - (resid_new / scale) ** 2).sum(axis=-1) + correction
        take = np.log(np.stack([rng.random(n_chains) for rng in rngs])) < log_ratio
        xi[take], a[take], resid[take] = proposal[take], a_new[take], resid_new[take]
        if obs.needs_u:
            u_now[take] = u_new[take]
        else:
            stale |= take
        if s.rungs > 1:
            taken = _exchange(xi, a, u_now, resid, stale, base, ladder, c, t % 2, rngs)
            if t >= s.burn:
                swapped += taken
        if t < s.burn:
            k = int(informed)
            step = log_b[..., k] + 0.1 * (np.exp(np.minimum(log_ratio, 0.0)) - s.target_accept)
            log_b[..., k] = np.clip(step, math.log(_MIN_STEP), 0.0)
            if t >= avg_from:
                averaged[..., k] += log_b[..., k]
                n_averaged[k] += 1
        else:
            accepted += take
            k, r = divmod(t - s.burn + 1, s.thin)
            if r == 0:
                refresh_stale(obs, xi[:, :c], stale[:, :c], a[:, :c], u_now[:, :c])
                store_a[:, :, k - 1], store_u[:, :, k - 1] = a[:, :c], u_now[:, :c]
        if on_progress and (t + 1 - reported >= every or t + 1 == total):
            on_progress(t + 1 - reported)
            reported = t + 1
    out = _summarise(store_a, store_u, mask & (noise == 0)[None, :, None, None], s.members)
    informed = np.where(propose.active[:, None], np.exp(log_b[:, :c, 1]), np.nan)
    out.update(acceptance=accepted[:, :c] / s.steps, beta=np.exp(log_b[:, :c, 0]), beta_informed=informed,
               solves=obs.solves / n, seconds=time.perf_counter() - t0)
    if s.rungs > 1:
        out["swap_acceptance"] = swapped / (s.chains * _swaps_proposed(s.burn, s.steps, s.rungs))
    return out


def _ladder(s: PCNSettings) -> np.ndarray:
    """The likelihood std multiplier of every chain (chains * rungs,), rung-major: 1 for the first
    ``chains`` (the target), up to ``top_std / likelihood_std`` geometrically for the top rung's."""
    if s.rungs == 1:
        return np.ones(s.chains)
    ratio = (s.top_std / s.likelihood_std) ** (np.arange(s.rungs) / (s.rungs - 1))
    return np.repeat(ratio, s.chains)


def _swaps_proposed(burn: int, steps: int, rungs: int) -> np.ndarray:
    """How many times the kept steps propose to swap each ladder's rungs r, r + 1 (rungs - 1,): at the
    steps of r's parity."""
    parity = np.arange(burn, burn + steps) % 2
    return np.array([max(1, int((parity == r % 2).sum())) for r in range(rungs - 1)], dtype=np.float64)


def _exchange(xi, a, u, resid, stale, base, ladder, c: int, parity: int, rngs) -> np.ndarray:
    """Propose swapping the states of rungs r and r + 1 (r of the given parity) of every ladder, in place.

    The states' misfits are scored under both rungs' likelihoods, std ``base`` (n, 1, size) times
    each rung's multiplier: log ratio (1 / m_r^2 - 1 / m_r+1^2) (E_r - E_r+1), E = |misfit / base|^2 / 2.
    Returns the swaps taken per rung pair (n, rungs - 1), summed over the c ladders.
    """
    n, rungs = len(xi), len(ladder) // c
    energy = 0.5 * ((resid / base) ** 2).sum(axis=-1)  # (n, chains * rungs)
    taken = np.zeros((n, rungs - 1))
    pairs = range(parity, rungs - 1, 2)
    draws = np.stack([rng.random((len(pairs), c)) for rng in rngs])
    for j, r in enumerate(pairs):
        lo, hi = slice(r * c, (r + 1) * c), slice((r + 1) * c, (r + 2) * c)
        gain = (1.0 / ladder[r * c] ** 2 - 1.0 / ladder[(r + 1) * c] ** 2) * (energy[:, lo] - energy[:, hi])
        swap = np.log(draws[:, j]) < gain  # (n, c)
        for field in (xi, a, u, resid, stale):
            low, high = field[:, lo], field[:, hi]
            low[swap], high[swap] = high[swap].copy(), low[swap].copy()
        taken[:, r] = swap.sum(axis=1)
    return taken


class _Tempering:
    """The likelihood std (2,) of step t: geometric from the channels' prior std (or the target, if
    larger) down to the target (``likelihood_std`` × prior std for exact channels, the noise std for
    noisy ones) over the first ``anneal`` share of the burn-in, the target after."""

    def __init__(self, problem: Problem, n_side: int, noise: np.ndarray, s: PCNSettings):
        prior = np.asarray(prior_std(problem, n_side))
        self.target = np.where(noise == 0, s.likelihood_std * prior, noise)
        self.start = np.maximum(self.target, prior)
        self.steps = int(round(s.anneal * s.burn))

    def std(self, t: int) -> np.ndarray:
        if t >= self.steps:
            return self.target
        return self.target ** (t / self.steps) * self.start ** (1.0 - t / self.steps)


def refresh_stale(obs: _Observed, xi: np.ndarray, stale: np.ndarray, a: np.ndarray, u_now: np.ndarray) -> None:
    """Bring the fields a and u (n, c, N, N) of the chains marked ``stale`` up to their states xi, in place:
    a from the generator, u by a solve where the likelihood did not already need it."""
    if stale.any():
        a_fresh, u_fresh = obs.fields(xi[stale], not obs.needs_u)
        a[stale] = a_fresh
        if not obs.needs_u:
            u_now[stale] = u_fresh
        stale[:] = False


def _summarise(store_a: np.ndarray, store_u: np.ndarray, skip: np.ndarray, members: int) -> dict:
    """Means, stds, members and per-pixel diagnostics of stored draws (n, chains, kept, N, N)."""
    n, c, kept = store_a.shape[:3]
    pick = np.linspace(0, c * kept - 1, members).round().astype(int)
    out = {}
    for ch, draws in (("a", store_a), ("u", store_u)):
        out[ch] = draws.mean(axis=(1, 2))
        out[f"{ch}_std"] = draws.std(axis=(1, 2), ddof=1)
        pooled = draws.transpose(0, 2, 1, 3, 4).reshape(n, kept * c, *draws.shape[-2:])  # draw-major
        out[f"{ch}_members"] = pooled[:, pick]
        rmax, rmed, emin = np.ones(n), np.ones(n), np.full(n, float(c * kept))
        for i in range(n):
            free = ~skip[i, 0 if ch == "a" else 1]
            if free.any():
                rhat = split_rhat(draws[i][..., free])
                ess = ess_bulk(draws[i][..., free])
                varies = np.isfinite(ess)  # constant pixels (R-hat 1) would flatter the median
                rmax[i] = rhat.max()
                if varies.any():
                    rmed[i], emin[i] = np.median(rhat[varies]), ess[varies].min()
        out[f"rhat_{ch}"], out[f"rhat_{ch}_median"], out[f"ess_{ch}"] = rmax, rmed, emin
    return out
