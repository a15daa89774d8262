"""benchmarks/eci_exact_prior.py: ECI with an exact Gaussian denoiser keeps its constraints, and the scores."""

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
_SPEC = importlib.util.spec_from_file_location(
    "eci_exact_prior", Path(__file__).parents[1] / "benchmarks" / "eci_exact_prior.py")
eci = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(eci)


def test_errors_and_amplitude_read_zero_and_one_on_the_truth():
    truth = np.random.default_rng(0).standard_normal((5, 4, 4)) + 3.0
    assert eci.rel_err(truth, truth) == 0.0
    assert np.isclose(eci.rel_err(2 * truth, truth), 1.0)
    assert np.isclose(eci.amplitude(truth, truth), 1.0)
    mu = truth.mean(axis=0, keepdims=True)
    assert np.isclose(eci.amplitude(mu + 0.5 * (truth - mu), truth), 0.5)


def test_eci_with_an_exact_denoiser_returns_fields_that_hold_the_observations():
    from teacher_sigma_gap import ExactDenoiser

    rng = np.random.default_rng(1)
    A = rng.standard_normal((2 * 4 * 4, 6))
    exact = ExactDenoiser(A, np.zeros(32), (2, 4, 4))
    mask = torch.zeros(3, 2, 4, 4, dtype=torch.bool)
    mask[:, 1, 1, 2] = mask[:, 1, 3, 0] = True
    x_obs = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    identity = SimpleNamespace(to_physical=lambda x: (x[:, 0], x[:, 1]))
    eps = torch.randn(3, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, u = eci.eci_fields(exact, eps, mask, x_obs, identity, 20, 1, 5, 4, 0)
    assert a.shape == u.shape == (3, 4, 4)
    assert np.array_equal(u[mask[:, 1].numpy()], x_obs[:, 1][mask[:, 1]].numpy())
    assert np.all(np.isfinite(a))
