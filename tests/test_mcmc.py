"""pCN posterior sampling (the Bayes limit of the nonlinear problems) and its chain diagnostics."""

import dataclasses

import numpy as np
import pytest

from pde_bench import get_problem
from pde_bench.conventions import InputError
from pde_bench.problems.base import Problem, as_batch
from piddm.evaluate.elliptical import elliptical_posterior
from piddm.evaluate.mcmc import PCNSettings, ess_bulk, pcn_posterior, split_rhat
from piddm.evaluate.oracle import gaussian_posterior


# -- diagnostics ------------------------------------------------------------------------------
def ar1(phi, shape, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(shape)
    x = np.empty(shape)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def test_split_rhat_of_iid_chains_is_one_and_of_shifted_chains_is_large():
    x = np.random.default_rng(0).standard_normal((4, 500, 50))
    assert split_rhat(x).shape == (50,)
    assert np.abs(split_rhat(x) - 1).max() < 0.02
    x[0] += 2.0
    assert split_rhat(x).min() > 1.1


def test_split_rhat_sees_a_trend_within_chains():
    x = np.random.default_rng(1).standard_normal((4, 400, 3)) + np.linspace(0, 3, 400)[None, :, None]
    assert split_rhat(x).min() > 1.1  # every chain drifts: only splitting the chains reveals it


def test_split_rhat_of_constant_and_stuck_quantities():
    x = np.zeros((4, 20, 3))
    x[..., 1] = np.arange(4)[:, None]  # each chain constant, chains differ
    x[..., 2] = np.random.default_rng(0).standard_normal((4, 20))
    r = split_rhat(x)
    assert r[0] == 1.0 and r[1] == np.inf and np.isfinite(r[2])
    assert np.isnan(ess_bulk(x)[0])


def test_binary_draws_with_ties():
    x = np.where(np.random.default_rng(2).random((4, 300, 10)) < 0.3, 12.0, 3.0)
    assert np.abs(split_rhat(x) - 1).max() < 0.03
    assert np.all(ess_bulk(x) > 0.6 * x.shape[0] * x.shape[1])


def test_ess_of_iid_and_autocorrelated_draws():
    x = np.random.default_rng(3).standard_normal((4, 1000, 20))
    assert abs(ess_bulk(x).mean() / 4000 - 1) < 0.2
    phi = 0.9
    y = ar1(phi, (4, 4000, 20))
    ratio = ess_bulk(y).mean() / 16000
    assert 0.6 < ratio / ((1 - phi) / (1 + phi)) < 1.5


def test_diagnostics_reject_bad_draws():
    with pytest.raises(InputError):
        split_rhat(np.zeros((4, 3)))  # fewer than 4 draws per chain
    with pytest.raises(InputError):
        ess_bulk(np.full((2, 10), np.nan))


# -- settings and inputs ----------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [("chains", 1), ("chains", 2.5), ("burn", -1), ("thin", 0), ("steps", 3),
                                          ("beta", 0.0), ("beta", 1.5), ("target_accept", 1.0),
                                          ("likelihood_std", 0.0), ("likelihood_std", float("nan")), ("members", 0),
                                          ("seed", -1), ("anneal", 0.9), ("precondition", "yes"), ("fd_step", 0.0),
                                          ("sampler", "gibbs")])
def test_bad_settings_are_input_errors(field, value):
    settings = dataclasses.replace(PCNSettings(), **{field: value})
    with pytest.raises(InputError, match=field):
        settings.check()


def test_settings_round_trip():
    s = PCNSettings(chains=3, steps=40, thin=2)
    assert PCNSettings(**s.to_dict()) == s.check()


def test_bad_observations_are_input_errors():
    p = get_problem("poisson")
    mask = np.zeros((1, 2, 8, 8), bool)
    mask[0, 0, 2, 3] = True
    s = PCNSettings(burn=0, steps=8, thin=1)
    with pytest.raises(InputError):
        pcn_posterior(p, mask[:, :1], np.zeros((1, 1, 8, 8)), [0, 0], s)
    with pytest.raises(InputError):
        pcn_posterior(p, mask.astype(int), np.zeros(mask.shape), [0, 0], s)
    with pytest.raises(InputError):
        pcn_posterior(p, mask, np.full(mask.shape, np.nan), [0, 0], s)
    with pytest.raises(InputError):
        pcn_posterior(p, mask, np.zeros(mask.shape), [-1.0, 0], s)


# -- the sampler against exact posteriors -----------------------------------------------------
def observe(a, u, rng, n_a, n_u, noise):
    """Random masks with n_a / n_u observed pixels per sample, values with noise (2,) added."""
    n, side = a.shape[0], a.shape[-1]
    mask = np.zeros((n, 2, side, side), bool)
    for i in range(n):
        for ch, k in ((0, n_a), (1, n_u)):
            mask[i, ch].flat[rng.choice(side * side, k, replace=False)] = True
    values = np.stack([a, u], 1) + rng.standard_normal(mask.shape) * np.asarray(noise)[None, :, None, None]
    return mask, values


@pytest.mark.parametrize("precondition", [True, False])
def test_poisson_posterior_mean_matches_the_exact_gaussian_posterior(precondition):
    # Linear-Gaussian: the exact posterior (same noisy observations, same noise) is known.
    # With the linearisation the informed moves are exact and accepted always; plain pCN mixes
    # slower, so it runs on a smaller grid with less informative data. Tolerance: 15 % of the
    # exact posterior std, several Monte Carlo standard errors at these ESS.
    p = get_problem("poisson")
    side, n_obs, rel_noise = (16, 8, 0.1) if precondition else (8, 4, 0.3)
    a, u = p.generate(2, side, seed=3)
    noise = np.array([rel_noise * a.std(), rel_noise * u.std()])
    mask, values = observe(a, u, np.random.default_rng(1), n_obs, n_obs, noise)
    exact = gaussian_posterior(p, mask, values, noise)
    s = PCNSettings(chains=4, burn=400, steps=1600 if precondition else 4000, thin=4 if precondition else 10,
                    seed=0, precondition=precondition)
    post = pcn_posterior(p, mask, values, noise, s)
    for ch in "au":
        assert post[ch].shape == post[f"{ch}_std"].shape == (2, side, side)
        assert post[f"{ch}_members"].shape == (2, s.members, side, side)
        scale = exact[f"{ch}_std"].mean()
        assert np.abs(post[ch] - exact[ch]).mean() < 0.15 * scale
        assert abs(post[f"{ch}_std"].mean() / scale - 1) < 0.15
        assert np.all(post[f"rhat_{ch}"] < 1.1) and np.all(post[f"ess_{ch}"] > 50)
    if precondition:
        assert np.all(post["acceptance"] > 0.9) and np.isfinite(post["beta_informed"]).all()
    else:
        assert np.all((post["acceptance"] > 0.1) & (post["acceptance"] < 0.6))
        assert np.isnan(post["beta_informed"]).all()


class Cubic(Problem):
    """u = a + k a^3 pixel by pixel, a = xi: a nonlinear toy whose posterior is a product of 1-D ones."""

    name = "cubic-test"
    boundary = "dirichlet"
    equation = "u = a + k a^3"
    defaults = {"k": 0.3}

    def normals_shape(self, resolution):
        return (resolution, resolution)

    def inputs_from_normals(self, xi):
        return self._normals(xi).copy()

    def solve(self, a):
        a = as_batch(a)
        return a + self.params["k"] * a**3

    def residual(self, a, u, *, check=True):
        raise NotImplementedError

    def residual_scale(self, a, u):
        return 1.0


def test_nonlinear_posterior_mean_matches_quadrature():
    # Noisy u at 6 pixels: at each, the posterior of a is N(0, 1) times a non-Gaussian likelihood,
    # integrated on a fine grid; elsewhere it is the prior (mean 0). The linearisation fits well
    # enough to be kept, so its informed moves (with their state-dependent centre) are exercised;
    # about 1300 effective draws put the Monte Carlo error near 0.03 posterior std.
    p, side, sigma = Cubic(), 8, 0.3
    rng = np.random.default_rng(5)
    a = rng.standard_normal((1, side, side))
    mask, values = observe(a, p.solve(a), rng, 0, 6, (0.0, sigma))
    post = pcn_posterior(p, mask, values, (0.0, sigma), PCNSettings(burn=400, steps=4000, thin=5, seed=1))
    grid = np.linspace(-5, 5, 20001)
    for y in values[0, 1][mask[0, 1]]:
        w = np.exp(-0.5 * grid**2 - 0.5 * ((grid + 0.3 * grid**3 - y) / sigma) ** 2)
        w /= w.sum()
        exact_a, exact_u = (w * grid).sum(), (w * (grid + 0.3 * grid**3)).sum()
        std_a = np.sqrt((w * (grid - exact_a) ** 2).sum())
        pixel = np.isclose(values[0, 1], y) & mask[0, 1]
        assert abs(post["a"][0][pixel][0] - exact_a) < 0.12 * std_a  # a reverse move centred wrongly: 0.2
        assert abs(post["u"][0][pixel][0] - exact_u) < 0.2 * std_a
    assert np.abs(post["a"][0][~mask[0, 1]]).mean() < 0.1
    assert np.isfinite(post["beta_informed"]).all() and post["rhat_a"][0] < 1.1


def test_darcy_posterior_fits_its_observations():
    # Exact a at 4 pixels, exact u at 3 interior pixels with a broad likelihood (0.2 prior std):
    # Darcy's chains mix slowly as that std shrinks (binary pixels stick), too slowly for a unit test.
    p = get_problem("darcy")
    a, u = p.generate(1, 16, seed=2)
    mask, values = observe(a, u, np.random.default_rng(0), 4, 3, (0.0, 0.0))
    mask[0, 1] &= u[0] != 0
    s = PCNSettings(chains=4, burn=300, steps=600, thin=4, likelihood_std=0.2, seed=0)
    calls = []
    post = pcn_posterior(p, mask, values, (0.0, 0.0), s, on_progress=calls.append)
    assert sum(calls) == s.burn + s.steps
    sigma_u = 0.2 * np.sqrt(u.var())  # about the likelihood std of u
    assert np.abs(post["u"][0][mask[0, 1]] - u[0][mask[0, 1]]).max() < 2 * sigma_u
    np.testing.assert_array_equal(p.binarize(post["a"])[0][mask[0, 0]], a[0][mask[0, 0]])
    assert np.all((post["acceptance"] > 0.05) & (post["acceptance"] < 0.8))
    assert np.isfinite(post["rhat_a"]).all() and np.isfinite(post["rhat_u"]).all() and post["rhat_u"][0] < 1.3
    assert np.isnan(post["beta_informed"]).all()  # the thresholded a does not linearise
    assert set(np.unique(post["a_members"])) <= {3.0, 12.0}
    assert post["solves"] >= s.chains * (s.burn + s.steps)


@pytest.mark.parametrize("sampler, posterior, per_chain", [("pcn", pcn_posterior, "beta"),
                                                          ("elliptical", elliptical_posterior, "stuck")])
def test_seeded_and_batch_shapes(sampler, posterior, per_chain):
    p = get_problem("darcy")
    a, u = p.generate(2, 8, seed=1)
    mask, values = observe(a, u, np.random.default_rng(0), 3, 2, (0.0, 0.0))
    s = PCNSettings(chains=2, burn=10, steps=8, thin=2, members=3, seed=4, sampler=sampler)
    one, two = (posterior(p, mask, values, (0.0, 0.0), s) for _ in range(2))
    for key, value in one.items():
        if isinstance(value, np.ndarray):
            assert value.shape[0] == 2, key
            np.testing.assert_array_equal(value, two[key])
    assert one["acceptance"].shape == one[per_chain].shape == (2, 2) and one["a_members"].shape == (2, 3, 8, 8)


class Square(Cubic):
    """u = a^2 pixel by pixel, a = xi: one observed u gives a posterior with two modes, a = +-sqrt(u)."""

    name = "square-test"
    equation = "u = a^2"

    def solve(self, a):
        return as_batch(a) ** 2


def _sign_posterior(rungs):
    from piddm.evaluate.mcmc import prior_std

    p, side = Square(), 8
    mask = np.zeros((1, 2, side, side), bool)
    mask[0, 1, 1, 2] = True
    values = np.zeros(mask.shape)
    values[0, 1, 1, 2] = 1.0
    s = PCNSettings(chains=4, burn=500, steps=4000, thin=4, likelihood_std=0.05, precondition=False, seed=3,
                    rungs=rungs, top_std=3.0)
    post = pcn_posterior(p, mask, values, (0.0, 0.0), s)
    sigma = s.likelihood_std * prior_std(p, side)[1]
    return post, sigma


def test_replica_exchange_crosses_between_modes_plain_pcn_cannot():
    # a at the observed pixel has modes +-1 separated by a misfit barrier of 1 / (2 sigma^2), about 100 nats:
    # plain pCN chains each stay in the mode they fell into; a ladder up to 3 prior stds swaps states across it.
    # Quadrature of N(0, 1) times the likelihood gives E|a|; by symmetry E a = 0.
    post, sigma = _sign_posterior(rungs=8)
    grid = np.linspace(-4, 4, 40001)
    w = np.exp(-0.5 * grid**2 - 0.5 * ((grid**2 - 1.0) / sigma) ** 2)
    w /= w.sum()
    members = post["a_members"][0, :, 1, 2]
    assert abs(post["a"][0, 1, 2]) < 0.2  # both modes, evenly
    assert abs(post["a_std"][0, 1, 2] - np.sqrt((w * grid**2).sum())) < 0.05
    assert np.any(members > 0) and np.any(members < 0)
    assert post["rhat_a"][0] < 1.1
    assert post["swap_acceptance"].shape == (1, 7) and np.all(post["swap_acceptance"] > 0.1)
    assert post["acceptance"].shape == post["beta"].shape == (1, 4)
    stuck, _ = _sign_posterior(rungs=1)
    assert stuck["rhat_a"][0] > 1.3 and "swap_acceptance" not in stuck  # the control: the test can fail


@pytest.mark.parametrize("changes", [{"rungs": 0}, {"rungs": 4}, {"rungs": 4, "precondition": False, "top_std": 0.01},
                                     {"rungs": 4, "precondition": False, "sampler": "elliptical"}])
def test_bad_ladders_are_input_errors(changes):
    with pytest.raises(InputError, match="rungs|top_std"):
        dataclasses.replace(PCNSettings(), **changes).check()


def test_one_rung_is_plain_pcn():
    p = get_problem("darcy")
    a, u = p.generate(1, 8, seed=1)
    mask, values = observe(a, u, np.random.default_rng(0), 3, 2, (0.0, 0.0))
    base = dict(chains=2, burn=10, steps=8, thin=2, members=3, seed=4, precondition=False)
    one = pcn_posterior(p, mask, values, (0.0, 0.0), PCNSettings(**base))
    also = pcn_posterior(p, mask, values, (0.0, 0.0), PCNSettings(**base, rungs=1, top_std=5.0))
    for key, value in one.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, also[key])


def test_chain_note_prints_the_swap_rates_of_a_ladder():
    from piddm.compare.solve import _chain_note

    extra = {"acceptance": np.array([[0.2, 0.3]]), "rhat_u": np.array([1.2]), "ess_u": np.array([40.0]),
             "swap_acceptance": np.array([[0.0, 0.25, 0.5]]), "solves": 1234.0}
    note = _chain_note("Bayes limit", extra)
    assert "replica swaps taken" in note and "0.00 0.25 0.50" in note and "1234 solver calls" in note
    assert "replica" not in _chain_note("Bayes limit", {k: v for k, v in extra.items() if k != "swap_acceptance"})
