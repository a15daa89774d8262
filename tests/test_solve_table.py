"""benchmarks/solve_table.py: the paired error reduction and the check that a borrowed baseline is paired."""

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from solve_table import _check_paired, paired_reduction


def _solve_output(err, mask_seed=0, n=6, size=4):
    rng = np.random.default_rng(mask_seed)
    dims = ("sample", "x", "y")
    return xr.Dataset({"mask_a": (dims, rng.random((n, size, size)) < 0.3),
                       "mask_u": (dims, np.zeros((n, size, size), bool)),
                       "a_true": (dims, np.ones((n, size, size))), "u_true": (dims, np.zeros((n, size, size))),
                       "err_u": (("sample",), np.asarray(err, float))},
                      coords={"sample": np.arange(n)})


def test_reduction_is_exact_and_its_interval_brackets_it():
    ours, base = np.array([1.0, 2.0, 1.5, 0.5]), np.array([2.0, 4.0, 3.0, 1.0])
    red, lo, hi = paired_reduction(ours, base)
    assert red == pytest.approx(0.5)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)  # every pair halves: no spread
    red, lo, hi = paired_reduction(np.array([1.0, 3.0, 1.0, 2.0]), base)
    assert lo <= red <= hi and lo < hi


def test_baseline_from_another_run_must_share_masks():
    ours, same = _solve_output([0.1] * 6), _solve_output([0.2] * 6)
    _check_paired(ours, same, Path("new"), Path("old"))
    with pytest.raises(SystemExit, match="mask_a"):
        _check_paired(ours, _solve_output([0.2] * 6, mask_seed=1), Path("new"), Path("old"))
