"""piddm.evaluate.metrics: accuracy, amplitude, relative residual, coverage and proper scores."""

import numpy as np
import pytest
import torch
from scipy import stats

import pde_bench
from pde_bench.metrics import normalised_residual
from piddm.evaluate.metrics import (
    amplitude_ratio,
    brier_vote,
    coverage,
    crps_ensemble,
    error_rate,
    fluctuation_scale,
    nominal_coverage,
    relative_l2,
    relative_residual,
)

LINEAR = ["poisson", "helmholtz"]


def test_relative_l2_and_error_rate_per_sample():
    true = np.zeros((2, 3, 3))
    true[0] = 2.0
    true[1, 0, 0] = 4.0
    pred = true.copy()
    pred[0, 1, 1] += 6.0                              # ||e|| = 6, ||true|| = 6
    np.testing.assert_allclose(relative_l2(pred, true), [1.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(relative_l2(true * 0.5, true), [0.5, 0.5], rtol=1e-15)
    two = np.where(np.random.default_rng(0).random((2, 4, 4)) < 0.5, 12.0, 3.0)
    wrong = two.copy()
    wrong[0, :2, 0] = 15.0 - wrong[0, :2, 0]           # flip two of 16 pixels
    np.testing.assert_array_equal(error_rate(wrong, two), [2 / 16, 0.0])


def test_amplitude_ratio_is_one_on_the_data_and_shrinks_with_the_fields():
    a, _ = pde_bench.get_problem("poisson").generate(n=16, resolution=16, seed=0)
    mean, rms = fluctuation_scale(a)
    np.testing.assert_allclose(mean, a.mean(0), rtol=1e-14)
    r = amplitude_ratio(a, mean, rms)
    assert r.shape == (16,)
    assert np.mean(r**2) == pytest.approx(1.0, rel=1e-12)  # the data's RMS by definition
    shrunk = mean + 0.3 * (a - mean)
    np.testing.assert_allclose(amplitude_ratio(shrunk, mean, rms), 0.3 * r, rtol=1e-12)
    np.testing.assert_allclose(amplitude_ratio(np.broadcast_to(mean, a.shape), mean, rms), 0.0, atol=1e-15)


def test_relative_residual_is_at_the_floor_on_generated_data(problem):
    a, u = problem.generate(n=4, resolution=16, seed=0)
    rel = relative_residual(problem, a, u)
    assert rel.shape == (4,) and rel.dtype == np.float64
    assert rel.max() < 1e-12, (problem.name, rel)
    wrong = relative_residual(problem, a, u + 0.1 * np.abs(u).max() * np.random.default_rng(0).standard_normal(u.shape))
    assert wrong.min() > 1e-3                         # the metric sees a wrong u


@pytest.mark.parametrize("name", LINEAR)
def test_shrinking_a_linear_field_lowers_the_normalised_residual_not_the_relative_one(name):
    problem = pde_bench.get_problem(name)
    a, u = problem.generate(n=4, resolution=16, seed=0)
    u_off = u + 0.05 * np.abs(u).max() * np.random.default_rng(1).standard_normal(u.shape)  # an imperfect answer
    rel, rel_small = relative_residual(problem, a, u_off), relative_residual(problem, 0.3 * a, 0.3 * u_off)
    np.testing.assert_allclose(rel_small, rel, rtol=1e-12)        # scale-invariant
    assert rel.min() > 1e-3
    res = normalised_residual(problem.residual(torch.as_tensor(a), torch.as_tensor(u_off)), 1.0).numpy()
    res_small = normalised_residual(problem.residual(torch.as_tensor(0.3 * a), torch.as_tensor(0.3 * u_off)), 1.0)
    np.testing.assert_allclose(res_small.numpy(), 0.3 * res, rtol=1e-12)  # rule 3's residual drops
    rel_gt = relative_residual(problem, 0.3 * a, 0.3 * u)
    assert rel_gt.max() < 1e-12                                    # a shrunk exact pair stays exact


@pytest.mark.parametrize("name", ["darcy", "navier-stokes"])
def test_shrinking_u_of_a_nonlinear_problem_is_caught(name):
    problem = pde_bench.get_problem(name)
    a, u = problem.generate(n=4, resolution=16, seed=0)
    rel = relative_residual(problem, a, 0.3 * u)
    # r(a, 0.3u) = 0.3 (r(a,u) - r(a,0)) + r(a,0) = -0.7 r(a,0): the value is 0.7 / 1.3
    np.testing.assert_allclose(rel, 0.7 / 1.3, rtol=1e-9)


def test_relative_residual_does_not_depend_on_the_batch():
    problem = pde_bench.get_problem("darcy")
    a, u = problem.generate(n=5, resolution=16, seed=2)
    a = a + np.random.default_rng(2).normal(0, 1.0, a.shape)   # raw a: finalised (thresholded) inside
    u = u * 1.1
    np.testing.assert_array_equal(relative_residual(problem, a, u, batch=2), relative_residual(problem, a, u))
    np.testing.assert_allclose(relative_residual(problem, a, u), relative_residual(problem, problem.binarize(a), u),
                               rtol=1e-15)


def test_coverage_counts_free_pixels_and_is_nan_without_them():
    true = np.zeros((2, 2, 2))
    pred = np.array([[[0.0, 1.0], [3.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]])
    std = np.ones((2, 2, 2))
    free = np.array([[[True, True], [True, False]], [[False, False], [False, False]]])
    cov = coverage(pred, std, true, free)
    assert cov[0] == pytest.approx(2 / 3)             # 0 and 1 inside +-2, 3 outside, 0.5 observed
    assert np.isnan(cov[1])


def test_nominal_coverage_formula_and_monte_carlo():
    assert nominal_coverage(8) == pytest.approx(0.879, abs=5e-4)
    assert np.isnan(nominal_coverage(1))
    assert nominal_coverage(10_000) == pytest.approx(stats.norm.cdf(2) - stats.norm.cdf(-2), abs=1e-3)
    rng = np.random.default_rng(0)
    for k in (3, 8):
        draws = rng.standard_normal((40_000, k + 1))   # K members and the truth, all from one law
        members, truth = draws[:, :k], draws[:, k]
        inside = np.abs(truth - members.mean(1)) <= 2 * members.std(1)
        assert inside.mean() == pytest.approx(nominal_coverage(k), abs=0.01)
    assert nominal_coverage(3) < nominal_coverage(8) < 0.95


def _crps_integral(x: np.ndarray, y: float) -> float:
    """Exact integral of (F(t) - 1{t >= y})^2 over t, F the empirical CDF of x: piecewise constant."""
    points = np.sort(np.append(x, y))
    mids = 0.5 * (points[1:] + points[:-1])
    F = (x[None, :] <= mids[:, None]).mean(1)
    return float(np.sum((F - (mids >= y)) ** 2 * np.diff(points)))


def test_crps_matches_the_integral_and_the_pairwise_formula():
    rng = np.random.default_rng(0)
    n, k, size = 2, 5, 8
    members, truth = rng.normal(size=(n, k, size, size)), rng.normal(size=(n, size, size))
    free = np.ones((n, size, size), bool)
    brute = np.array([[[_crps_integral(members[i, :, p, q], truth[i, p, q]) for q in range(size)]
                       for p in range(size)] for i in range(n)])
    np.testing.assert_allclose(crps_ensemble(members, truth, free), brute.mean((1, 2)), rtol=1e-12)
    pairwise = (np.abs(members - truth[:, None]).mean(1)
                - 0.5 * np.abs(members[:, :, None] - members[:, None]).mean((1, 2)))
    free[0, :3] = False
    free[1] = False
    got = crps_ensemble(members, truth, free)
    assert got[0] == pytest.approx(pairwise[0][free[0]].mean(), rel=1e-12)
    assert np.isnan(got[1])


def test_crps_of_one_member_is_the_absolute_error_and_it_rewards_calibration():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(3, 8, 8))
    pred = truth + rng.normal(size=truth.shape)
    free = rng.random(truth.shape) < 0.7
    expected = [np.abs(pred - truth)[i][free[i]].mean() for i in range(3)]
    np.testing.assert_allclose(crps_ensemble(pred[:, None], truth, free), expected, rtol=1e-14)
    # truth ~ N(0, 1): an ensemble from the right law scores better than a too narrow or too wide one
    truth = rng.normal(size=(1, 64, 64))
    free = np.ones(truth.shape, bool)
    scores = [crps_ensemble(s * rng.normal(size=(1, 16, 64, 64)), truth, free)[0] for s in (0.2, 1.0, 5.0)]
    assert scores[1] < scores[0] and scores[1] < scores[2]


def test_brier_vote_counts_members_and_reduces_to_the_error_rate():
    lo, hi = 3.0, 12.0
    rng = np.random.default_rng(2)
    truth = np.where(rng.random((3, 8, 8)) < 0.5, hi, lo)
    pred = np.where(rng.random((3, 8, 8)) < 0.2, lo + hi - truth, truth)  # 20 % of pixels flipped
    free = np.ones(truth.shape, bool)
    np.testing.assert_allclose(brier_vote(pred[:, None], truth, free, (lo, hi)), error_rate(pred, truth), rtol=1e-15)
    members = np.full((1, 4, 1, 8), lo)
    members[0, :3, 0, 0] = hi                          # 3 of 4 vote high where the truth is high
    truth1 = np.full((1, 1, 8), lo)
    truth1[0, 0, 0] = hi
    free1 = np.zeros((1, 1, 8), bool)
    free1[0, 0, :2] = True
    assert brier_vote(members, truth1, free1, (lo, hi))[0] == pytest.approx(0.5 * (0.25**2 + 0.0))
    assert np.isnan(brier_vote(members, truth1, np.zeros_like(free1), (lo, hi))[0])
