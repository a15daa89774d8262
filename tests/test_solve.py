"""Solving from observations: noise-space optimisation, the physics-only baseline, per-sample metrics."""

import numpy as np
import pytest
import torch

import pde_bench
from pde_bench.conventions import InputError
from pde_bench.torch_data import Normaliser
from piddm.evaluate.scoring import score_solve
from piddm.physics import PhysicsLoss
from piddm.solve import SolveContext
from piddm.solve.noise_search import SolveSettings, solve_noise
from piddm.solve.objective import misfit, mix, smoothness
from piddm.solve.observation import Observation, parse_observe
from piddm.solve.physics_only import PhysicsSettings, solve_physics_only
from piddm.solve.result import ensemble


def _physics(name, a, u):
    prob = pde_bench.get_problem(name)
    norm = Normaliser(float(a.mean()), float(a.std()), float(u.mean()), float(u.std()))
    scale = prob.residual_scale(a, u)
    return PhysicsLoss(prob, norm, scale, float(np.sqrt((u**2).mean())))


def _ctx(physics, student=None):
    return SolveContext(physics=physics, student=student)


class LinearStudent(torch.nn.Module):
    """A stand-in for the student: a fixed random 1x1 mixing plus a smoothing convolution."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)
        self.requires_grad_(False)

    def forward(self, eps):
        return 0.5 * self.conv(eps)


def test_misfit_and_mix():
    x = torch.zeros(2, 2, 4, 4)
    x_obs = torch.ones(2, 2, 4, 4)
    mask = torch.zeros(2, 2, 4, 4, dtype=torch.bool)
    mask[0, 0, 0, :2] = True
    scale = torch.tensor([2.0, 1.0])[:, None, None]
    np.testing.assert_allclose(misfit(x, mask, x_obs, scale).numpy(), [0.25, 0.0])  # no observation: 0
    m = mix(x, mask, x_obs, torch.tensor([True, True]))
    assert m[0, 0, 0, :2].eq(1).all() and m.sum() == 2
    assert mix(x, mask, x_obs, torch.tensor([False, True])).sum() == 0  # a noisy channel is not imposed


def test_noise_solve_imposes_observations_lowers_the_loss_and_counts_calls(generated):
    a, u = generated("poisson", 16, n=3)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("a:20%"), parse_observe("u:10%")], a, u, seed=0)
    st = SolveSettings(starts=3, iters=15, lam=0.1, lr=0.1, batch=3)
    res = solve_noise(_ctx(physics, LinearStudent()), obs, st)
    assert res.u.shape == res.a_std.shape == res.u_best.shape == (3, 16, 16)
    assert res.loss.shape == (3, 16)
    assert (res.loss[:, -1] < res.loss[:, 0]).all()
    for c, field in enumerate((res.a, res.u)):  # noise-free observations hold exactly in every member
        np.testing.assert_allclose(field[obs.mask[:, c]], obs.values[:, c][obs.mask[:, c]], rtol=1e-6)
        assert (((res.a_std, res.u_std)[c])[obs.mask[:, c]] < 1e-6).all()
    assert (res.u_std[~obs.mask[:, 1]] > 0).mean() > 0.9  # starts differ off the observations
    assert res.nfe == 3 * 16 and res.grad_evals == 3 * 15
    one = solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(starts=3, iters=15, lam=0.1, lr=0.1, batch=1))
    np.testing.assert_allclose(one.u, res.u, rtol=1e-4, atol=1e-7)  # a sample's answer is batch-independent
    lb = solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(starts=2, iters=5, optimizer="lbfgs", batch=3))
    assert (lb.loss[:, -1] < lb.loss[:, 0]).all() and lb.grad_evals >= 2 * 5


def test_noisy_observations_are_not_imposed(generated):
    a, u = generated("poisson", 16, n=2)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("u:30%")], a, u, noise=1e-3)
    res = solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(starts=2, iters=2))
    assert not np.allclose(res.u[obs.mask[:, 1]], obs.values[:, 1][obs.mask[:, 1]])


def test_darcy_ensemble_takes_the_majority_level():
    prob = pde_bench.get_problem("darcy")
    a = np.array([[12.0, 3.0, 11.0], [4.0, 3.5, 9.0]]).reshape(1, 3, 2, 1) * np.ones((1, 3, 2, 2))
    u = np.arange(12, dtype=float).reshape(1, 3, 2, 2)
    out = ensemble(prob, a, u, loss=np.array([[3.0, 1.0, 2.0]]))
    np.testing.assert_array_equal(out["a"][0, :, 0], [12.0, 3.0])  # 2 of 3 members are 12 / 3
    np.testing.assert_allclose(out["a_std"][0, 0, 0], np.std([12.0, 3.0, 12.0]))
    np.testing.assert_array_equal(out["u_best"], u[:, 1])  # lowest final loss
    np.testing.assert_allclose(out["u"], u.mean(1))


def test_physics_only_baseline_solves_poisson_given_all_of_a(generated):
    """With a fully observed and no regulariser the baseline is a least-squares PDE solve: it must converge."""
    a, u = generated("poisson", 16, n=2)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("a:all")], a, u)
    st = PhysicsSettings(iters=400, lam=1.0, mu=0.0, optimizer="lbfgs")
    res = solve_physics_only(_ctx(physics), obs, st)
    rel = np.linalg.norm(res.u - u) / np.linalg.norm(u)
    assert rel < 1e-3, rel
    np.testing.assert_array_equal(res.a, a)
    metrics = score_solve(physics, res, obs, {"a": a, "u": u})
    assert np.isnan(metrics["coverage_u"]).all() and (metrics["err_a"] == 0).all()
    assert (metrics["residual"] < 1e-2).all() and (metrics["residual_rel"] < 1e-3).all()
    np.testing.assert_allclose(metrics["crps_u"], np.abs(res.u - u).mean((1, 2)), rtol=1e-9)  # one member: MAE


def test_preconditioned_baseline_is_ten_times_closer_in_the_same_iterations(generated):
    a, u = generated("darcy", 32, n=2)
    physics = _physics("darcy", a, u)
    obs = Observation.from_specs([parse_observe("a:all")], a, u)
    errs = {}
    for pre in (False, True):
        st = PhysicsSettings(iters=150, lam=1.0, mu=0.0, optimizer="lbfgs", precondition=pre)
        res = solve_physics_only(_ctx(physics), obs, st)
        errs[pre] = np.linalg.norm(res.u - u) / np.linalg.norm(u)
        np.testing.assert_array_equal(res.a, a)
    assert errs[True] < 1e-2 and errs[True] < 0.1 * errs[False], errs


def test_the_preconditioner_is_symmetric_positive_and_keeps_constants():
    from piddm.solve.objective import inverse_laplacian_smoother

    P = inverse_laplacian_smoother(8)
    basis = torch.eye(64, dtype=torch.float64).view(64, 8, 8)
    M = P(basis).view(64, 64)
    torch.testing.assert_close(M, M.T)
    eig = torch.linalg.eigvalsh(M)
    assert eig.min() > 0 and eig.max() == pytest.approx(1.0)
    torch.testing.assert_close(P(torch.ones(8, 8, dtype=torch.float64)), torch.ones(8, 8, dtype=torch.float64))


def test_polish_makes_each_member_solve_the_pde(generated):
    """All of a observed: after the noise search, the polish turns every member's u into the PDE's solution."""
    a, u = generated("darcy", 32, n=2)
    physics = _physics("darcy", a, u)
    obs = Observation.from_specs([parse_observe("a:all")], a, u)
    rough = solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(starts=2, iters=2))
    st = SolveSettings(starts=2, iters=2, batch=2, lam=1.0, polish=400)
    res = solve_noise(_ctx(physics, LinearStudent()), obs, st)
    err = np.linalg.norm(res.u - u) / np.linalg.norm(u)
    assert err < 2e-2 and np.linalg.norm(rough.u - u) / np.linalg.norm(u) > 0.5  # from a random field
    assert res.u_std.max() < 0.2 * rough.u_std.max()  # the members agree once each solves the PDE
    np.testing.assert_array_equal(res.a, a)
    assert res.extra["polish_evaluations"] > 0 and res.nfe == rough.nfe  # the polish calls no network
    assert res.loss.shape[1] > rough.loss.shape[1] and res.loss[:, -1].max() < rough.loss[:, -1].min()


def test_a_u_only_polish_keeps_each_members_a_and_refines_u(generated):
    """polish_fields="u": the polish moves u alone; a stays where the noise search left it."""
    a, u = generated("poisson", 16, n=2)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("u:10%")], a, u)
    st = dict(starts=2, iters=2, batch=2, lam=1.0)
    none, u_only, both = (solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(**st, **f))
                          for f in ({"polish": 0}, {"polish": 50, "polish_fields": "u"},
                                    {"polish": 50, "polish_fields": "au"}))
    np.testing.assert_array_equal(u_only.a_members, none.a_members)  # bit for bit: the update of a is zero
    assert np.abs(both.a - none.a).max() > 1e-3  # the free polish does move a
    assert np.abs(u_only.u - none.u).max() > 1e-3
    assert u_only.extra["final_loss"].sum() < none.extra["final_loss"].sum()
    with pytest.raises(InputError, match="polish_fields"):
        SolveSettings(polish_fields="a").check()
    from piddm.solve.noise_search import METHOD

    assert "(u only, a kept)" in METHOD.describe(SolveSettings(polish=5, polish_fields="u"))


def test_smoothness_terms():
    flat = torch.ones(1, 2, 8, 8)
    assert smoothness(flat).item() == 0
    ramp = torch.arange(8.0).expand(1, 2, 8, 8)
    assert smoothness(ramp, "tikhonov").item() == pytest.approx(7 * 8 / (8 * 7) * 1.0)
    assert smoothness(ramp, "tv").item() == pytest.approx(np.sqrt(1 + 1e-4), rel=1e-6)


def test_darcy_metrics_use_the_error_rate(generated):
    a, u = generated("darcy", 16, n=2)
    physics = _physics("darcy", a, u)
    obs = Observation.from_specs([parse_observe("u:10%")], a, u)
    res = solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(starts=2, iters=1))
    m = score_solve(physics, res, obs, {"a": a, "u": u})
    wrong = (physics.problem.finalize_inputs(torch.as_tensor(res.a)).numpy() != a).mean((1, 2))
    np.testing.assert_allclose(m["err_a"], wrong)
    assert "brier_a" in m and "crps_a" not in m and "crps_u" in m  # proper scores: Brier for the two-valued a
    from piddm.evaluate.scoring import field_error

    per_member = field_error(physics.problem, "a", res.a_members, a[:, None])  # one draw at a time: (n, K)
    assert per_member.shape == res.a_members.shape[:2]
    np.testing.assert_allclose(per_member, (res.a_members != physics.problem.finalize_inputs(
        torch.as_tensor(a)).numpy()[:, None]).mean((2, 3)))


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_time_budget_stops_the_baseline_at_its_best_point(generated, optimizer):
    a, u = generated("poisson", 16, n=2)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("a:all")], a, u)
    free = solve_physics_only(_ctx(physics), obs, PhysicsSettings(iters=40, mu=0.0, optimizer=optimizer))
    capped = solve_physics_only(_ctx(physics), obs, PhysicsSettings(iters=10**6, mu=0.0, optimizer=optimizer,
                                                              budget_s=0.05))
    assert capped.seconds < 2.0 and capped.extra["evaluations"][0] > 1
    assert capped.extra["final_loss"].sum() <= capped.loss[:, 0].sum()
    assert free.extra["evaluations"][0] >= 40


@pytest.mark.parametrize("optimizer,polish", [("adam", 30), ("lbfgs", 0)])
def test_a_sample_alone_equals_it_inside_a_batch(generated, optimizer, polish):
    """Every per-sample optimisation is independent of its batch-mates (L-BFGS and the polish included)."""
    a, u = generated("poisson", 16, n=4)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("u:10%")], a, u, seed=0)
    st = dict(starts=2, iters=8, lam=0.1, lr=0.1, optimizer=optimizer, polish=polish)
    together = solve_noise(_ctx(physics, LinearStudent()), obs, SolveSettings(**st, batch=4), sample_ids=np.arange(4))
    alone = solve_noise(_ctx(physics, LinearStudent()), obs.subset(slice(2, 3)), SolveSettings(**st, batch=1),
                        sample_ids=np.array([2]))
    np.testing.assert_allclose(alone.u_members[0], together.u_members[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone.a_members[0], together.a_members[2], rtol=1e-5, atol=1e-6)


def test_the_baseline_solves_each_sample_on_its_own(generated):
    a, u = generated("poisson", 16, n=3)
    physics = _physics("poisson", a, u)
    obs = Observation.from_specs([parse_observe("u:10%")], a, u, seed=0)
    st = PhysicsSettings(iters=60, lam=0.1, mu=1.0)
    together = solve_physics_only(_ctx(physics), obs, st)
    alone = solve_physics_only(_ctx(physics), obs.subset(slice(1, 2)), st)
    np.testing.assert_allclose(alone.u[0], together.u[1], rtol=1e-10, atol=1e-12)


def test_solve_starts_are_not_the_distillation_pairs_noise():
    from piddm.noise import standard_noise

    pairs = standard_noise(16, (2, 8, 8), seed=0, start=0)
    starts = standard_noise(16, (2, 8, 8), seed=0, start=0, stream="solve")
    evaluation = standard_noise(16, (2, 8, 8), seed=0, start=0, stream="evaluation")
    for x, y in ((pairs, starts), (pairs, evaluation), (starts, evaluation)):
        assert not torch.isclose(x, y).any(dim=(1, 2, 3)).any()
    torch.testing.assert_close(standard_noise(3, (2, 8, 8), seed=0, start=5, stream="solve"), starts[5:8])


@pytest.mark.parametrize("field,value", [("lam", float("inf")), ("lam", float("nan")), ("lr", 0.0), ("starts", 0),
                                         ("optimizer", "sgd"), ("stream", "nope"),
                                         ("stream", "pairs")])
def test_noise_search_settings_are_checked(field, value):
    from pde_bench.conventions import InputError

    with pytest.raises(InputError, match=field):
        SolveSettings(**{field: value}).check()


@pytest.mark.parametrize("field,value", [("budget_s", -1.0), ("budget_s", float("nan")), ("budget_s", float("inf")),
                                         ("mu", float("inf")), ("lam", -1.0)])
def test_baseline_settings_are_checked(field, value):
    from pde_bench.conventions import InputError

    with pytest.raises(InputError, match=field):
        PhysicsSettings(**{field: value}).check()
