"""The fitted baselines and the Bayes limit: kriging, nearest neighbour, "then the solver", the exact posterior.

Each is checked against what it must be: kriging fitted on many generator draws reproduces the
exact Gaussian posterior of Poisson; conditioning honours exact observations and its draws have
the posterior's mean and spread; nearest neighbour returns the training sample it was shown;
"then the solver" returns the solver's u of the estimated a; the exact posterior's draws average
to its mean.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pde_bench import get_problem
from pde_bench.conventions import InputError
from pde_bench.torch_data import Normaliser
from piddm.evaluate.oracle import gaussian_posterior, linear_maps, posterior
from piddm.physics import PhysicsLoss
from piddm.solve import METHODS, SolveContext
from piddm.solve.kriging import KrigingSettings, condition, fit_gaussian
from piddm.solve.nearest import NearestSettings
from piddm.solve.observation import Observation

N = 8


class _Split:
    """A stand-in TrainSplit holding arrays."""

    def __init__(self, a, u):
        self.a, self.u = a, u

    def fields(self, max_samples=None):
        return self.a[:max_samples], self.u[:max_samples]


def _context(problem, a, u):
    norm = Normaliser(float(a.mean()), float(a.std()), float(u.mean()), float(u.std()))
    physics = PhysicsLoss(problem, norm, scale=1.0, u_rms=float(np.sqrt((u**2).mean())))
    return SolveContext(physics=physics, train=_Split(a, u))


def _observe(a, u, fraction_a, fraction_u, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((len(a), 2, N, N), bool)
    mask[:, 0] = rng.random((len(a), N, N)) < fraction_a
    mask[:, 1] = rng.random((len(a), N, N)) < fraction_u
    return Observation(mask, np.stack([a, u], 1))


@pytest.fixture(scope="module")
def poisson_data():
    problem = get_problem("poisson")
    a, u = problem.generate(n=4000, resolution=N, seed=0)
    a_test, u_test = problem.generate(n=6, resolution=N, seed=1)
    return problem, a, u, a_test, u_test


def test_kriging_reproduces_the_exact_gaussian_posterior_on_poisson(poisson_data):
    problem, a, u, a_test, u_test = poisson_data
    ctx = _context(problem, a, u)
    obs = _observe(a_test, u_test, 0.1, 0.1)
    res = METHODS["kriging"].solve(ctx, obs, KrigingSettings(members=4))
    exact = gaussian_posterior(problem, obs.mask, obs.values)
    rel = np.linalg.norm(res.u - exact["u"]) / np.linalg.norm(exact["u"])
    rel_a = np.linalg.norm(res.a - exact["a"]) / np.linalg.norm(exact["a"])
    assert rel < 0.05 and rel_a < 0.05, (rel, rel_a)
    std_gap = np.abs(res.u_std - exact["u_std"]).mean() / exact["u_std"].mean()
    assert std_gap < 0.1
    # shrinking the training set makes it worse: the test can fail
    small = METHODS["kriging"].solve(ctx, obs, KrigingSettings(members=4, max_train=20, jitter=1e-3))
    assert np.linalg.norm(small.u - exact["u"]) / np.linalg.norm(exact["u"]) > rel


def test_low_rank_kriging_matches_the_full_covariance_on_low_rank_data():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((6, 40))
    x = rng.standard_normal((3000, 6)) @ basis + 0.01 * rng.standard_normal((3000, 40))
    full, low = fit_gaussian(x, None, 0.0), fit_gaussian(x, 6, 0.0)
    o, y = np.array([1, 7, 20]), x[0, [1, 7, 20]]
    (m_full, s_full, _), (m_low, s_low, _) = (condition(f, o, y, np.full(3, 1e-4), 2, np.random.default_rng(1))
                                              for f in (full, low))
    assert np.abs(m_full - m_low).max() < 0.02 * np.abs(m_full).max()
    assert np.abs(s_full - s_low).max() < 0.05 * s_full.max()
    with pytest.raises(InputError):
        fit_gaussian(x[:1])


@pytest.mark.parametrize("rank", [None, 5])
def test_conditioning_honours_exact_observations_and_draws_follow_the_posterior(rank):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 5)) @ rng.standard_normal((5, 12))
    fit = fit_gaussian(x, rank, 1e-8)
    o, y = np.array([0, 3]), np.array([0.7, -1.2])
    mean, std, draws = condition(fit, o, y, np.zeros(2), 4000, np.random.default_rng(2))
    assert np.allclose(mean[o], y, atol=1e-5) and np.all(std[o] < 1e-3)
    assert np.allclose(draws[:, o], y, atol=1e-4)
    assert np.abs(draws.mean(0) - mean).max() < 0.1 * std.max()
    assert np.abs(draws.std(0) - std).max() < 0.1 * std.max()


def test_nearest_returns_the_training_sample_it_is_shown_and_k_members(poisson_data):
    problem, a, u, _, _ = poisson_data
    ctx = _context(problem, a[:200], u[:200])
    obs = _observe(a[[5, 17]], u[[5, 17]], 0.2, 0.0)
    one = METHODS["nearest"].solve(ctx, obs, NearestSettings(k=1))
    assert np.allclose(one.u, u[[5, 17]]) and np.array_equal(one.extra["neighbours"][:, 0], [5, 17])
    assert one.members == 1 and np.all(one.u_std == 0)
    five = METHODS["nearest-k"].solve(ctx, obs, METHODS["nearest-k"].make_settings("poisson", "forward", {"k": 5}))
    assert five.members == 5 and five.extra["neighbours"][0, 0] == 5
    assert np.allclose(five.u, u[five.extra["neighbours"]].mean(1))
    with pytest.raises(InputError, match="more than the 200"):
        METHODS["nearest"].solve(ctx, obs, NearestSettings(k=201))


def test_nearest_k_starts_from_its_own_default_and_variants_take_the_wrapped_methods_tuning():
    assert METHODS["nearest-k"].make_settings("poisson", "forward").k > 1
    assert METHODS["nearest"].make_settings("poisson", "forward").k == 1
    assert METHODS["piddm-solver"].make_settings("darcy", "forward") == METHODS["piddm"].make_settings("darcy",
                                                                                                     "forward")
    assert [m.role for m in (METHODS["piddm"], METHODS["piddm-solver"], METHODS["kriging"], METHODS["bayes"])] == [
        "generative", "generative", "baseline", "bound"]


def test_an_operating_point_takes_the_base_methods_tuning_then_its_preset_then_the_users_overrides():
    from dataclasses import replace

    from piddm.defaults import compare_methods, preset

    for task in ("forward", "inverse"):
        base = METHODS["piddm"].make_settings("darcy", task)
        fast = METHODS["piddm-fast"].make_settings("darcy", task)
        point, chosen = preset("piddm-fast", "darcy", task)
        assert chosen and fast == replace(base, **point) and fast.starts < base.starts
        assert "piddm-fast" in compare_methods("darcy", task)
    assert METHODS["piddm-fast"].make_settings("darcy", "forward", {"starts": 2}).starts == 2
    # where no point was chosen it still runs (said in the report) but is no default row
    assert not preset("piddm-fast", "helmholtz", "forward")[1]
    assert "piddm-fast" not in compare_methods("helmholtz", "forward")


def test_then_the_solver_returns_the_solvers_u_of_the_estimated_a():
    problem = get_problem("darcy")
    a, u = problem.generate(n=60, resolution=N, seed=0)
    ctx = _context(problem, a, u)
    obs = _observe(a[:3], u[:3], 0.3, 0.0, seed=4)
    res = METHODS["nearest-k-solver"].solve(ctx, obs, NearestSettings(k=3))
    plain = METHODS["nearest-k"].solve(ctx, obs, NearestSettings(k=3))
    assert np.array_equal(res.a, plain.a)
    solved = problem.solve(res.a_members.reshape(-1, N, N)).reshape(res.u_members.shape)
    assert np.allclose(res.u_members, solved) and np.allclose(res.u_std, solved.std(1))
    for a_, u_ in ((res.a, res.u), (res.a_best, res.u_best)):  # the answer and the best member: zero residual
        assert float(problem.residual(torch.as_tensor(a_), torch.as_tensor(u_)).abs().max()) < 1e-8
    assert not np.allclose(res.u, plain.u)


def test_exact_posterior_draws_average_to_its_mean_and_noise_widens_it():
    problem = get_problem("poisson")
    S, LS = linear_maps(problem, N)
    a, u = problem.generate(n=1, resolution=N, seed=3)
    mask_a = np.zeros((N, N), bool)
    mask_a[2, 3] = mask_a[5, 5] = True
    mask_u = np.zeros((N, N), bool)
    mask_u[4, 4] = True
    exact = posterior(S, LS, mask_a, mask_u, a[0], u[0], draws=4000, rng=np.random.default_rng(0))
    assert np.abs(exact["u_draws"].mean(0) - exact["u"]).max() < 0.1 * exact["u_std"].max()
    assert np.abs(exact["a_draws"].std(0) - exact["a_std"]).max() < 0.1 * exact["a_std"].max()
    assert np.allclose(exact["a_draws"][:, mask_a], a[0][mask_a], atol=1e-6)
    noisy = posterior(S, LS, mask_a, mask_u, a[0], u[0], noise=(0.5, 0.0))
    assert noisy["a_std"][2, 3] > 0.1 and exact["a_std"][2, 3] < 1e-5


def test_bayes_method_on_poisson_is_the_exact_posterior_with_draws(poisson_data):
    problem, a, u, a_test, u_test = poisson_data
    ctx = _context(problem, a, u)
    obs = _observe(a_test, u_test, 0.1, 0.0)
    bayes = METHODS["bayes"]
    res = bayes.solve(ctx, obs, bayes.make_settings("poisson", "forward", {"members": 3}), np.arange(6))
    exact = gaussian_posterior(problem, obs.mask, obs.values)
    assert np.allclose(res.u, exact["u"]) and res.members == 3
    assert res.extra["posterior"] == "exact Gaussian"


def test_a_comparison_orders_rows_reuses_the_wrapped_result_and_reports_the_best_baseline(tiny_models, tmp_path):
    from piddm.compare.solve import SolveOptions, run

    _, student, data = tiny_models("poisson")
    comparison, out = run(SolveOptions(
        pde="poisson", observe=["a:10%"], test="0:3", student=str(student), data=str(data), out=str(tmp_path / "r"),
        methods=["bayes", "kriging-solver", "physics", "piddm", "kriging", "nearest-k"],
        settings={"piddm": {"starts": 2, "iters": 2, "polish": 0}, "nearest-k": {"k": 2}, "physics": {"iters": 5}},
        max_panels=0, device="cpu"))
    assert [r.method for r in comparison.rows] == ["piddm", "kriging", "nearest-k", "kriging-solver", "physics",
                                                   "bayes"]
    err = {r.method: r.metrics["err_u"] for r in comparison.rows}
    best = min(("kriging", "nearest-k", "kriging-solver", "physics"), key=err.get)
    first = comparison.verdicts[0]
    assert first.method == "piddm" and first.baseline == best and "best baseline" in first.name
    assert comparison.row("kriging").metrics["over_bound"] == pytest.approx(err["kriging"] / err["bayes"])
    assert comparison.row("bayes").metrics["over_bound"] == pytest.approx(1.0)
    report = (out / "report.md").read_text()
    assert "err / Bayes limit" in report and report.count("kriging fit") == 1 and "fitted on the training split" in report
    assert comparison.row("kriging").notes["coverage_u"] == "nominal 0.954"  # its own posterior std
    assert comparison.row("kriging-solver").notes["coverage_u"] == "nominal 0.879"  # the spread of 8 solved draws
    assert comparison.row("kriging-solver").notes["coverage_a"] == "nominal 0.954"  # a: still kriging's own std
    assert not any(v.baseline == "bayes" and v.kind == "reduction" for v in comparison.verdicts)
    assert comparison.row("kriging-solver").cost["s_per_sample"] >= comparison.row("kriging").cost["s_per_sample"]


def test_set_options_reach_any_methods_settings_and_bad_ones_are_one_line_errors():
    from piddm.compare.solve import parse_settings

    out = parse_settings(["kriging.rank=256", "bayes.likelihood_std=0.02", "nearest-k.k=4", "kriging.rank=none"],
                         {"piddm": {"starts": 2}})
    assert out == {"piddm": {"starts": 2}, "kriging": {"rank": None}, "bayes": {"likelihood_std": 0.02},
                   "nearest-k": {"k": 4}}
    for bad, match in (("kriging.rank", "METHOD.FIELD=VALUE"), ("krig.rank=3", "method must be one of")):
        with pytest.raises(InputError, match=match):
            parse_settings([bad])
    with pytest.raises(InputError, match="unknown field"):
        METHODS["kriging"].make_settings("poisson", "forward", {"rnk": 3})
    with pytest.raises(InputError, match="rank"):
        METHODS["kriging"].make_settings("poisson", "forward", {"rank": 0})


def test_the_method_option_names_every_registry_entry():
    import inspect

    from cli.solve import solve

    help_text = inspect.signature(solve).parameters["method"].default.help
    missing = [m for m in METHODS if m not in help_text.replace(",", " ").split()]
    assert not missing, f"--method help lacks {missing}"


def test_a_variant_reuses_the_wrapped_result_and_takes_its_settings(tiny_models, tmp_path, monkeypatch):
    from piddm.compare.solve import SolveOptions, run
    from piddm.solve import kriging

    calls = []
    original = kriging.condition
    monkeypatch.setattr(kriging, "condition", lambda *a, **k: calls.append(1) or original(*a, **k))
    _, student, data = tiny_models("poisson")
    comparison, _ = run(SolveOptions(pde="poisson", observe=["a:10%"], test="0:3", student=str(student),
                                     data=str(data), out=str(tmp_path / "r"), methods=["kriging-solver", "kriging"],
                                     settings={"kriging": {"members": 3}}, max_panels=0, device="cpu"))
    assert len(calls) == 3  # three samples, conditioned once: the variant reused kriging's result
    assert comparison.row("kriging-solver").cost["members"] == 3  # it took kriging's settings
    from piddm.compare.solve import parse_settings

    with pytest.raises(InputError, match="not among the methods run"):
        parse_settings(["bayes.chains=3"], methods=["kriging"])
    assert parse_settings(["kriging.rank=5"], methods=["kriging-solver"]) == {"kriging": {"rank": 5}}


@pytest.mark.parametrize("method, bad", [("kriging", {"rank": "abc"}), ("kriging", {"members": 2.5}),
                                         ("kriging", {"jitter": 0}), ("kriging", {"seed": True}),
                                         ("nearest", {"k": 2.5}), ("nearest-k", {"max_train": "x"})])
def test_bad_setting_types_are_one_line_errors_before_any_work(method, bad):
    with pytest.raises(InputError, match=next(iter(bad))):
        METHODS[method].make_settings("poisson", "forward", bad)


def test_an_mcmc_bound_whose_chains_did_not_mix_is_not_used_as_a_bound():
    from types import SimpleNamespace

    from piddm.compare.solve import _certified_bound

    bayes = METHODS["bayes"]
    err = {"bayes": np.array([0.1, 0.2])}
    settings = {"bayes": bayes.make_settings("darcy", "forward")}

    def scored(rhat, posterior="pCN MCMC"):
        return [(bayes, SimpleNamespace(extra={"rhat_u": np.array(rhat), "posterior": posterior}), {})]

    assert _certified_bound(scored([1.01, 1.03]), ["err_u"], err, settings)[0] is bayes
    m, why = _certified_bound(scored([1.01, 1.2]), ["err_u"], err, settings)
    assert m is None and "R-hat" in why
    tempered = {"bayes": bayes.make_settings("darcy", "inverse")}  # likelihood std 0.3: not the exact limit
    assert _certified_bound(scored([1.0]), ["err_u"], err, tempered)[0] is None
    assert _certified_bound(scored([9.0], "exact Gaussian"), ["err_u"], err, settings)[0] is bayes
    assert _certified_bound(scored([1.0]), ["err_u"], {"bayes": np.array([1e-9])}, settings)[0] is None
