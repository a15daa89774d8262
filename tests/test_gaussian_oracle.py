"""The Gaussian oracle of piddm.evaluate.oracle: exact maps, exact conditioning, calibration."""

import numpy as np
import pytest

from pde_bench.conventions import InputError
from pde_bench.problems import get_problem
from pde_bench.random_fields import grf_cosine
from piddm.evaluate.oracle import gaussian_posterior, linear_maps, posterior

N = 12


@pytest.mark.parametrize("pde", ["poisson", "helmholtz"])
def test_maps_reproduce_the_generator(pde):
    problem = get_problem(pde)
    S, LS = linear_maps(problem, N)
    xi = np.random.default_rng(0).standard_normal((3, N, N))
    a = grf_cosine(xi, problem.params["alpha"], problem.params["tau"])
    if problem.zero_boundary_input:
        a[:, 0, :] = a[:, -1, :] = a[:, :, 0] = a[:, :, -1] = 0.0
    np.testing.assert_allclose((S @ xi.reshape(3, -1).T).T.reshape(a.shape), a, atol=1e-12)
    np.testing.assert_allclose((LS @ xi.reshape(3, -1).T).T.reshape(a.shape), problem.solve(a), atol=1e-12)


@pytest.mark.parametrize("pde", ["darcy", "navier-stokes"])
def test_nonlinear_or_non_gaussian_problems_are_refused(pde):
    with pytest.raises(InputError, match="not a linear problem"):
        linear_maps(get_problem(pde), N)


def test_all_of_a_observed_gives_the_solution():
    S, LS = linear_maps(get_problem("poisson"), N)
    xi = np.random.default_rng(1).standard_normal(N * N)
    a, u = (S @ xi).reshape(N, N), (LS @ xi).reshape(N, N)
    post = posterior(S, LS, np.ones((N, N), bool), np.zeros((N, N), bool), a, u)
    np.testing.assert_allclose(post["a"], a, atol=1e-9)
    np.testing.assert_allclose(post["u"], u, atol=1e-9 * np.abs(u).max())
    assert post["u_std"].max() < 1e-6 * np.abs(u).max()
    assert post["consistency"] < 1e-9


def test_observed_pixels_are_kept_and_nothing_observed_gives_the_prior():
    problem = get_problem("helmholtz")
    S, LS = linear_maps(problem, N)
    a, u = problem.generate(n=1, resolution=N, seed=3)
    rng = np.random.default_rng(3)
    mask_a, mask_u = rng.random((N, N)) < 0.2, rng.random((N, N)) < 0.2
    post = posterior(S, LS, mask_a, mask_u, a[0], u[0])
    np.testing.assert_allclose(post["a"][mask_a], a[0][mask_a], atol=1e-8 * np.abs(a).max())
    np.testing.assert_allclose(post["u"][mask_u], u[0][mask_u], atol=1e-8 * np.abs(u).max())
    assert post["a_std"][mask_a].max() < 1e-5 * post["a_std"].max()
    prior = posterior(S, LS, np.zeros((N, N), bool), np.zeros((N, N), bool), a[0], u[0])
    assert np.abs(prior["a"]).max() == 0 and np.abs(prior["u"]).max() == 0
    np.testing.assert_allclose(prior["a_std"] ** 2, (S * S).sum(1).reshape(N, N), rtol=1e-12)
    assert prior["consistency"] == 0.0


def test_posterior_std_is_calibrated():
    """Truths drawn from the prior fall within mean +- 2 std about 95 % of the time."""
    S, LS = linear_maps(get_problem("poisson"), N)
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


def test_batched_posterior_is_the_per_sample_one():
    problem = get_problem("poisson")
    a, u = problem.generate(n=3, resolution=N, seed=4)
    rng = np.random.default_rng(4)
    mask = rng.random((3, 2, N, N)) < 0.15
    mask[1, 0] = False                                   # a sample observing u only
    values = np.where(mask, np.stack([a, u], 1), np.nan)  # unobserved pixels are never read
    post = gaussian_posterior(problem, mask, values)
    assert set(post) == {"a", "u", "a_std", "u_std", "consistency"}
    assert post["a"].shape == post["u_std"].shape == (3, N, N) and post["consistency"].shape == (3,)
    assert np.isfinite(post["a"]).all() and post["consistency"].max() < 1e-9
    S, LS = linear_maps(problem, N)
    for i in range(3):
        one = posterior(S, LS, mask[i, 0], mask[i, 1], a[i], u[i])
        for k in ("a", "u", "a_std", "u_std"):
            np.testing.assert_array_equal(post[k][i], one[k])
    with pytest.raises(InputError, match="not a linear problem"):
        gaussian_posterior(get_problem("darcy"), mask, values)
