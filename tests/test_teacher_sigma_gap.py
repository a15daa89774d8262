"""benchmarks/teacher_sigma_gap.py: the exact Gaussian denoiser and the shrinkage it measures teachers by."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

_SPEC = importlib.util.spec_from_file_location(
    "teacher_sigma_gap", Path(__file__).parents[1] / "benchmarks" / "teacher_sigma_gap.py")
gap = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gap)


def _model(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((2 * 3 * 3, 5)) * np.array([4.0, 2.0, 1.0, 0.5, 0.1])  # rank 5 in 18 dims
    m = rng.standard_normal(18) * 0.1
    return A, m, gap.ExactDenoiser(A, m, (2, 3, 3))


def test_the_exact_denoiser_is_the_gaussian_posterior_mean():
    A, m, exact = _model()
    C = A @ A.T
    y = torch.randn(4, 2, 3, 3, dtype=torch.float64)
    for sigma in (0.01, 0.7, 30.0):
        dense = m + (C @ np.linalg.solve(C + sigma**2 * np.eye(18), (y.reshape(4, -1).numpy() - m).T)).T
        assert np.allclose(exact(y, sigma).reshape(4, -1).numpy(), dense, atol=1e-10)
    per_sample = exact(y, torch.tensor([0.01, 0.7, 30.0, 1.0], dtype=torch.float64))
    assert torch.allclose(per_sample[2], exact(y[2:3], 30.0)[0])


def test_shrinkage_reads_one_for_the_exact_denoiser_and_the_factor_for_a_shrunk_one():
    A, m, exact = _model(1)
    xi = torch.randn(64, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = (torch.from_numpy(m) + xi @ torch.from_numpy(A).T).reshape(64, 2, 3, 3)
    mt = torch.from_numpy(m).reshape(1, 2, 3, 3)
    for factor in (1.0, 0.6):
        shrunk = _Denoiser(lambda y, s, f=factor: (mt + f * (exact(y.double(), s) - mt)).float())
        t = SimpleNamespace(denoiser=shrunk)
        rows = gap.sigma_rows(t, exact, x, (0.1, 5.0), lead=2, seed=0)
        for row in rows:
            assert abs(row["beta"] - factor) < 1e-5 and abs(row["beta lead"] - factor) < 1e-5
            assert (abs(row["excess"]) < 1e-5) == (factor == 1.0)


class _Denoiser:
    """A stand-in teacher denoiser (float32 output, as the network's)."""

    sigma_data = 0.5

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, y, s):
        return self.fn(y, s)


def test_the_exact_loss_is_the_closed_form_in_edms_weighting():
    """E λ(σ) ||D* - x||² / d = λ(σ) / d Σ_k s_k² σ² / (s_k² + σ²): the absolute losses the report prints."""
    A, m, exact = _model(3)
    xi = torch.randn(20000, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x = (torch.from_numpy(m) + xi @ torch.from_numpy(A).T).reshape(-1, 2, 3, 3)
    s2 = np.linalg.svd(A, compute_uv=False) ** 2
    t = SimpleNamespace(denoiser=_Denoiser(lambda y, s: exact(y.double(), s).float()))
    for row in gap.sigma_rows(t, exact, x, (0.3, 3.0), lead=2, seed=5):
        sig = row["sigma"]
        closed = (sig**2 + 0.25) / (sig * 0.5) ** 2 * (s2 * sig**2 / (s2 + sig**2)).sum() / 18
        assert abs(row["loss exact"] / closed - 1) < 0.03, (sig, row["loss exact"], closed)


def test_the_model_spans_a_linear_problems_data_in_the_teachers_units_and_nothing_else():
    from pde_bench import get_problem
    from pde_bench.torch_data import Normaliser

    prob = get_problem("poisson")
    a, u = prob.generate(n=3, resolution=8, seed=1)
    norm = Normaliser(mean_a=0.3, std_a=2.0, mean_u=-0.01, std_u=0.05)  # offsets: a wrong mean sign shows
    A, m = gap.gaussian_model(prob, norm, 8)
    x = norm.normalise(torch.from_numpy(a), torch.from_numpy(u))
    assert gap.span_error(A, m, x) < 1e-8
    assert gap.span_error(A, -m, x) > 1e-3
    assert gap.span_error(A, m, norm.normalise(torch.from_numpy(a), torch.from_numpy(u) * 1.1)) > 1e-3


def test_the_leading_modes_never_split_a_degenerate_pair():
    assert gap.leading_modes(np.array([9.0, 1.0, 1.0, 0.1])) == 3  # 90 % needs 2 modes; the 3rd is the 2nd's twin
    assert gap.leading_modes(np.array([9.0, 1.0, 0.9, 0.1])) == 2


def test_the_hybrid_denoiser_switches_at_the_cut():
    low, high = (lambda x, s: x * 0), (lambda x, s: x * 1)
    den = gap.switched(low, high, 2.0)
    x = torch.ones(2, 1)
    assert den(x, torch.tensor([2.0, 2.0])).sum() == 0 and den(x, torch.tensor([2.5, 2.5])).sum() == 2


def test_the_draws_compare_the_denoisers_and_a_hybrid_places_a_shortfall():
    from pde_bench.torch_data import Normaliser

    A, m, exact = _model(6)
    m[:] = 0.0
    exact = gap.ExactDenoiser(A, m, (2, 3, 3))
    teacher = SimpleNamespace(normaliser=Normaliser(0.0, 1.0, 0.0, 1.0), resolution=3, denoiser=exact)
    data_u = np.zeros((4, 3, 3))
    same = {r["draws"]: r["amplitude of u"] for r in gap.draw_rows(teacher, exact, 16, data_u + 1.0)}
    assert len({round(v, 9) for k, v in same.items() if k != "data fields"}) == 1  # any hybrid of exact is exact
    shrunk = _Denoiser(lambda y, s: (0.5 * exact(y.double(), s)).float())
    teacher.denoiser = shrunk
    rows = {r["draws"]: r["amplitude of u"] for r in gap.draw_rows(teacher, exact, 16, data_u + 1.0)}
    full = rows["exact denoiser, Heun-18"]
    assert rows["teacher, Heun-18"] < 0.8 * full
    for hybrid in (f"teacher at σ ≤ {gap.CUT:g}, exact above", f"exact at σ ≤ {gap.CUT:g}, teacher above"):
        assert rows["teacher, Heun-18"] < rows[hybrid] < full  # shrinking on part of the path: part of the loss


def test_poisson_and_helmholtz_teachers_default_to_the_levels_validation_chose():
    from piddm.defaults import teacher_defaults

    for pde in ("poisson", "helmholtz"):
        assert teacher_defaults(pde) == {"p_mean": 0.0, "p_std": 1.8}
    for pde in ("darcy", "navier-stokes"):
        assert teacher_defaults(pde) == {"p_mean": -1.2, "p_std": 1.2}
