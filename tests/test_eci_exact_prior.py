"""benchmarks/eci_exact_prior.py: the registry's ECI with an exact Gaussian denoiser as the teacher's stand-in."""

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


def test_the_exact_stand_in_runs_through_the_registrys_eci_and_holds_the_observations():
    from pde_bench.problems import get_problem
    from pde_bench.torch_data import Normaliser
    from piddm.solve import METHODS, SolveContext
    from piddm.solve.observation import Observation, parse_observe

    problem, res = get_problem("poisson"), 8
    norm = Normaliser(0.0, 1.0, 0.0, 0.01)
    stand_in = eci.exact_teacher(SimpleNamespace(problem=problem, normaliser=norm, resolution=res))
    x = torch.randn(3, 2, res, res, dtype=torch.float64)
    for sigma in (0.1, 5.0):  # callable as the teacher's denoiser is, per-sample σ
        assert stand_in.denoiser(x, torch.full((3,), sigma)).shape == x.shape
    a = np.random.default_rng(0).standard_normal((3, res, res))
    u = np.random.default_rng(1).standard_normal((3, res, res)) * 0.01
    obs = Observation.from_specs([parse_observe("u:10%")], a, u, seed=1)
    physics = SimpleNamespace(problem=problem, normaliser=norm)
    ctx = SolveContext(physics, model=None, teacher=stand_in)
    settings = METHODS["eci"].make_settings("poisson", "inverse", {"steps": 20, "mix": 1, "resample": 5})
    res_ = METHODS["eci"].solve(ctx, obs, settings, np.arange(3))
    got = np.asarray(res_.u)
    assert got.shape == (3, res, res) and np.all(np.isfinite(np.asarray(res_.a)))
    assert np.allclose(got[obs.mask[:, 1]], u[obs.mask[:, 1]])
