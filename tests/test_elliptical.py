"""Elliptical slice sampling of the Bayes limit: exact constraints from observed level-set inputs, and the
posterior against closed forms."""

import math

import numpy as np
import pytest

from pde_bench import get_problem
from pde_bench.conventions import InputError
from piddm.evaluate.elliptical import elliptical_posterior, feasible_arc, first_bracket
from piddm.evaluate.mcmc import PCNSettings
from piddm.evaluate.oracle import gaussian_posterior
from test_mcmc import Cubic, observe


def test_feasible_arc_is_exactly_the_set_of_angles_that_keep_every_constraint():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = int(rng.integers(1, 6))
        p, q = rng.standard_normal(m), rng.standard_normal(m)
        signs = np.sign(p) * np.where(rng.random(m) < 0.8, 1.0, 0.0)  # t = 0 feasible; some rows unconstrained
        lo, hi = feasible_arc(p, q, signs)
        assert -math.pi <= lo <= 0.0 <= hi <= math.pi
        t = np.linspace(-math.pi, math.pi, 4001)
        ok = (signs[:, None] * (p[:, None] * np.cos(t) + q[:, None] * np.sin(t)) >= 0).all(axis=0)
        inside = (t > lo + 1e-9) & (t < hi - 1e-9)
        assert ok[inside].all()
        # the connected piece of the feasible set around t = 0 ends at the arc's ends
        outside = (t < lo - 1e-3) | (t > hi + 1e-3)
        near = outside & (np.abs(t - lo) < 0.01) | outside & (np.abs(t - hi) < 0.01)
        assert not ok[near].any() or (lo == -math.pi and hi == math.pi)
    lo, hi = feasible_arc(np.zeros(0), np.zeros(0), np.zeros(0))
    assert (lo, hi) == (-math.pi, math.pi)
    for sign in (-1.0, 1.0):  # a row of zeros constrains nothing, whatever its sign
        assert feasible_arc(np.zeros(2), np.zeros(2), np.array([sign, 0.0])) == (-math.pi, math.pi)


def test_first_bracket_is_the_arc_or_murrays_random_cut_of_the_whole_circle():
    lo, hi = np.array([-0.5, -math.pi]), np.array([0.25, math.pi])
    b_lo, b_hi, theta = first_bracket(lo, hi, np.array([0.2, 0.2]))
    assert (b_lo[0], b_hi[0]) == (-0.5, 0.25) and theta[0] == pytest.approx(-0.5 + 0.75 * 0.2)
    # no constraint: t0 = 2 pi u, bracket [t0 - 2 pi, t0] (a cut fixed opposite the state is not reversible)
    assert theta[1] == pytest.approx(0.4 * math.pi) and b_hi[1] == theta[1]
    assert b_lo[1] == pytest.approx(theta[1] - 2 * math.pi)


def test_darcy_two_observed_pixels_match_the_orthant_probabilities():
    # a observed exactly at pixels i, j: g is Gaussian, so with h = s g (s the observed signs) the posterior
    # P(g_k >= 0 | h_i >= 0, h_j >= 0) is a ratio of orthant probabilities with closed forms:
    # P(three >= 0) = 1/8 + (asin r_ki + asin r_kj + asin r_ij) / (4 pi), P(two >= 0) = 1/4 + asin r_ij / (2 pi).
    # Two constraints exercise the intersection of arcs.
    p, side = get_problem("darcy"), 8
    a, u = p.generate(1, side, seed=2)
    pix = (3 * side + 4, 5 * side + 5)
    mask = np.zeros((1, 2, side, side), bool)
    mask[0, 0].flat[list(pix)] = True
    s = PCNSettings(chains=4, burn=50, steps=6000, thin=6, sampler="elliptical")
    post = elliptical_posterior(p, mask, np.stack([a, u], 1), (0.0, 0.0), s)
    d = side * side
    basis = p.level_field(np.eye(d).reshape(d, side, side)).reshape(d, -1)
    cov = basis.T @ basis
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(np.maximum(sd, 1e-300), np.maximum(sd, 1e-300))
    (i, j), signs = pix, p.level_signs(a[0].reshape(-1)[list(pix)])
    r_ij = signs[0] * signs[1] * corr[i, j]
    assert 0.05 < abs(corr[i, j]) < 0.95  # the two constraints interact
    three = 0.125 + (np.arcsin(signs[0] * corr[:, i]) + np.arcsin(signs[1] * corr[:, j])
                     + np.arcsin(r_ij)) / (4 * math.pi)
    exact = 3.0 + 9.0 * three / (0.25 + np.arcsin(r_ij) / (2 * math.pi))
    free = np.ones(d, bool)
    free[list(pix)] = False
    err = np.abs(post["a"][0].ravel() - exact)[free]
    assert err.mean() < 0.12 and err.max() < 0.4  # a's std is about 4.5; some 3,000 effective draws
    assert np.all(post["a"][0].ravel()[list(pix)] == a[0].ravel()[list(pix)]) and post["exact_a"]
    assert np.all(post["acceptance"] == 1.0) and not post["stuck"].any()
    assert post["rhat_a"][0] < 1.05 and post["solves"] == s.chains * s.steps // s.thin


def test_fully_observed_a_gives_its_own_solution():
    # forward-full: every pixel's sign fixed; the start must still be found and u is solve(a)
    p, side = get_problem("darcy"), 8
    a, u = p.generate(1, side, seed=3)
    mask = np.zeros((1, 2, side, side), bool)
    mask[0, 0] = True
    post = elliptical_posterior(p, mask, np.stack([a, u], 1), (0.0, 0.0),
                                PCNSettings(chains=2, burn=5, steps=16, thin=4, sampler="elliptical"))
    np.testing.assert_array_equal(post["a"], a)
    np.testing.assert_allclose(post["u"], u, atol=1e-12)


def test_observed_a_holds_exactly_in_every_draw_and_u_fits():
    p, side = get_problem("darcy"), 16
    a, u = p.generate(1, side, seed=4)
    mask, values = observe(a, u, np.random.default_rng(0), 8, 3, (0.0, 0.0))
    mask[0, 1] &= u[0] != 0
    s = PCNSettings(chains=4, burn=200, steps=400, thin=4, likelihood_std=0.2, members=16, sampler="elliptical")
    calls = []
    post = elliptical_posterior(p, mask, values, (0.0, 0.0), s, on_progress=calls.append)
    assert sum(calls) == s.burn + s.steps
    for draw in post["a_members"][0]:
        np.testing.assert_array_equal(draw[mask[0, 0]], a[0][mask[0, 0]])
    assert np.all(post["a"][0][mask[0, 0]] == a[0][mask[0, 0]])
    sigma_u = 0.2 * np.sqrt(u.var())
    assert np.abs(post["u"][0][mask[0, 1]] - u[0][mask[0, 1]]).max() < 2 * sigma_u
    assert np.all((post["acceptance"] > 0.0) & (post["acceptance"] < 1.0))  # u's likelihood makes it shrink
    assert np.isfinite(post["rhat_u"]).all() and post["solves"] > s.chains * (s.burn + s.steps)


def test_conflicting_exact_observations_are_an_input_error():
    # A level field that is one number everywhere: a high pixel and a low pixel cannot both hold.
    darcy = get_problem("darcy")

    class Flat(type(darcy)):
        def level_field(self, xi):
            xi = self._normals(xi)
            return np.broadcast_to(xi.sum(axis=(-2, -1))[:, None, None], xi.shape).copy()

    p, side = Flat(), 8
    mask = np.zeros((1, 2, side, side), bool)
    mask[0, 0, 2, 2] = mask[0, 0, 5, 5] = True
    values = np.zeros((1, 2, side, side))
    values[0, 0, 2, 2], values[0, 0, 5, 5] = 12.0, 3.0
    with pytest.raises(InputError, match="conflicting"):
        elliptical_posterior(p, mask, values, (0.0, 0.0), PCNSettings(burn=0, steps=8, thin=1, sampler="elliptical"))


def test_poisson_posterior_mean_matches_the_exact_gaussian_posterior():
    # No level field: every observation enters through its (noisy) likelihood, plain elliptical slice sampling.
    p = get_problem("poisson")
    a, u = p.generate(2, 8, seed=3)
    noise = np.array([0.3 * a.std(), 0.3 * u.std()])
    mask, values = observe(a, u, np.random.default_rng(1), 4, 4, noise)
    exact = gaussian_posterior(p, mask, values, noise)
    post = elliptical_posterior(p, mask, values, noise, PCNSettings(chains=4, burn=100, steps=1500, thin=5,
                                                                    sampler="elliptical"))
    assert not post["exact_a"]
    for ch in "au":
        scale = exact[f"{ch}_std"].mean()
        assert np.abs(post[ch] - exact[ch]).mean() < 0.15 * scale
        assert abs(post[f"{ch}_std"].mean() / scale - 1) < 0.15
        assert np.all(post[f"rhat_{ch}"] < 1.1)


def test_nonlinear_posterior_mean_matches_quadrature():
    # As the pCN test: noisy u = a + 0.3 a^3 at 6 pixels, each a 1-D posterior integrated on a grid.
    p, side, sigma = Cubic(), 8, 0.6
    rng = np.random.default_rng(5)
    a = rng.standard_normal((1, side, side))
    mask, values = observe(a, p.solve(a), rng, 0, 6, (0.0, sigma))
    post = elliptical_posterior(p, mask, values, (0.0, sigma),
                                PCNSettings(burn=200, steps=3000, thin=5, seed=1, sampler="elliptical"))
    grid = np.linspace(-5, 5, 20001)
    for y in values[0, 1][mask[0, 1]]:
        w = np.exp(-0.5 * grid**2 - 0.5 * ((grid + 0.3 * grid**3 - y) / sigma) ** 2)
        w /= w.sum()
        exact_a = (w * grid).sum()
        std_a = np.sqrt((w * (grid - exact_a) ** 2).sum())
        pixel = np.isclose(values[0, 1], y) & mask[0, 1]
        assert abs(post["a"][0][pixel][0] - exact_a) < 0.12 * std_a
    # unobserved pixels keep the prior (mean 0). Whole-state moves shrink toward tight observations, so they
    # mix slower than pCN's informed moves (at a likelihood std of 0.3: split R-hat 1.28)
    assert np.abs(post["a"][0][~mask[0, 1]]).mean() < 0.15 and post["rhat_a"][0] < 1.2
