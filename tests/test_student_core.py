"""The student's building blocks: physics term, one-step parameterisation, distillation pairs."""

import pytest
import torch

from pde_bench.datasets import problem_from_attrs
from pde_bench.problems import get_problem
from pde_bench.torch_data import FieldDataset
from piddm.edm import Denoiser
from piddm.networks import backbone_config, build_backbone
from piddm.physics import PhysicsLoss
from piddm.student import Student, make_pairs, read_pairs, write_pairs


def _physics(data_dir):
    ds = FieldDataset(data_dir, "train")
    prob = problem_from_attrs(ds.attrs)
    n = ds.normaliser
    u_rms = (n.mean_u**2 + n.std_u**2) ** 0.5
    return ds, PhysicsLoss(prob, n, float(ds.attrs["residual_scale"]), u_rms)


def test_physics_term_vanishes_on_ground_truth_and_not_on_noise(dataset_dir):
    for name in ("darcy", "poisson"):
        ds, R = _physics(dataset_dir(name))
        x = ds.batch(torch.arange(8)).double()
        assert R(x).max() < 1e-8  # float32 storage: squared floor
        assert R(x + 0.01 * torch.randn_like(x)).min() > 1e-4


def test_physics_term_is_differentiable(dataset_dir):
    ds, R = _physics(dataset_dir("darcy"))
    x = ds.batch(torch.arange(2)).double()[..., :8, :8].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda y: R(y), (x,), eps=1e-6, atol=1e-5)


def test_hard_and_fixed_inputs_measure_the_thresholded_residual(dataset_dir):
    ds, soft = _physics(dataset_dir("darcy"))
    hard = PhysicsLoss(soft.problem, soft.normaliser, soft.scale, soft.u_rms, inputs="hard")
    fixed = PhysicsLoss(soft.problem, soft.normaliser, soft.scale, soft.u_rms, inputs="fixed")
    x = ds.batch(torch.arange(4)).double()
    x[:, 0] += 0.05 * torch.randn_like(x[:, 0])  # a off its two values: thresholding restores it
    assert hard(x).max() < 1e-8 < soft(x).min()
    y = x.clone().requires_grad_(True)
    hard(y).sum().backward()
    assert y.grad[:, 0].abs().sum() > 0  # a still receives a gradient through the threshold
    # the u-gradient is the exact gradient of the residual at the thresholded a
    a, u = soft.normaliser.to_physical(x.detach())
    z = soft.normaliser.normalise(soft.problem.finalize_inputs(a), u).requires_grad_(True)
    soft(z).sum().backward()
    assert torch.allclose(y.grad[:, 1], z.grad[:, 1])
    w = x.clone().requires_grad_(True)
    fixed(w).sum().backward()  # fixed: same value and u-gradient, nothing reaches a
    assert torch.allclose(fixed(x), hard(x)) and torch.allclose(w.grad[:, 1], z.grad[:, 1])
    assert w.grad[:, 0].abs().max() == 0


def test_anneal_inputs_go_from_smooth_to_the_thresholded_residual(dataset_dir):
    from piddm.physics import ANNEAL_END, ANNEAL_START, anneal_temperature

    ds, soft = _physics(dataset_dir("darcy"))
    anneal = PhysicsLoss(soft.problem, soft.normaliser, soft.scale, soft.u_rms, inputs="anneal")
    hard = PhysicsLoss(soft.problem, soft.normaliser, soft.scale, soft.u_rms, inputs="hard")
    x = ds.batch(torch.arange(4)).double()
    x[:, 0] += 0.05 * torch.randn_like(x[:, 0])
    anneal.temperature = 1e-6  # the sigmoid is a step: the thresholded residual
    assert torch.allclose(anneal(x), hard(x), atol=1e-10)
    anneal.temperature = ANNEAL_START
    y = x.clone().requires_grad_(True)
    anneal(y).sum().backward()
    assert y.grad[:, 0].abs().sum() > 0 and torch.isfinite(y.grad).all()
    a = torch.tensor([0.0, 7.5, 100.0], dtype=torch.float64)  # far below, at, far above the threshold (3, 12)
    assert torch.allclose(soft.problem.relax_inputs(a, 0.01), torch.tensor([3.0, 7.5, 12.0], dtype=torch.float64))
    assert anneal_temperature(0, 100) == ANNEAL_START and anneal_temperature(100, 100) == pytest.approx(ANNEAL_END)
    assert anneal_temperature(50, 100) == pytest.approx((ANNEAL_START * ANNEAL_END) ** 0.5)  # geometric
    assert anneal_temperature(500, 100) == pytest.approx(ANNEAL_END)
    z = torch.randn(3)
    assert torch.equal(get_problem("poisson").relax_inputs(z, 0.1), z)  # identity off Darcy


def _tiny_denoiser(seed=0):
    torch.manual_seed(seed)
    return Denoiser(build_backbone(backbone_config("unet", "tiny", resolution=16, periodic=False)))


def test_student_output_has_no_skip_noise():
    d = _tiny_denoiser()  # fresh network: F = 0
    student = Student(d)
    eps = torch.randn(3, 2, 16, 16)
    assert student(eps).abs().max() == 0  # D would give c_skip * 80 * eps = 3.1e-3 eps here
    skip = d(eps * 80, torch.full((3,), 80.0))
    assert skip.abs().max() > 1e-3


def test_pairs_are_reproducible_and_cached(tmp_path):
    d = _tiny_denoiser().eval()
    eps, x0 = make_pairs(d, 5, 16, steps=2, seed=3, batch=2)
    eps2, x02 = make_pairs(d, 3, 16, steps=2, seed=3, start=2, batch=3)
    assert torch.equal(eps[2:], eps2) and torch.allclose(x0[2:], x02, atol=1e-6)
    path = tmp_path / "pairs.h5"
    write_pairs(path, eps, x0, {"teacher_hash": "abc", "steps": 2})
    got = read_pairs(path, {"teacher_hash": "abc", "steps": 2})
    assert got is not None and torch.equal(got[0], eps) and torch.equal(got[1], x0) and got[2]["steps"] == 2
    assert read_pairs(path, {"teacher_hash": "abd", "steps": 2}) is None
    assert read_pairs(path, {"teacher_hash": "abc", "steps": 3}) is None


def test_shell_parameterisation_keeps_every_start_at_radius_sqrt_d():
    from piddm.solve.noise_search import to_shell

    z = torch.randn(4, 2, 8, 8) * torch.tensor([0.1, 1.0, 3.0, 10.0])[:, None, None, None]
    norms = to_shell(z).flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 128**0.5), rtol=1e-5)
    assert torch.allclose(to_shell(to_shell(z)), to_shell(z))


def test_piddm_ref_is_the_noise_search_without_observations_and_lowers_the_residual(generated):
    """PIDDM-ref: a few Adam steps on eps lowering R(G(eps)) alone, from the evaluation noise of sample i."""
    import numpy as np

    import pde_bench
    from pde_bench.torch_data import Normaliser
    from piddm.noise import standard_noise
    from piddm.physics import PhysicsLoss
    from piddm.solve import SolveContext
    from piddm.solve.noise_search import SolveSettings, solve_noise, to_shell
    from piddm.solve.observation import Observation

    a, u = generated("poisson", 8, n=3)
    prob = pde_bench.get_problem("poisson")
    physics = PhysicsLoss(prob, Normaliser(0.0, float(a.std()), 0.0, float(u.std())), prob.residual_scale(a, u),
                          float(np.sqrt((u**2).mean())))
    torch.manual_seed(0)
    student = torch.nn.Conv2d(2, 2, 3, padding=1).requires_grad_(False)
    empty = Observation(np.zeros((3, 2, 8, 8), bool), np.zeros((3, 2, 8, 8)))
    st = SolveSettings(starts=1, iters=20, lam=1.0, lr=0.1, stream="evaluation", seed=1, batch=3)
    res = solve_noise(SolveContext(physics, student), empty, st)
    assert (res.loss[:, -1] < 0.9 * res.loss[:, 0]).all()
    assert (res.nfe, res.grad_evals) == (21, 20)
    start = standard_noise(3, (2, 8, 8), seed=1, stream="evaluation")  # the evaluation noise of samples 0..2
    with torch.no_grad():
        r0 = physics(student(to_shell(start)).double())  # the start, on the shell
    np.testing.assert_allclose(res.loss[:, 0], r0.numpy(), rtol=1e-4)
