"""piddm.evaluate.bootstrap: paired intervals, the numbers earlier tables quote, the pairing check."""

import numpy as np
import pytest
import xarray as xr

from piddm.evaluate.bootstrap import check_paired, ensemble_ratio, paired_bootstrap, ratio, reduction
from piddm.evaluate.metrics import ensemble_errors


def _earlier_paired_reduction(ours, base, *, resamples=2000, seed=0):
    """The formula benchmarks/solve_table.py used for the tables README quotes (kept verbatim)."""
    rng = np.random.default_rng(seed)
    n = len(ours)
    idx = rng.integers(0, n, size=(resamples, n))
    boot = 1 - ours[idx].mean(1) / base[idx].mean(1)
    return float(1 - ours.mean() / base.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


@pytest.mark.parametrize("n, seed", [(100, 0), (37, 3), (8, 11)])
def test_reduction_reproduces_the_quoted_numbers_exactly(n, seed):
    rng = np.random.default_rng(seed)
    base = rng.gamma(4.0, 0.1, n)
    ours = base * rng.uniform(0.2, 1.1, n)
    assert reduction(ours, base, seed=seed) == _earlier_paired_reduction(ours, base, seed=seed)
    assert reduction(ours, base) == _earlier_paired_reduction(ours, base)


def test_reduction_is_exact_and_its_interval_brackets_it():
    ours, base = np.array([1.0, 2.0, 1.5, 0.5]), np.array([2.0, 4.0, 3.0, 1.0])
    red, lo, hi = reduction(ours, base)
    assert red == pytest.approx(0.5)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)  # every pair halves: no spread
    red, lo, hi = reduction(np.array([1.0, 3.0, 1.0, 2.0]), base)
    assert lo <= red <= hi and lo < hi
    with pytest.raises(ValueError, match="one length"):
        reduction(ours, base[:3])


def test_ratio_mirrors_the_reduction():
    rng = np.random.default_rng(5)
    base = rng.gamma(3.0, 1.0, 50)
    ours = base * rng.uniform(0.3, 1.2, 50)
    r, r_lo, r_hi = ratio(ours, base)
    red, red_lo, red_hi = reduction(ours, base)
    assert r == pytest.approx(ours.mean() / base.mean(), rel=1e-14)
    assert (r, r_lo, r_hi) == pytest.approx((1 - red, 1 - red_hi, 1 - red_lo), rel=1e-12)


def test_interval_narrows_with_the_level_and_follows_the_seed():
    x = np.random.default_rng(6).normal(size=40)
    stat = lambda i: x[i].mean()  # noqa: E731
    est, lo95, hi95 = paired_bootstrap(stat, len(x))
    _, lo50, hi50 = paired_bootstrap(stat, len(x), level=0.5)
    assert est == x.mean()
    assert lo95 < lo50 < est < hi50 < hi95
    assert paired_bootstrap(stat, len(x), seed=1) == paired_bootstrap(stat, len(x), seed=1)
    assert paired_bootstrap(stat, len(x), seed=1) != paired_bootstrap(stat, len(x), seed=2)
    with pytest.raises(ValueError):
        paired_bootstrap(stat, len(x), level=1.0)


def test_interval_of_a_mean_covers_the_truth_about_as_often_as_it_says():
    rng = np.random.default_rng(7)
    hits = 0
    reps = 200
    for r in range(reps):
        x = rng.normal(size=40)
        _, lo, hi = paired_bootstrap(lambda i: x[i].mean(), len(x), resamples=400, seed=r)
        hits += lo <= 0.0 <= hi
    assert 0.87 <= hits / reps <= 0.99


def test_pairing_cancels_the_shared_noise():
    """Errors dominated by per-sample difficulty: the paired interval is tight, an unpaired one is not."""
    rng = np.random.default_rng(8)
    difficulty = rng.gamma(1.0, 1.0, 60)
    base, ours = difficulty * 1.0, difficulty * 0.8 * rng.uniform(0.95, 1.05, 60)
    _, lo, hi = reduction(ours, base)
    assert 0.15 < lo < 0.2 < hi < 0.25
    rng2 = np.random.default_rng(0)
    unpaired = 1 - ours[rng2.integers(0, 60, (2000, 60))].mean(1) / base[rng2.integers(0, 60, (2000, 60))].mean(1)
    assert np.quantile(unpaired, 0.975) - np.quantile(unpaired, 0.025) > 5 * (hi - lo)


def test_ensemble_ratio_pairs_generated_samples_and_resamples_the_reference():
    rng = np.random.default_rng(9)
    ref = rng.normal(size=(30, 4, 4))
    gen = rng.normal(0.3, 1.0, size=(30, 4, 4))
    mmse = lambda g, r: ensemble_errors(g, r)["mmse"]  # noqa: E731
    est, lo, hi = ensemble_ratio(gen, gen, ref, mmse, resamples=300)
    assert (est, lo, hi) == (1.0, 1.0, 1.0)            # the same method against itself: paired, no spread
    base = 2.0 * gen                                  # a wider copy from the same noise
    est, lo, hi = ensemble_ratio(gen, base, ref, mmse, resamples=300)
    assert est == pytest.approx(mmse(gen, ref) / mmse(base, ref), rel=1e-14)
    assert lo < est < hi
    # generated sets that are constant: all spread comes from resampling the reference
    mean_only = lambda g, r: g.mean() + r.mean() ** 2  # noqa: E731
    ones, twos = np.ones((30, 4, 4)), 2 * np.ones((30, 4, 4))
    _, lo, hi = ensemble_ratio(ones, twos, ref, mean_only, resamples=300)
    assert hi - lo > 1e-3
    _, lo, hi = ensemble_ratio(ones, twos, np.ones((30, 4, 4)), mean_only, resamples=300)
    assert lo == hi
    with pytest.raises(ValueError, match="same number"):
        ensemble_ratio(gen, gen[:10], ref, mmse)


def _solve_output(err, mask_seed=0, n=6, size=4):
    rng = np.random.default_rng(mask_seed)
    dims = ("sample", "x", "y")
    return xr.Dataset({"mask_a": (dims, rng.random((n, size, size)) < 0.3),
                       "mask_u": (dims, np.zeros((n, size, size), bool)),
                       "a_true": (dims, np.ones((n, size, size))), "u_true": (dims, np.zeros((n, size, size))),
                       "err_u": (("sample",), np.asarray(err, float))},
                      coords={"sample": np.arange(n)})


def test_a_baseline_from_another_run_must_share_samples_and_masks():
    ours, same = _solve_output([0.1] * 6), _solve_output([0.2] * 6)
    check_paired(ours, same)
    with pytest.raises(ValueError, match="mask_a"):
        check_paired(ours, _solve_output([0.2] * 6, mask_seed=1))
    with pytest.raises(ValueError, match="sample"):
        check_paired(ours, same.assign_coords(sample=np.arange(6) + 1))
    check_paired({"a_true": np.ones(3)}, {"a_true": np.ones(3), "mask_a": np.zeros(3)})


def test_ensemble_ratio_basic_interval_is_the_percentile_one_reflected_about_the_estimate():
    from piddm.evaluate.metrics import ensemble_errors

    rng = np.random.default_rng(3)
    gen, base, ref = rng.normal(size=(3, 40, 4, 4))
    stat = lambda g, r: ensemble_errors(g, r)["mmse"]  # noqa: E731
    est, lo, hi = ensemble_ratio(gen, base, ref, stat, resamples=200, interval="percentile")
    est_b, lo_b, hi_b = ensemble_ratio(gen, base, ref, stat, resamples=200)
    assert est_b == est
    np.testing.assert_allclose([lo_b, hi_b], [2 * est - hi, 2 * est - lo])
    with pytest.raises(ValueError, match="basic or percentile"):
        ensemble_ratio(gen, base, ref, stat, resamples=10, interval="bca")


def test_jackknife_delete_one_moments_match_recomputation():
    from piddm.evaluate.bootstrap import _delete_one_moments

    x = np.random.default_rng(0).normal(size=(7, 5))
    mean, std = _delete_one_moments(x)
    for i in range(7):
        rest = np.delete(x, i, axis=0)
        np.testing.assert_allclose(mean[i], rest.mean(0), rtol=1e-12)
        np.testing.assert_allclose(std[i], rest.std(0), rtol=1e-9)


def test_jackknife_ensemble_ratios_estimate_pairing_and_bad_shapes():
    from piddm.evaluate.bootstrap import ensemble_ratios_jackknife

    rng = np.random.default_rng(1)
    gen, base, ref = rng.normal(size=(40, 4, 4)), rng.normal(0.2, 1.5, size=(40, 4, 4)), rng.normal(size=(50, 4, 4))
    out = ensemble_ratios_jackknife(gen, base, ref)
    for k in ("mmse", "smse"):
        est, lo, hi = out[k]
        assert est == pytest.approx(ensemble_errors(gen, ref)[k] / ensemble_errors(base, ref)[k], rel=1e-12)
        assert lo < est < hi and est ** 2 == pytest.approx(lo * hi, rel=1e-9)  # symmetric on the log scale
    assert ensemble_ratios_jackknife(gen, gen, ref) == {"mmse": (1.0, 1.0, 1.0), "smse": (1.0, 1.0, 1.0)}
    with pytest.raises(ValueError, match="same shape"):
        ensemble_ratios_jackknife(gen, base[:10], ref)
    with pytest.raises(ValueError, match="one shape"):
        ensemble_ratios_jackknife(gen, base, ref[:, :2])


def test_jackknife_ensemble_ratio_interval_covers_the_ratio_of_expected_statistics():
    """A generator with a biased mean and a wider spread against an exact one, 8 independent pixels: the
    95 % interval covers E[MMSE_G] / E[MMSE_T] (and SMSE's) in 90-99.5 % of 400 replicates."""
    from piddm.evaluate.bootstrap import ensemble_ratios_jackknife

    rng = np.random.default_rng(2)
    n, m, p = 60, 80, 8

    def replicate():
        z = rng.normal(size=(n, p))
        gen = 0.3 + 1.4 * (0.8 * z + 0.6 * rng.normal(size=(n, p)))   # paired with the base by its noise z
        return gen, z, rng.normal(size=(m, p))

    sims = [replicate() for _ in range(3000)]
    stats = np.array([[[ensemble_errors(g, r)[k], ensemble_errors(t, r)[k]] for k in ("mmse", "smse")]
                      for g, t, r in sims])
    truth = stats[..., 0].mean(0) / stats[..., 1].mean(0)
    hits = np.array([[lo <= truth[j] <= hi for j, (_, lo, hi) in enumerate(ensemble_ratios_jackknife(g, t, r).values())]
                     for g, t, r in sims[:400]])
    assert np.all((0.90 <= hits.mean(0)) & (hits.mean(0) <= 0.995)), hits.mean(0)
