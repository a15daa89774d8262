"""The Gaussian oracle of benchmarks/gaussian_oracle.py: exact maps, exact conditioning, calibration."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gaussian_oracle import linear_maps, posterior

from pde_bench.problems import get_problem
from pde_bench.random_fields import grf_cosine

N = 12


@pytest.mark.parametrize("pde", ["poisson", "helmholtz"])
def test_maps_reproduce_the_generator(pde):
    S, LS = linear_maps(pde, N)
    problem = get_problem(pde)
    xi = np.random.default_rng(0).standard_normal((3, N, N))
    a = grf_cosine(xi, problem.params["alpha"], problem.params["tau"])
    if problem.zero_boundary_input:
        a[:, 0, :] = a[:, -1, :] = a[:, :, 0] = a[:, :, -1] = 0.0
    np.testing.assert_allclose((S @ xi.reshape(3, -1).T).T.reshape(a.shape), a, atol=1e-12)
    np.testing.assert_allclose((LS @ xi.reshape(3, -1).T).T.reshape(a.shape), problem.solve(a), atol=1e-12)


def test_all_of_a_observed_gives_the_solution():
    S, LS = linear_maps("poisson", N)
    xi = np.random.default_rng(1).standard_normal(N * N)
    a, u = (S @ xi).reshape(N, N), (LS @ xi).reshape(N, N)
    post = posterior(S, LS, np.ones((N, N), bool), np.zeros((N, N), bool), a, u)
    np.testing.assert_allclose(post["a"], a, atol=1e-9)
    np.testing.assert_allclose(post["u"], u, atol=1e-9 * np.abs(u).max())
    assert post["u_std"].max() < 1e-6 * np.abs(u).max()


def test_posterior_std_is_calibrated():
    """Truths drawn from the prior fall within mean +- 2 std about 95 % of the time."""
    S, LS = linear_maps("poisson", N)
    rng = np.random.default_rng(2)
    z = []
    for _ in range(60):
        xi = rng.standard_normal(N * N)
        a, u = (S @ xi).reshape(N, N), (LS @ xi).reshape(N, N)
        mask_u = rng.random((N, N)) < 0.1
        post = posterior(S, LS, np.zeros((N, N), bool), mask_u, a, u)
        free = ~mask_u & (post["a_std"] > 0)
        z.append(((a - post["a"]) / np.where(free, post["a_std"], 1.0))[free])
    z = np.concatenate(z)
    assert abs(np.mean(z**2) - 1.0) < 0.15
    assert 0.92 < np.mean(np.abs(z) <= 2) < 0.98
