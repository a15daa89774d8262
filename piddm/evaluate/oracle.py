"""The Bayes limit of the linear problems: the exact Gaussian posterior (DESIGN.md rule 8).

Poisson and Helmholtz are linear, u = L a, and their inputs are Gaussian, a = S xi with xi
standard normal (the cosine GRF of ``pde_bench.random_fields``). Given noise-free observations
y = B xi of any pixels of a and u, the posterior of xi is Gaussian with mean B^T (B B^T)^+ y
and covariance I - B^T (B B^T)^+ B; its a and u are the minimum mean-squared-error estimates:
no method, learned or not, has a lower expected squared error on this data. This oracle knows
the data generator's covariance, as no practical method does, so it bounds how far any method
can improve on a baseline, and its posterior std shows what calibrated uncertainty looks like.
"""

from __future__ import annotations

import numpy as np

from pde_bench.conventions import InputError
from pde_bench.problems.base import Problem
from pde_bench.problems.screened_poisson import ScreenedPoisson
from pde_bench.random_fields import grf_cosine

__all__ = ["gaussian_posterior", "linear_maps", "posterior"]

_MAPS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def linear_maps(problem: Problem, n_side: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, LS): the matrices (N², N²) taking standard normals xi to a and to u = solve(a).

    Built by pushing the N² unit vectors through the problem's own generator and solver, so
    they are exact for its data. Raises InputError for a problem that is not linear with a
    Gaussian input.
    """
    if not isinstance(problem, ScreenedPoisson):
        raise InputError(f"{problem.name} is not a linear problem with a Gaussian input; the Gaussian "
                         "oracle needs one (poisson, helmholtz)")
    dim = n_side * n_side
    basis = np.eye(dim).reshape(dim, n_side, n_side)
    a = grf_cosine(basis, problem.params["alpha"], problem.params["tau"])
    if problem.zero_boundary_input:
        a[:, 0, :] = a[:, -1, :] = a[:, :, 0] = a[:, :, -1] = 0.0
    u = problem.solve(a)
    return a.reshape(dim, dim).T, u.reshape(dim, dim).T


def posterior(S: np.ndarray, LS: np.ndarray, mask_a: np.ndarray, mask_u: np.ndarray, a_values: np.ndarray,
              u_values: np.ndarray, noise: tuple[float, float] = (0.0, 0.0), draws: int = 0,
              rng: np.random.Generator | None = None) -> dict:
    """Posterior mean and std of a and u of one sample (N, N) given its observed pixels.

    Only the values at observed pixels (``mask_a``, ``mask_u`` bool (N, N)) are read; ``noise``
    is the observation noise std of a and u (physical units; 0: exact). ``consistency`` is the
    largest misfit of the posterior mean at the observations, relative to the largest observed
    value (about 1e-12 when exact observations are consistent). With ``draws`` > 0 also
    ``a_draws``, ``u_draws`` (draws, N, N): exact posterior samples by pathwise conditioning
    (a prior draw xi~ moved by B^T G^+ (y - B xi~ - e), e the observation noise).
    """
    ia, iu = np.asarray(mask_a, bool).ravel(), np.asarray(mask_u, bool).ravel()
    shape = np.shape(a_values)
    B = np.concatenate([S[ia], LS[iu]])
    y = np.concatenate([np.asarray(a_values, np.float64).ravel()[ia], np.asarray(u_values, np.float64).ravel()[iu]])
    noise_std = np.concatenate([np.full(ia.sum(), float(noise[0])), np.full(iu.sum(), float(noise[1]))])
    gram_pinv = np.linalg.pinv(B @ B.T + np.diag(noise_std**2), rcond=1e-10, hermitian=True)
    xi = B.T @ (gram_pinv @ y)
    out = {}
    for name, M in (("a", S), ("u", LS)):
        out[name] = (M @ xi).reshape(shape)
        MB = M @ B.T                                   # var = diag(M (I - B^T G B) M^T)
        var = (M * M).sum(1) - ((MB @ gram_pinv) * MB).sum(1)
        out[f"{name}_std"] = np.sqrt(np.clip(var, 0.0, None)).reshape(shape)
    out["consistency"] = float(np.abs(B @ xi - y).max() / max(np.abs(y).max(), 1e-30)) if len(y) else 0.0
    if draws:
        rng = rng or np.random.default_rng(0)
        prior = rng.standard_normal((draws, S.shape[1]))
        e = rng.standard_normal((draws, len(y))) * noise_std
        xs = prior + (y - prior @ B.T - e) @ gram_pinv @ B
        out["a_draws"] = (xs @ S.T).reshape(draws, *shape)
        out["u_draws"] = (xs @ LS.T).reshape(draws, *shape)
    return out


def _cached_maps(problem: Problem, n_side: int) -> tuple[np.ndarray, np.ndarray]:
    key = (type(problem).__name__, tuple(sorted(problem.params.items())), n_side)
    if key not in _MAPS:
        _MAPS[key] = linear_maps(problem, n_side)
    return _MAPS[key]


def gaussian_posterior(problem: Problem, mask, values, noise: tuple[float, float] = (0.0, 0.0), draws: int = 0,
                       seed: int = 0, sample_ids=None) -> dict[str, np.ndarray]:
    """The exact posterior of every sample: mean and std of a and u, (n, N, N) each.

    ``mask`` bool (n, 2, N, N) marks the observed pixels of (a, u); ``values`` (n, 2, N, N)
    holds the physical values there (elsewhere ignored); ``noise`` the observation noise std per
    channel. ``consistency`` (n,) is each sample's relative misfit at the observations. With
    ``draws`` > 0 also ``a_draws``, ``u_draws`` (n, draws, N, N), sample i's drawn from the
    stream (seed, sample_ids[i]). The maps are built once per problem and resolution.
    """
    mask = np.asarray(mask, dtype=bool)
    values = np.asarray(values, dtype=np.float64)
    if mask.ndim != 4 or mask.shape[1] != 2 or mask.shape != values.shape:
        raise InputError(f"mask and values must both be shaped (n, 2, N, N), got {mask.shape} and {values.shape}")
    S, LS = _cached_maps(problem, mask.shape[-1])
    ids = np.arange(len(mask)) if sample_ids is None else np.asarray(sample_ids)
    posts = [posterior(S, LS, m[0], m[1], v[0], v[1], noise, draws, np.random.default_rng([int(seed), int(i)]))
             for m, v, i in zip(mask, values, ids)]
    keys = ("a", "u", "a_std", "u_std") + (("a_draws", "u_draws") if draws else ())
    out = {k: np.stack([p[k] for p in posts]) if posts else np.zeros((0, *mask.shape[2:])) for k in keys}
    out["consistency"] = np.array([p["consistency"] for p in posts], dtype=np.float64)
    return out
