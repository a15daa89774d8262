""""Then the solver": any method's estimate of a mapped through the problem's numerical solver.

Where the wanted field is u and a can be estimated, u = solve(a) is exact physics for the
estimated a: Darcy's forward problem with a kriged, nearest or PIDDM a. The answer's u is the
solver's u of the answer's (finalised) a, so the pair has zero residual up to the solver's
round-off; each member's a is solved too, for the spread (std, CRPS, coverage), and the best
member's a for the best u. Observed u pixels are *not* imposed. A variant is its own registry
entry (``<method>-solver``), takes the wrapped method's settings and tuned defaults, and reports
the solver's time inside its seconds per sample. In a comparison that also runs the wrapped
method with the same settings, its result is reused (``SolveContext.cache``), so the variant
costs only the solves; its seconds per sample still include the wrapped method's.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .method import Method

__all__ = ["result_key", "then_solver"]


def result_key(name: str, settings, obs) -> tuple:
    """Where a comparison keeps a method's result on one observation, for a variant to reuse."""
    return ("result", name, repr(settings.to_dict()), id(obs))


def then_solver(method: Method) -> Method:
    """The registry entry ``<name>-solver``: ``method``, then u = problem.solve(a) for every member."""

    def solve(context, obs, settings, sample_ids=None, on_progress=None):
        result = context.cache.get(result_key(method.name, settings, obs))  # the wrapped method already ran here
        if result is None:
            result = method.solve(context, obs, settings, sample_ids, on_progress)
        elif on_progress:
            on_progress(len(obs))
        t0 = time.perf_counter()
        problem = context.physics.problem
        n, k, res, _ = result.a_members.shape
        u_members = np.asarray(problem.solve(result.a_members.reshape(n * k, res, res)), np.float64)
        u_members = u_members.reshape(n, k, res, res)
        u = np.asarray(problem.solve(result.a), np.float64)
        u_best = np.asarray(problem.solve(result.a_best), np.float64)
        seconds = time.perf_counter() - t0
        exact = tuple(ch for ch in result.extra.get("exact_std", ()) if ch != "u")  # u's spread: the members'
        return replace(result, u=u, u_std=u_members.std(1), u_best=u_best, u_members=u_members,
                       seconds=result.seconds + seconds,
                       extra={**result.extra, "exact_std": exact, "solver_seconds": seconds})

    return Method(name=f"{method.name}-solver", label=f"{method.label} → solver", solve=solve,
                  settings=method.settings, time_matched=method.time_matched, role=method.role,
                  needs_train=method.needs_train, tuned_as=method.tuned_as or method.name,
                  describe=lambda s: (f"{method.describe(s)}; then u = the numerical solver's u of its a (and of each "
                                      "member's a, for the spread; observed u not imposed)"))
