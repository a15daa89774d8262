"""The Bayes limit: the posterior of the data generator itself, the floor no method beats on average.

Every problem's input is a known map of standard normals xi (its generator), and u = solve(a).
Given the observed pixels, the posterior mean of (a, u) is the minimum mean-squared-error
estimate: no method, learned or not, has a lower expected squared error on this data.

- Poisson and Helmholtz (linear, Gaussian a): the exact Gaussian posterior
  (:func:`piddm.evaluate.oracle.gaussian_posterior`), with exact posterior draws as members.
- Darcy (a = threshold of a Gaussian field) and Navier–Stokes (w0 Gaussian, u = w(T) through the
  nonlinear flow): MCMC over xi with the likelihood of the observed pixels through the numerical
  solver, by preconditioned Crank–Nicolson (:func:`piddm.evaluate.mcmc.pcn_posterior`) or elliptical
  slice sampling (:func:`piddm.evaluate.elliptical.elliptical_posterior`, which imposes exactly
  observed Darcy a as exact constraints; ``sampler`` chooses); other exact
  observations get a small likelihood std (``likelihood_std`` × the channel's prior std) whose
  limit is the exact posterior. The chains' diagnostics (acceptance, split R-hat, bulk ESS) go
  into the result's ``extra`` and the report.

It knows the generator's covariance, as no practical method does: a bound, reported last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from pde_bench.problems.screened_poisson import ScreenedPoisson

from ..evaluate.mcmc import PCNSettings

from .method import Method, SolveContext
from .objective import impose
from .observation import Observation
from .result import SolveResult

__all__ = ["METHOD", "BayesSettings", "solve_bayes"]


@dataclass
class BayesSettings(PCNSettings):
    """The MCMC's settings (:class:`piddm.evaluate.mcmc.PCNSettings`; the exact Gaussian posterior reads only
    ``members`` and ``seed``). Tuned per (problem, task) in :mod:`piddm.defaults`."""

    def pcn(self) -> PCNSettings:
        return PCNSettings(**asdict(self))


def exact(problem) -> bool:
    """Whether the exact Gaussian posterior applies (linear problem, Gaussian input)."""
    return isinstance(problem, ScreenedPoisson)


def solve_bayes(context: SolveContext, obs: Observation, settings: BayesSettings,
                sample_ids: np.ndarray | None = None,
                on_progress: Callable[[int], None] | None = None) -> SolveResult:
    """Posterior mean, std and draws of every sample under the data generator's own prior."""
    settings.check()
    problem = context.physics.problem
    ids = np.arange(len(obs)) if sample_ids is None else np.asarray(sample_ids)
    t0 = time.perf_counter()
    if exact(problem):
        post = _exact(problem, obs, settings, ids, on_progress)
    else:
        post = _mcmc(problem, obs, settings, ids, on_progress)
    seconds = time.perf_counter() - t0
    every = slice(0, len(obs))
    mean = {ch: impose(post[ch], obs, c, every) for c, ch in enumerate(("a", "u"))}
    members = {ch: impose(post[f"{ch}_members"], obs, c, every) for c, ch in enumerate(("a", "u"))}
    extra = {k: v for k, v in post.items() if k not in ("a", "u", "a_std", "u_std", "a_members", "u_members")}
    return SolveResult.posterior(problem, mean, {"a": post["a_std"], "u": post["u_std"]}, members,
                                 loss=np.zeros((len(obs), 1)), nfe=0, grad_evals=0, seconds=seconds, extra=extra)


def _exact(problem, obs, settings, ids, on_progress) -> dict:
    from ..evaluate.oracle import gaussian_posterior

    post = gaussian_posterior(problem, obs.mask, obs.values, obs.noise, settings.members, settings.seed, ids)
    if on_progress:
        on_progress(len(obs))
    post["a_members"], post["u_members"] = post.pop("a_draws"), post.pop("u_draws")
    post["posterior"] = "exact Gaussian"
    return post


def _mcmc(problem, obs, settings, ids, on_progress) -> dict:
    from ..evaluate.elliptical import elliptical_posterior
    from ..evaluate.mcmc import pcn_posterior

    sample = elliptical_posterior if settings.sampler == "elliptical" else pcn_posterior
    out = []
    for i in range(len(obs)):  # one sample at a time: its own chains, seeds from its sample id
        pcn = replace(settings.pcn(), seed=int(settings.seed) * 1_000_003 + int(ids[i]))
        out.append(sample(problem, obs.mask[i:i + 1], obs.values[i:i + 1], np.asarray(obs.noise), pcn))
        if on_progress:
            on_progress(1)
    post = {k: np.concatenate([o[k] for o in out]) for k in out[0] if isinstance(out[0][k], np.ndarray)}
    post["solves"] = float(np.mean([o["solves"] for o in out]))
    post["posterior"] = "elliptical slice MCMC" if settings.sampler == "elliptical" else "pCN MCMC"
    if settings.sampler == "elliptical":
        post["exact_a"] = bool(all(o["exact_a"] for o in out))
    return post


def _describe(s: BayesSettings) -> str:
    sampler = ("elliptical slice sampling, exactly observed Darcy a imposed as exact sign constraints"
               if s.sampler == "elliptical" else "pCN")
    if s.rungs > 1:
        sampler += (f" with replica exchange ({s.rungs} rungs of likelihood std up to {s.top_std:g} × prior std, "
                    "the bottom rung kept)")
    return (f"the posterior mean under the data generator's own prior: exact Gaussian posterior for the linear "
            f"problems (Poisson, Helmholtz), else MCMC by {sampler} ({s.chains} chains × ({s.burn} burn-in + "
            f"{s.steps} kept steps), thinned by {s.thin}, likelihood std {s.likelihood_std:g} × prior std for other "
            f"exact observations); {s.members} posterior draws as members")


METHOD = Method(name="bayes", label="Bayes limit", solve=solve_bayes, settings=BayesSettings, describe=_describe,
                role="bound")

