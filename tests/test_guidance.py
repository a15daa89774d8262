"""DiffusionPDE / DPS, ECI-sampling and D-Flow: sampler variants over the shared denoiser, and their solve methods."""

import numpy as np
import pytest
import torch
from torch import nn

from pde_bench import get_problem
from pde_bench.conventions import InputError
from piddm.edm import Denoiser
from piddm.guidance import dpde_guide, original_darcy_residual, sample_dpde, sample_eci
from piddm.sampling import heun_nfe, karras_sigmas, sample_heun
from piddm.solve import METHODS


class Smooth(nn.Module):
    """A small deterministic backbone with weights: a fixed convolution of x plus a function of sigma."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x, c_noise, class_labels=None):
        return torch.tanh(self.conv(x)) + 0.1 * c_noise.reshape(-1, 1, 1, 1)


def _denoiser():
    return Denoiser(Smooth()).eval().requires_grad_(False)


def _losses(target):
    def losses(xhat):
        diff = (xhat - target).flatten(1)
        return diff.norm(dim=1), xhat[:, 1].flatten(1).norm(dim=1) / xhat[0, 1].numel()
    return losses


def test_guided_heun_with_zero_weights_is_the_plain_heun_sampler():
    d = _denoiser()
    sig = karras_sigmas(6)
    x0 = torch.randn(3, 2, 8, 8, dtype=torch.float64) * sig[0]
    plain = sample_heun(d, x0, sig)
    guided = sample_dpde(d, x0, sig, _losses(torch.zeros_like(x0)), zeta_obs=0.0, zeta_pde=0.0)
    assert torch.allclose(guided.x, plain.x, atol=1e-12) and guided.nfe == plain.nfe == heun_nfe(6)


def test_guidance_moves_samples_toward_the_observations_and_uses_one_backward_per_step():
    d = _denoiser()
    sig = karras_sigmas(10)
    x0 = torch.randn(2, 2, 8, 8, dtype=torch.float64) * sig[0]
    target = torch.full_like(x0, 0.3)
    calls = []
    guide = dpde_guide(_losses(target), 10, zeta_obs=0.05, zeta_pde=0.0)
    counted = lambda i, x, xn, dn: calls.append(i) or guide(i, x, xn, dn)  # noqa: E731
    guided = sample_heun(d, x0, sig, guide=counted)
    plain = sample_heun(d, x0, sig)
    assert len(calls) == 10 and guided.nfe == heun_nfe(10)  # N guide calls (one backward each), 2N - 1 NFE
    assert (guided.x - target).norm() < (plain.x - target).norm()


def test_each_samples_guidance_depends_on_its_own_loss_only():
    d = _denoiser()
    sig = karras_sigmas(5)
    x0 = torch.randn(2, 2, 8, 8, dtype=torch.float64) * sig[0]
    target = torch.randn_like(x0)
    both = sample_dpde(d, x0, sig, _losses(target), 0.1, 0.1).x
    one = sample_dpde(d, x0[:1], sig, _losses(target[:1]), 0.1, 0.1).x
    assert torch.allclose(both[:1], one, atol=1e-10)


def test_the_pde_term_acts_only_after_the_switch():
    d = _denoiser()
    sig = karras_sigmas(10)
    x0 = torch.randn(1, 2, 8, 8, dtype=torch.float64) * sig[0]
    seen = []

    def losses(xhat):
        return xhat.sum() * 0, (xhat.pow(2).sum(dim=(1, 2, 3)))

    guide = dpde_guide(losses, 10, zeta_obs=0.0, zeta_pde=1e-3)
    plain = []
    sample_heun(d, x0, sig, callback=lambda i, x, dn: plain.append(x.clone()))
    sample_heun(d, x0, sig, guide=lambda i, x, xn, dn: seen.append(i) or guide(i, x, xn, dn),
                callback=lambda i, x, dn: seen.append(("x", i, x.clone())))
    states = [s for s in seen if isinstance(s, tuple)]
    for i, (_, _, x) in enumerate(states):
        same = torch.allclose(x, plain[i], atol=1e-12)
        assert same == (i <= 8), i  # i <= 0.8 N: observation guidance only (zero here), then the PDE term


def test_eci_output_satisfies_its_constraint_exactly_and_counts_its_calls():
    d = _denoiser()
    sig = karras_sigmas(12)
    eps = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    mask = torch.rand(2, 2, 8, 8) < 0.1
    values = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    fresh = lambda c: torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(c))  # noqa: E731
    out = sample_eci(d, eps, sig, lambda x: torch.where(mask, values, x), mix=3, resample=4, fresh=fresh)
    assert torch.equal(out.x[mask], values[mask]) and out.nfe == 12 * 3
    again = sample_eci(d, eps, sig, lambda x: torch.where(mask, values, x), mix=3, resample=4, fresh=fresh)
    assert torch.equal(out.x, again.x)
    with pytest.raises(ValueError, match="fresh"):
        sample_eci(d, eps, sig, lambda x: x, resample=2)


def test_eci_with_an_exact_gaussian_denoiser_follows_the_kept_noise_recursion():
    """ECI's interpolation x = x̂ + σ_{i+1} ε reuses the *starting* ε, so for data N(0, s²) and the exact
    denoiser D = s² / (s² + σ²) x the output is β ε with β_{i+1} = c_{i+1} (β_i + σ_{i+1}), not the ODE's
    s ε: a grid dense at small σ inflates it (the ECI rows of docs/compare.md)."""
    s = 0.3
    exact = lambda x, sig: s * s / (s * s + sig.view(-1, 1, 1, 1) ** 2) * x  # noqa: E731
    sig = karras_sigmas(200)
    eps = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    out = sample_eci(exact, eps, sig, lambda x: x, mix=1, resample=None).x
    beta = 0.0
    for i in range(len(sig) - 1):
        beta = s * s / (s * s + float(sig[i]) ** 2) * (beta + float(sig[i]))
    assert torch.allclose(out, beta * eps, rtol=1e-10)
    assert beta > 3 * s  # the inflation is the algorithm's, with no network error in it


def test_original_darcy_stencil_floors_at_the_forcing_on_ground_truth(generated):
    """DiffusionPDE's index-unit stencil misses 1/h², so ground truth scores about f at every node."""
    a, u = generated("darcy", 32)
    a, u = torch.as_tensor(a), torch.as_tensor(u)
    r = original_darcy_residual(a, u, 1.0)
    assert r.shape == u.shape
    interior = r[..., 2:-2, 2:-2]
    assert float((interior - 1).abs().max()) < 0.05 and float(interior.mean()) == pytest.approx(1.0, abs=0.02)
    ours = get_problem("darcy").residual(a, u)
    assert float(ours.abs().max()) < 1e-8


@pytest.fixture(scope="module")
def darcy_context(tiny_models):
    from piddm.models import load_model, load_student
    from piddm.physics import PhysicsLoss
    from piddm.solve import SolveContext
    from piddm.solve.observation import Observation, parse_observe
    from piddm.solve.train_split import split_fields

    teacher_path, student_path, data = tiny_models("darcy")
    student, model = load_student(student_path)
    teacher = load_model(teacher_path)
    truth = split_fields(data, "test", model, np.arange(3))
    obs = Observation.from_specs([parse_observe("a:10%"), parse_observe("u:5%")], truth["a"], truth["u"], seed=0)
    ctx = SolveContext(physics=PhysicsLoss.for_model(model), student=student, model=model, teacher=teacher)
    return ctx, obs


@pytest.mark.parametrize("method, settings", [
    ("dpde", {"steps": 4, "zeta_obs": 0.5, "zeta_pde": 0.1}), ("dps", {"steps": 4}),
    ("dpde", {"steps": 3, "residual": "original", "members": 2}), ("eci", {"steps": 5, "mix": 2}),
    ("dflow", {"teacher_steps": 2, "iters": 2}),
])
def test_teacher_methods_answer_with_observations_held_and_count_their_costs(darcy_context, method, settings):
    ctx, obs = darcy_context
    m = METHODS[method]
    s = m.make_settings("darcy", "reconstruction", settings)
    res = m.solve(ctx, obs, s, np.arange(3))
    for ch, field in ((0, res.a), (1, res.u)):
        assert np.array_equal(field[obs.mask[:, ch]], obs.values[:, ch][obs.mask[:, ch]])
    assert set(np.unique(res.a)) <= {3.0, 12.0}
    if method in ("dpde", "dps"):
        assert res.nfe == s.members * heun_nfe(s.steps) and res.grad_evals == s.members * s.steps
    elif method == "eci":
        assert res.nfe == s.steps * s.mix and res.grad_evals == 0
    else:
        assert res.nfe >= heun_nfe(2) and res.nfe % heun_nfe(2) == 0
    again = m.solve(ctx, obs, s, np.arange(3))
    assert np.array_equal(again.u, res.u)  # reproducible from its noise streams
    if method == "eci":  # resample 0 (never) is a setting of its own, not "use the default"
        never = m.solve(ctx, obs, m.make_settings("darcy", "reconstruction", {**settings, "resample": 0}),
                        np.arange(3))
        assert not np.array_equal(never.u, res.u)


def test_a_samples_answer_does_not_depend_on_its_batch(darcy_context):
    ctx, obs = darcy_context
    for name, extra in (("dpde", {"steps": 3}), ("eci", {"steps": 4})):
        m = METHODS[name]
        full = m.solve(ctx, obs, m.make_settings("darcy", "reconstruction", {**extra, "batch": 3}), np.arange(3))
        split = m.solve(ctx, obs, m.make_settings("darcy", "reconstruction", {**extra, "batch": 1}), np.arange(3))
        assert np.allclose(full.u, split.u, atol=1e-5), name


def test_teacher_methods_need_a_teacher_and_check_their_settings(darcy_context):
    ctx, obs = darcy_context
    from dataclasses import replace

    with pytest.raises(InputError, match="no teacher"):
        METHODS["eci"].solve(replace(ctx, teacher=None), obs, METHODS["eci"].make_settings("darcy", "forward"))
    for method, bad in (("dpde", {"zeta_pde": -1}), ("dpde", {"residual": "theirs"}), ("dps", {"steps": 0}),
                        ("eci", {"resample": -1}), ("eci", {"stream": "resample"}), ("dflow", {"teacher_steps": 0})):
        with pytest.raises(InputError, match=next(iter(bad))):
            METHODS[method].make_settings("darcy", "forward", bad)
    with pytest.raises(InputError, match="Darcy stencil"):
        from piddm.solve.diffusion_pde import guided_losses

        guided_losses(type("T", (), {"problem": get_problem("poisson"), "normaliser": None})(), None, None, None,
                      "original")


def test_field_statistics_of_the_generation_comparison():
    from piddm.compare.generate import interface_length, radial_spectrum, spectrum_error, volume_fraction

    n = 16
    x = np.arange(n) / n
    u = np.cos(2 * np.pi * 3 * x)[None, :, None] * np.ones((2, n, n))  # one mode, |k| = 3
    spec = radial_spectrum(u)
    assert spec.shape == (n // 2 + 1,) and np.argmax(spec) == 3 and spec[3] > 1e3 * np.delete(spec, 3).max()
    noise = np.random.default_rng(0).normal(size=(4, n, n))  # power in every bin
    assert spectrum_error(noise, noise) == 0.0 and spectrum_error(2 * noise, noise) == pytest.approx(np.log10(4))
    a = np.full((1, n, n), 3.0)
    a[:, : n // 2] = 12.0  # two halves: one straight interface of n faces
    assert volume_fraction(a, 12.0)[0] == 0.5 and interface_length(a, 0.1)[0] == pytest.approx(n * 0.1)


def test_ecis_generation_constraint_holds_the_boundary_at_zero(darcy_context):
    from piddm.compare.generate import boundary_constraint

    ctx, _ = darcy_context
    t = ctx.teacher
    c = boundary_constraint(t, t.resolution, "cpu")
    x = c(torch.randn(2, 2, t.resolution, t.resolution, dtype=torch.float64))
    _, u = t.normaliser.to_physical(x)
    ring = torch.cat([u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]], dim=1)
    assert float(ring.abs().max()) < 1e-12


def _double_denoiser(x, sigma):
    """A smooth float64 'denoiser' (not a network), so finite differences are exact to round-off."""
    s = sigma.reshape(-1, 1, 1, 1)
    return x / (1 + s**2) + 0.3 * torch.tanh(x) * s / (1 + s)


def test_the_guidance_gradient_runs_through_both_network_calls_of_a_step():
    """The guide's gradient against finite differences of L(x̂(x_i)), x̂ the second (Heun) call of one step."""
    sig = torch.tensor([2.0, 0.7, 0.0], dtype=torch.float64)
    x0 = torch.randn(1, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    target = torch.randn_like(x0)

    def losses(xhat):
        return (xhat - target).flatten(1).norm(dim=1), torch.zeros(len(xhat), dtype=xhat.dtype)

    seen = {}
    guide = dpde_guide(losses, 2, zeta_obs=1.0, zeta_pde=0.0)
    sample_heun(_double_denoiser, x0.clone(), sig,
                guide=lambda i, x, xn, dn: seen.setdefault(i, (xn - guide(i, x, xn, dn)).detach()) * 0 + xn)

    def loss_of(x):  # one Heun step written out independently, then the loss of its second call
        d = (x - _double_denoiser(x, sig[:1])) / sig[0]
        x1 = x + (sig[1] - sig[0]) * d
        return losses(_double_denoiser(x1, sig[1:2]))[0].sum()

    eps, numeric = 1e-6, torch.zeros_like(x0)
    for j in range(x0.numel()):
        e = torch.zeros(x0.numel(), dtype=torch.float64)
        e[j] = eps
        e = e.view_as(x0)
        numeric.view(-1)[j] = (loss_of(x0 + e) - loss_of(x0 - e)) / (2 * eps)
    assert torch.allclose(seen[0], numeric, atol=1e-7)


def test_guidance_is_not_silently_off_under_no_grad_and_skipped_steps_take_no_backward():
    d = _denoiser()
    sig = karras_sigmas(10)
    x0 = torch.randn(2, 2, 8, 8, dtype=torch.float64) * sig[0]
    target = torch.full_like(x0, 0.3)
    with torch.no_grad():
        guided = sample_dpde(d, x0, sig, _losses(target), 0.05, 0.0)
    assert not torch.allclose(guided.x, sample_heun(d, x0, sig).x) and guided.grad_evals == 10
    pde_only = sample_dpde(d, x0, sig, _losses(target), 0.0, 1e-3)
    assert pde_only.grad_evals == 1 and pde_only.nfe == heun_nfe(10)  # only i = 9 > 0.8 N is guided


def test_eci_holds_noisy_observations_exactly_too(darcy_context):
    from piddm.solve.observation import Observation

    ctx, obs = darcy_context
    noisy = Observation(obs.mask, obs.values + 0.01 * obs.mask, noise=(0.01, 0.001))
    m = METHODS["eci"]
    res = m.solve(ctx, noisy, m.make_settings("darcy", "reconstruction", {"steps": 4}), np.arange(3))
    u_obs = noisy.values[:, 1][noisy.mask[:, 1]]
    assert np.allclose(res.u[noisy.mask[:, 1]], u_obs, rtol=1e-5, atol=1e-9)  # the constraint, not a write-back


def test_none_is_a_value_only_where_the_default_is_none():
    with pytest.raises(InputError, match="resample cannot be none"):
        METHODS["eci"].make_settings("darcy", "forward", {"resample": None})
    assert METHODS["kriging"].make_settings("darcy", "forward", {"rank": None}).rank is None
