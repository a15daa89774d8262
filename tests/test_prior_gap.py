"""benchmarks/prior_gap.py: the student's draws, in physical units, as a training split the baselines fit on."""

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
_SPEC = importlib.util.spec_from_file_location("prior_gap", Path(__file__).parents[1] / "benchmarks" / "prior_gap.py")
gap = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gap)


def test_student_draws_map_each_noise_through_the_student_and_the_normaliser():
    norm = SimpleNamespace(to_physical=lambda x: (2 * x[:, 0] + 1, -x[:, 1]))
    out = gap.model_draws(lambda eps: 3 * eps, norm, 7, 4, seed=5, who="student", batch=3)
    assert out["a"].shape == out["u"].shape == (7, 4, 4)
    from piddm.noise import standard_noise

    eps = standard_noise(7, (2, 4, 4), seed=5, start=0, stream="evaluation").double()
    assert np.allclose(out["a"], 2 * 3 * eps[:, 0].numpy() + 1)
    assert np.allclose(out["u"], -3 * eps[:, 1].numpy())

