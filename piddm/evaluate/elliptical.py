"""Elliptical slice sampling of the generator's posterior, with exactly observed level-set inputs imposed exactly.

The same target as :func:`piddm.evaluate.mcmc.pcn_posterior` (the posterior over the latent xi ~ N(0, I)
given observed pixels of (a, u)), sampled by elliptical slice sampling (Murray, Adams and MacKay 2010):
each step draws nu ~ N(0, I) and moves along the ellipse xi cos t + nu sin t, which keeps the prior
invariant, to an angle whose likelihood exceeds a uniform level under the current one: the first angle
t0 ~ U[0, 2 pi) with the bracket [t0 - 2 pi, t0], which is then shrunk toward the current state until an
angle is accepted. There is no step size to tune and every step moves.

Where the input is a level set of a Gaussian field linear in xi (Darcy: a = a_high where g(xi) >= 0;
:meth:`pde_bench.problems.base.Problem.level_field`), an exactly observed a fixes the sign of g at that
pixel: a half-space of xi. On an ellipse each half-space is an arc of half the circle, and the arcs of all
of them meet in one arc about the current state, computed exactly; the first angle is uniform on that arc
and the bracket starts as the arc (as in the linearly constrained sampler of Gessner, Kanjilal and Hennig
2020). The arc is the same set of points from any feasible state on the ellipse, so the move stays
reversible (with no constraint the circle has no ends: hence the randomly placed bracket above). The a
observations thus hold exactly in every draw, with no likelihood std standing in for them: with a alone
observed (Darcy forward) the target is the exact posterior, a Gaussian truncated to the observed signs,
and no step needs a solve. Other observations (u; a with noise, or of a problem without a level field)
enter through the Gaussian likelihood of :class:`piddm.evaluate.mcmc.PCNSettings`, tempered during
burn-in as there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from pde_bench.conventions import InputError
from pde_bench.problems.base import Problem

from .mcmc import PCNSettings, _check_observations, _Observed, _summarise, _Tempering, refresh_stale

__all__ = ["feasible_arc", "first_bracket", "elliptical_posterior"]

_MAX_SHRINKS = 100  # brackets shrink geometrically toward the current state: a step that needs more stays put


def feasible_arc(p: np.ndarray, q: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The angles [lo, hi] (lo <= 0 <= hi) of the arc about t = 0 on which every constraint
    signs * (p cos t + q sin t) >= 0 holds; p, q, signs (..., m), a sign of 0 meaning no constraint.

    s (p cos t + q sin t) = R cos(t - c) with c = atan2(s q, s p): a half-circle centred on c. The
    current state (t = 0) satisfies every constraint, so |c| <= pi / 2 and the half-circles meet in the
    arc from the largest c - pi / 2 to the smallest c + pi / 2.
    """
    active = (signs != 0) & (p * p + q * q > 0)  # a row of zeros constrains nothing
    centre = np.arctan2(signs * q, signs * p)
    lo = np.where(active, centre - math.pi / 2, -math.pi).max(axis=-1, initial=-math.pi)
    hi = np.where(active, centre + math.pi / 2, math.pi).min(axis=-1, initial=math.pi)
    return np.minimum(lo, 0.0), np.maximum(hi, 0.0)  # a state on a boundary (rounding) keeps t = 0


def _constraints(problem: Problem, mask: np.ndarray, values: np.ndarray, noise: np.ndarray):
    """Rows (n, m, d) of the level field at each sample's exactly observed a pixels and their signs (n, m)
    (zero-padded), or None where a is not observed exactly or the problem has no level field."""
    n, n_side = len(mask), mask.shape[-1]
    shape = problem.normals_shape(n_side)
    d = int(np.prod(shape))
    if noise[0] != 0 or not mask[:, 0].any() or problem.level_field(np.zeros((1, *shape))) is None:
        return None
    basis = problem.level_field(np.eye(d).reshape(d, *shape)).reshape(d, -1)  # row k: g of the unit vector e_k
    m = int(mask[:, 0].reshape(n, -1).sum(axis=1).max())
    rows, signs = np.zeros((n, m, d)), np.zeros((n, m))
    for i in range(n):
        pix = np.flatnonzero(mask[i, 0])
        rows[i, :len(pix)] = basis[:, pix].T
        signs[i, :len(pix)] = problem.level_signs(values[i, 0].reshape(-1)[pix])
    return rows, signs


def _feasible_starts(rows: np.ndarray, signs: np.ndarray, xi: np.ndarray, rounds: int = 20) -> np.ndarray:
    """Prior draws xi (n, c, d) moved the least to satisfy every constraint: g at the constrained pixels set
    to its own magnitude (at least 0.05 of its prior std) with the observed sign, by minimum-norm steps,
    repeated while rounding (or a rank-deficient set of rows) leaves a constraint unmet."""
    out = xi.copy()
    for i in range(len(xi)):
        keep = signs[i] != 0
        if not keep.any():
            continue
        rows_i, s = rows[i, keep], signs[i, keep]
        floor = 0.05 * np.sqrt((rows_i**2).sum(axis=1))
        pinv = np.linalg.pinv(rows_i)
        for _ in range(rounds):
            g = out[i] @ rows_i.T
            if (s * g > 0).all():
                break
            out[i] += (s * np.maximum(np.abs(g), floor) - g) @ pinv.T
        else:
            raise InputError(f"elliptical: no latent found that satisfies all {int(keep.sum())} observed a pixels "
                             "(conflicting or too many observations); try bayes.sampler=pcn")
    return out


def elliptical_posterior(problem: Problem, mask, values, noise, settings: PCNSettings,
                         on_progress: Callable[[int], None] | None = None) -> dict:
    """Posterior of (a, u) of each sample given its observed pixels, by elliptical slice sampling over xi.

    Arguments and returned arrays as :func:`piddm.evaluate.mcmc.pcn_posterior` (its settings; ``beta``,
    ``target_accept``, ``precondition`` and ``fd_step`` do not apply), except: ``acceptance`` (n, chains)
    is the share of proposals accepted in the kept steps (every step moves; 1 / acceptance proposals per
    step), ``stuck`` (n, chains) counts kept steps that ran out of shrinks, ``exact_a`` (bool) says
    whether the a observations were imposed as exact constraints, and ``solves`` counts solver calls.
    """
    t0 = time.perf_counter()
    s = settings.check()
    mask, values, noise = _check_observations(mask, values, noise)
    n, n_side, c = len(mask), mask.shape[-1], s.chains
    constraints = _constraints(problem, mask, values, noise)
    lik_mask = mask.copy()
    if constraints is not None:
        lik_mask[:, 0] = False  # imposed exactly, not through the likelihood
    obs = _Observed(problem, lik_mask, values)
    temper = _Tempering(problem, n_side, noise, s)
    d = int(np.prod(obs.shape))
    rngs = [np.random.default_rng([int(s.seed), i]) for i in range(n)]

    xi = np.stack([rng.standard_normal((c, d)) for rng in rngs])
    if constraints is not None:
        xi = _feasible_starts(*constraints, xi)
    a, u = obs.fields(xi, obs.needs_u)
    resid = obs.residuals(a, u) if obs.size else np.zeros((n, c, 0))
    u_now = u.copy() if obs.needs_u else np.zeros_like(a)
    stale = np.ones((n, c), dtype=bool)  # stored a (and u, where unobserved) are computed when stored
    proposals, stuck = np.zeros((n, c)), np.zeros((n, c))
    kept = s.steps // s.thin
    store_a = np.empty((n, c, kept, n_side, n_side))
    store_u = np.empty_like(store_a)
    total, reported, every = s.burn + s.steps, 0, max(1, (s.burn + s.steps) // 100)
    for t in range(total):
        scale = obs.scale(temper.std(t))[:, None]
        nu = np.stack([rng.standard_normal((c, d)) for rng in rngs])
        level = (-0.5 * ((resid / scale) ** 2).sum(axis=-1)
                 + np.log(np.stack([rng.random(c) for rng in rngs])))
        if constraints is not None:
            rows, signs = constraints
            lo, hi = feasible_arc(np.einsum("nmd,ncd->ncm", rows, xi), np.einsum("nmd,ncd->ncm", rows, nu),
                                  signs[:, None])
        else:
            lo, hi = np.full((n, c), -math.pi), np.full((n, c), math.pi)
        lo, hi, theta = first_bracket(lo, hi, np.stack([rng.random(c) for rng in rngs]))
        tries, moved = _slice_step(obs, xi, nu, theta, lo, hi, level, scale, rngs, a, resid, u_now)
        stale |= moved
        if t >= s.burn:
            proposals += tries
            stuck += ~moved
            k, r = divmod(t - s.burn + 1, s.thin)
            if r == 0:
                refresh_stale(obs, xi, stale, a, u_now)
                store_a[:, :, k - 1], store_u[:, :, k - 1] = a, u_now
        if on_progress and (t + 1 - reported >= every or t + 1 == total):
            on_progress(t + 1 - reported)
            reported = t + 1
    out = _summarise(store_a, store_u, mask & (noise == 0)[None, :, None, None], s.members)
    out.update(acceptance=(s.steps - stuck) / np.maximum(proposals, 1), stuck=stuck, exact_a=constraints is not None,
               solves=obs.solves / n, seconds=time.perf_counter() - t0)
    return out


def first_bracket(lo: np.ndarray, hi: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first angle and the bracket of a step, from the feasible arcs [lo, hi] and uniforms ``unit`` in [0, 1).

    On an arc with ends (a constraint holds) the angle is uniform on it and the arc is the bracket. On the
    whole circle (lo = -pi, hi = pi: no constraint) the angle t0 = 2 pi unit and the bracket [t0 - 2 pi, t0],
    as Murray, Adams and MacKay: a bracket cut at a fixed point opposite the state would not be reversible.
    """
    whole = (lo <= -math.pi) & (hi >= math.pi)
    theta = np.where(whole, 2 * math.pi * unit, lo + (hi - lo) * unit)
    return np.where(whole, theta - 2 * math.pi, lo), np.where(whole, theta, hi), theta


def _slice_step(obs: _Observed, xi, nu, theta, lo, hi, level, scale, rngs, a, resid, u_now):
    """One elliptical slice step of every chain from first angles theta and brackets [lo, hi], in place on xi
    (and a, resid, u_now where the likelihood needed them). Returns the proposals made (n, c) and which
    chains moved."""
    n, c = xi.shape[:2]
    tries, moved = np.zeros((n, c)), np.zeros((n, c), dtype=bool)
    if not obs.size:  # no likelihood: the first angle of the feasible arc is accepted
        xi[:] = xi * np.cos(theta)[..., None] + nu * np.sin(theta)[..., None]
        return tries + 1, ~moved
    pending = np.ones((n, c), dtype=bool)
    for _ in range(_MAX_SHRINKS):
        idx = np.nonzero(pending)
        proposal = xi[idx] * np.cos(theta[idx])[:, None] + nu[idx] * np.sin(theta[idx])[:, None]
        a_new, u_new = obs.fields(proposal, obs.needs_u)
        r_new = np.stack([obs.values(i, a_new[k], None if u_new is None else u_new[k]) - obs.y[i]
                          for k, i in enumerate(idx[0])])
        ok = -0.5 * ((r_new / scale[idx[0], 0]) ** 2).sum(axis=-1) > level[idx]
        tries[idx] += 1
        take = tuple(ix[ok] for ix in idx)
        xi[take], resid[take], a[take] = proposal[ok], r_new[ok], a_new[ok]
        if obs.needs_u:
            u_now[take] = u_new[ok]
        moved[take], pending[take] = True, False
        if not pending.any():
            break
        low = pending & (theta < 0)
        lo[low], hi[pending & ~low] = theta[low], theta[pending & ~low]
        theta = np.where(pending, _uniform(rngs, lo, hi), theta)
    return tries, moved


def _uniform(rngs, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform angles in [lo, hi) (n, c), sample i's from its own generator."""
    return lo + (hi - lo) * np.stack([rng.random(lo.shape[1]) for rng in rngs])
