"""Physics checks: consistency with the continuum (order 2), time-step accuracy, gradients."""

import math

import numpy as np
import pytest
import torch

import pde_bench
from pde_bench.problems.navier_stokes import ns_flow
from pde_bench.random_fields import grf_cosine, grf_periodic

RESOLUTIONS = (17, 33, 65)


def _grid(n):
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    return torch.meshgrid(x, x, indexing="ij")


def _rms_interior(r):
    return float(r.pow(2).mean().sqrt())


def _orders(errors):
    # h halves between the resolutions (N-1 doubles)
    return [math.log2(e0 / e1) for e0, e1 in zip(errors, errors[1:])]


def test_darcy_consistency_order_two_on_manufactured_solution():
    prob = pde_bench.get_problem("darcy")
    pi = math.pi
    errors = []
    for n in RESOLUTIONS:
        x, y = _grid(n)
        a = 2 + 0.5 * torch.sin(pi * x) * torch.cos(pi * y) + x * y
        a_x = 0.5 * pi * torch.cos(pi * x) * torch.cos(pi * y) + y
        a_y = -0.5 * pi * torch.sin(pi * x) * torch.sin(pi * y) + x
        u = torch.sin(pi * x) * torch.sin(2 * pi * y)
        u_x = pi * torch.cos(pi * x) * torch.sin(2 * pi * y)
        u_y = 2 * pi * torch.sin(pi * x) * torch.cos(2 * pi * y)
        f = -(a_x * u_x + a_y * u_y + a * (-5 * pi**2) * u)   # f = -div(a grad u)
        errors.append(_rms_interior(prob.residual(a, u, forcing=f)))
    orders = _orders(errors)
    assert all(1.9 < p < 2.1 for p in orders), (errors, orders)


@pytest.mark.parametrize("name, shift", [("poisson", 0.0), ("helmholtz", 1.0)])
def test_screened_poisson_consistency_order_two(name, shift):
    prob = pde_bench.get_problem(name)
    pi = math.pi
    errors = []
    for n in RESOLUTIONS:
        x, y = _grid(n)
        u = torch.sin(pi * x) * torch.sin(2 * pi * y) * torch.exp(x)
        # Laplace(e^x sin(pi x)) sin(2 pi y) computed by hand
        lap = torch.exp(x) * ((1 - pi**2) * torch.sin(pi * x) + 2 * pi * torch.cos(pi * x)) * torch.sin(2 * pi * y) \
            - 4 * pi**2 * u
        a = lap + shift * u
        errors.append(_rms_interior(prob.residual(a, u)))
    orders = _orders(errors)
    assert all(1.9 < p < 2.1 for p in orders), (errors, orders)


@pytest.fixture(scope="module")
def ns_reference():
    """Two 32^2 initial vorticities and their w(T=1) with dt = 1e-4 (the reference run)."""
    prob = pde_bench.get_problem("navier-stokes")
    a = torch.as_tensor(prob.sample_inputs(2, 32, seed=0))
    return prob, a, ns_flow(a, 1.0, dt=1e-4, nu=prob.params["nu"])


def _rel(w, ref):
    return float(((w - ref).norm(dim=(-2, -1)) / ref.norm(dim=(-2, -1))).max())


def test_navier_stokes_default_dt_agrees_with_fine_run(ns_reference):
    prob, a, ref = ns_reference
    assert _rel(torch.as_tensor(prob.solve(a)), ref) <= 1e-2


def test_navier_stokes_time_stepping_order_two(ns_reference):
    prob, a, ref = ns_reference
    errors = [_rel(ns_flow(a, 1.0, dt=dt, nu=prob.params["nu"]), ref) for dt in (0.1, 0.05, 0.025)]
    orders = _orders(errors)
    assert all(1.9 < p < 2.1 for p in orders), (errors, orders)


def test_navier_stokes_single_mode_exact_solution():
    """w = A(t) phi with phi an eigenmode shaped like the forcing: advection vanishes and
    dA/dt = -8 pi^2 nu A + amp; the scheme reproduces it to second order in dt."""
    nu, amp, n = 1e-2, 0.1, 16
    x = torch.arange(n, dtype=torch.float64) / n
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    phi = torch.sin(2 * math.pi * (xx + yy)) + torch.cos(2 * math.pi * (xx + yy))
    lam = 8 * math.pi**2 * nu
    a0, t = 0.7, 1.0
    exact = (a0 * math.exp(-lam * t) + amp / lam * (1 - math.exp(-lam * t))) * phi
    errors = [_rel(ns_flow(a0 * phi, t, dt=dt, nu=nu, forcing_amp=amp), exact) for dt in (0.1, 0.05, 0.025)]
    orders = _orders(errors)
    assert errors[0] < 1e-3 and all(1.9 < p < 2.1 for p in orders), (errors, orders)


def _small_inputs(prob, n=8):
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(2, n, n, generator=gen, dtype=torch.float64)
    u = torch.rand(2, n, n, generator=gen, dtype=torch.float64)
    if prob.name == "darcy":
        a = 3.0 + 9.0 * a
    return a.requires_grad_(), u.requires_grad_()


def test_gradcheck(problem):
    if problem.name == "navier-stokes":
        problem = pde_bench.get_problem("navier-stokes", t_final=0.2, store_dt=0.1, dt=0.1)
    a, u = _small_inputs(problem)
    assert torch.autograd.gradcheck(lambda a, u: problem.residual(a, u, check=False), (a, u))


def test_gradcheck_navier_stokes_trajectory_residual():
    prob = pde_bench.get_problem("navier-stokes", t_final=0.2, store_dt=0.1, dt=0.1)
    w = torch.rand(1, 8, 8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.autograd.gradcheck(lambda w: prob.trajectory_residual(w, check=False), (w.requires_grad_(),))


def test_darcy_residual_clamps_non_positive_coefficient():
    prob = pde_bench.get_problem("darcy")
    a = torch.full((1, 8, 8), -1.0, dtype=torch.float64)
    u = torch.rand(1, 8, 8, dtype=torch.float64)
    r = prob.residual(a, u)
    expected = prob.residual(torch.full_like(a, prob.params["a_floor"]), u)
    assert torch.isfinite(r).all()
    torch.testing.assert_close(r, expected)


def test_grf_cosine_variance_matches_spectrum():
    """Grid-mean E[U^2] = sum of squared KL coefficients (orthonormal basis), k = 0 removed."""
    n, alpha, tau = 16, 2.0, 3.0
    xi = np.random.default_rng(0).standard_normal((4000, n, n))
    field = grf_cosine(xi, alpha, tau)
    k = np.arange(n)
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    coef = tau ** (alpha - 1) * (np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2)
    coef[0, 0] = 0
    np.testing.assert_allclose(np.mean(field**2), np.sum(coef**2), rtol=0.03)
    np.testing.assert_allclose(field.mean(axis=(-2, -1)), 0, atol=1e-12)  # constant mode removed


def test_grf_periodic_variance_matches_spectrum():
    n, alpha, tau = 16, 2.5, 7.0
    sigma = tau ** (0.5 * (2 * alpha - 2))
    xi = np.random.default_rng(0).standard_normal((4000, 2, n, n))
    field = grf_periodic(xi, alpha, tau)
    m = np.fft.fftfreq(n, d=1 / n)
    k1, k2 = np.meshgrid(m, m, indexing="ij")
    eig = (n**2 * math.sqrt(2) * sigma * (4 * np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2)) ** 2
    eig[0, 0] = 0
    # Re of the inverse FFT of complex N(0, 2 eig) coefficients: grid-mean E[w^2] = sum(eig) / N^4
    np.testing.assert_allclose(np.mean(field**2), eig.sum() / n**4, rtol=0.03)
