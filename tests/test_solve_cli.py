"""`piddm solve` end to end on a tiny student: output folder, netCDF variables, obs.h5 input, one-line errors."""

import json

import h5py
import numpy as np
import pytest
from cli_helpers import one_line_error, run_piddm

from piddm.solve.observation import Observation, parse_observe, write_observation

pytestmark = pytest.mark.slow  # each test runs the command in a subprocess

FAST = ["--starts", "2", "--iters", "2", "--physics-iters", "5", "--batch", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def tiny_student(tiny_models):
    _, student, data = tiny_models("darcy")
    return student, data


@pytest.fixture(scope="module")
def solved(tiny_student, tmp_path_factory):
    student, data = tiny_student
    out = tmp_path_factory.mktemp("out") / "fwd"
    res = run_piddm("solve", "--pde", "darcy", "--student", student, "--data", data, "--observe", "a:10%",
                    "--test", "2:5", "--method", "piddm", "--method", "physics", "-o", out, *FAST)
    assert res.returncode == 0, res.stderr
    return out, res


def test_solve_writes_netcdf_panels_report_and_metrics(solved):
    import xarray as xr

    out, res = solved
    for method in ("piddm", "physics"):
        with xr.open_dataset(out / f"{method}.nc", engine="h5netcdf") as ds:
            for v in ("a", "u", "a_std", "u_std", "mask_a", "mask_u", "obs_a", "obs_u", "a_true", "u_true"):
                assert ds[v].dims == ("sample", "x", "y"), v
                assert ds[v].shape == (3, 16, 16), v
            assert list(ds["sample"].values) == [2, 3, 4]
            for v in ("err_a", "err_u", "residual", "residual_rel", "amplitude_u", "brier_a", "crps_u"):
                assert ds[v].dims == ("sample",)
            assert ds["u_members"].dims == ("sample", "member", "x", "y")
            assert ds.sizes["member"] == (2 if method == "piddm" else 1)
            assert set(np.unique(ds["a"].values)) <= {3.0, 12.0}  # Darcy a thresholded
            mask = ds["mask_a"].values.astype(bool)
            assert mask.sum() == 3 * round(0.1 * 256) and not ds["mask_u"].values.any()
            np.testing.assert_array_equal(ds["a"].values[mask], ds["a_true"].values[mask])  # imposed exactly
            assert ds.attrs["task"] == "forward"
        assert len(list((out / "panels" / method).glob("sample_*.png"))) == 3
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["rows"]
    assert [(r["method"], r["label"]) for r in rows] == [("piddm", "PIDDM"), ("physics", "physics-only")]
    assert rows[0]["cost"]["nfe"] == 2 * 3 and rows[0]["cost"]["grad_evals"] == 2 * 2 and rows[1]["cost"]["nfe"] == 0
    assert rows[0]["metrics"]["coverage_u"] is not None and rows[1]["metrics"]["coverage_u"] is None
    # K = 2: two exact posterior samples cover the truth within ±2 std with probability 2/π·atan(2/√3)
    assert rows[0]["notes"]["coverage_u"] == "nominal 0.546" and "coverage_u" not in rows[1]["notes"]
    for r in rows:  # every residual beside the amplitude and the residual relative to the sample's own terms
        assert r["metrics"]["amplitude_u"] > 0 and 0 < r["metrics"]["residual_rel"] <= 1
    verdict = metrics["verdicts"][0]
    assert verdict["method"] == "piddm" and verdict["baseline"] == "physics" and verdict["lo"] <= verdict["hi"]
    assert metrics["options"]["task"] == "forward" and json.loads((out / "options.json").read_text())["task"] == "forward"
    assert "| PIDDM |" in res.stdout and "95 % interval" in res.stdout and (out / "report.md").exists()


def test_solve_reads_an_observation_file(tiny_student, tmp_path):
    from pde_bench.loading import load

    student, data = tiny_student
    test = load(data, "test")
    a, u = np.asarray(test.a[:2], float), np.asarray(test.u[:2], float)
    obs_path = tmp_path / "obs.h5"
    write_observation(obs_path, Observation.from_specs([parse_observe("u:30")], a, u), {"a": a})
    res = run_piddm("solve", "--pde", "darcy", "--student", student, "--input", obs_path, "-o", tmp_path / "inv",
                    "--max-panels", "1", *FAST)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "inv" / "metrics.json").read_text())
    row = metrics["rows"][0]
    assert metrics["options"]["task"] == "inverse" and row["metrics"]["err_a"] is not None
    assert "err_u" not in row["metrics"]  # no true u in the file
    assert len(list((tmp_path / "inv" / "panels" / "piddm").glob("*.png"))) == 1


def test_solve_bad_input_is_one_line_and_leaves_nothing(tiny_student, solved, tmp_path):
    student, data = tiny_student
    base = ["solve", "--pde", "darcy", "--student", student, "--data", data, *FAST]
    one_line_error(run_piddm(*base, "--observe", "a:0%", "-o", tmp_path / "x"), "(0, 100%]")
    one_line_error(run_piddm(*base, "--observe", "a:150%", "-o", tmp_path / "x"), "(0, 100%]")
    one_line_error(run_piddm(*base, "--observe", "u:257", "-o", tmp_path / "x"), "more points than the 16x16 grid")
    one_line_error(run_piddm(*base, "-o", tmp_path / "x"), "nothing is observed")
    one_line_error(run_piddm(*base, "--observe", "a:3%", "--test", "10:99", "-o", tmp_path / "x"),
                   "test split", "16 samples")
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f["u"] = np.zeros((2, 16, 16))
    one_line_error(run_piddm(*base, "--input", empty, "-o", tmp_path / "x"), "none of the keys")
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f["mask_u"] = np.ones((2, 8, 8), dtype=np.uint8)
        f["obs_u"] = np.zeros((2, 8, 8))
    one_line_error(run_piddm(*base, "--input", wrong, "-o", tmp_path / "x"), "8x8", "16x16")
    one_line_error(run_piddm("solve", "--pde", "poisson", "--student", student, "--observe", "a:3%", "-o",
                             tmp_path / "x"), "problem 'darcy'", "'poisson'")
    assert not (tmp_path / "x").exists()
    out, _ = solved  # an existing output is refused and left as it was
    before = sorted(p.name for p in out.iterdir())
    one_line_error(run_piddm(*base, "--observe", "a:3%", "-o", out), "already exists")
    assert sorted(p.name for p in out.iterdir()) == before
