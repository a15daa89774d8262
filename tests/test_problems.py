"""Shapes, reproducibility and exactness of the four problems' generators and residuals."""

import numpy as np
import pytest
import torch

import pde_bench


def normalised(prob, a, u, dtype=torch.float64):
    r = prob.residual(torch.as_tensor(a, dtype=dtype), torch.as_tensor(u, dtype=dtype))
    return pde_bench.normalised_residual(r, prob.residual_scale(a, u))


def test_registry_lists_the_four_problems():
    assert pde_bench.problem_names() == ["darcy", "helmholtz", "navier-stokes", "poisson"]
    assert pde_bench.get_problem("Navier_Stokes").name == "navier-stokes"


def test_shapes(problem, generated):
    a, u = generated(problem.name, 16, n=3)
    assert a.shape == u.shape == (3, 16, 16) and a.dtype == u.dtype == np.float64
    r = problem.residual(torch.as_tensor(a), torch.as_tensor(u))
    interior = 14 if problem.boundary == "dirichlet" else 16
    assert r.shape == (3, interior, interior)
    bc = problem.boundary_residual(torch.as_tensor(u))
    assert bc.shape == ((3, 4 * 16 - 4) if problem.boundary == "dirichlet" else (3, 0))
    assert torch.all(bc == 0)
    # a single field works without a batch axis
    assert problem.residual(torch.as_tensor(a[0]), torch.as_tensor(u[0])).shape == r.shape[1:]


@pytest.mark.parametrize("resolution", [32, 64])
def test_ground_truth_residual_at_float64_floor(problem, generated, resolution):
    a, u = generated(problem.name, resolution)
    assert normalised(problem, a, u).max() <= 1e-10


def test_ground_truth_residual_float32_at_64(problem, generated):
    a, u = generated(problem.name, 64)
    r = normalised(problem, a, u, torch.float32)
    assert r.dtype == torch.float32
    assert r.max() <= 1e-4


def test_samples_are_seeded_per_index(problem):
    a, u = problem.generate(n=3, resolution=16, seed=5)
    a1, u1 = problem.generate(n=1, resolution=16, seed=5, start=2)
    np.testing.assert_array_equal(a[2], a1[0])
    np.testing.assert_allclose(u[2], u1[0], rtol=1e-12, atol=1e-14)
    other_stream, _ = problem.generate(n=1, resolution=16, seed=5, stream=1)
    other_seed, _ = problem.generate(n=1, resolution=16, seed=6)
    assert not np.array_equal(a[0], other_stream[0])
    assert not np.array_equal(a[0], other_seed[0])


def test_solve_is_the_generator(problem, generated):
    a, u = generated(problem.name, 16, n=3)
    np.testing.assert_allclose(problem.solve(a), u, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(problem.solve(a[1]), u[1:2], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("resolution", [32, 128])
def test_resolutions_other_than_default(problem, resolution):
    a, u = problem.generate(n=1, resolution=resolution, seed=0)
    assert a.shape == (1, resolution, resolution)
    assert normalised(problem, a, u).max() <= 1e-10


def test_darcy_inputs_two_valued_and_boundary_zero(generated):
    a, u = generated("darcy", 32)
    assert set(np.unique(a)) == {3.0, 12.0}
    frac_high = (a == 12.0).mean()
    assert 0.2 < frac_high < 0.8
    assert np.all(u[:, [0, -1], :] == 0) and np.all(u[:, :, [0, -1]] == 0)
    assert np.all(u[:, 1:-1, 1:-1] > 0)  # maximum principle for f = 1 > 0


def test_darcy_options_change_levels():
    prob = pde_bench.get_problem("darcy", a_high=10.0, a_low=4.0)
    a, _ = prob.generate(n=2, resolution=16, seed=0)
    assert set(np.unique(a)) == {4.0, 10.0}
    np.testing.assert_array_equal(prob.binarize(np.array([6.9, 7.1])), [4.0, 10.0])


def test_helmholtz_input_zero_on_boundary_poisson_not(generated):
    a_h, _ = generated("helmholtz", 32)
    a_p, _ = generated("poisson", 32)
    ring = lambda x: np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=-1)
    assert np.all(ring(a_h) == 0)
    assert np.abs(ring(a_p)).max() > 0


def test_residual_detects_a_perturbation(problem, generated):
    a, u = generated(problem.name, 32)
    u_bad = u.copy()
    u_bad[:, 10, 12] += 1e-3 * np.abs(u).max()
    assert normalised(problem, a, u_bad).min() > 1e-6  # far above the 1e-10 floor


def test_navier_stokes_trajectory_residual_and_times(generated):
    prob = pde_bench.get_problem("navier-stokes")
    w = prob.generate_trajectory(n=2, resolution=32, seed=0)
    assert w.shape == (2, 32, 32, len(prob.times)) and prob.times[-1] == pytest.approx(1.0)
    a, u = generated("navier-stokes", 32, n=4)
    np.testing.assert_array_equal(w[..., 0], a[:2])
    np.testing.assert_allclose(w[..., -1], u[:2], rtol=1e-12, atol=1e-13)
    d = prob.trajectory_residual(torch.as_tensor(w))
    assert d.shape == (2, 32, 32, len(prob.times) - 1)
    assert d.abs().max() <= 1e-10 * np.abs(w).max()


def test_navier_stokes_mean_vorticity_conserved(generated):
    a, u = generated("navier-stokes", 32)
    np.testing.assert_allclose(u.mean(axis=(-2, -1)), a.mean(axis=(-2, -1)), atol=1e-12)


def test_residual_scale_definitions(generated):
    for name in ["poisson", "helmholtz"]:
        a, u = generated(name, 32)
        assert pde_bench.get_problem(name).residual_scale(a, u) == pytest.approx(
            np.sqrt(np.mean(a[:, 1:-1, 1:-1] ** 2)))
    a, u = generated("darcy", 32)
    assert pde_bench.get_problem("darcy").residual_scale(a, u) == 1.0
    a, u = generated("navier-stokes", 32)
    assert pde_bench.get_problem("navier-stokes").residual_scale(a, u) == pytest.approx(np.sqrt(np.mean(u**2)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_residual_on_cuda_matches_cpu(problem, generated):
    a, u = generated(problem.name, 32)
    a_t, u_t = torch.as_tensor(a), torch.as_tensor(u)
    r_cpu = problem.residual(a_t, u_t)
    r_gpu = problem.residual(a_t.cuda(), u_t.cuda())
    assert r_gpu.device.type == "cuda"
    torch.testing.assert_close(r_gpu.cpu(), r_cpu, rtol=0, atol=1e-10 * float(u_t.abs().max() + 1))
