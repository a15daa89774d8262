"""`piddm distill` end to end on a tiny teacher: run folder, report schema, resume, one-line errors."""

import json

import pytest
from cli_helpers import one_line_error as _one_line_error
from cli_helpers import run_piddm as _piddm

from piddm.distributed import Context
from piddm.models import load_model
from piddm.teacher import TeacherOptions, train_teacher
from piddm.training import TrainConfig

pytestmark = pytest.mark.slow  # each test runs the command in a subprocess

SMALL = ["--pairs", "16", "--pair-steps", "2", "--steps", "3", "--batch", "8", "--eval-samples", "16",
         "--eval-batch", "8", "--refine-steps", "2", "--device", "cpu"]


def _teacher(pde, dataset_dir, out):
    train_teacher(TeacherOptions(pde=pde, data=str(dataset_dir(pde)), out=str(out), preset="tiny", device="cpu",
                                 grid_steps=2, train=TrainConfig(steps=4, batch=8, lr=2e-3, warmup=1,
                                                                 checkpoint_every=4)), Context())
    return out / "teacher.pt"


@pytest.fixture(scope="module")
def darcy_teacher(dataset_dir, tmp_path_factory):
    return _teacher("darcy", dataset_dir, tmp_path_factory.mktemp("teacher") / "darcy")


@pytest.fixture(scope="module")
def distilled(darcy_teacher, tmp_path_factory):
    """One run with no --data: the command makes its own evaluation data under ./data."""
    cwd = tmp_path_factory.mktemp("cwd")
    res = _piddm("distill", "--pde", "darcy", "--teacher", darcy_teacher, "-o", "run", *SMALL, cwd=cwd)
    assert res.returncode == 0, res.stderr
    return cwd, res


def test_distill_writes_the_run_folder_and_the_report(distilled):
    cwd, res = distilled
    run = cwd / "run"
    for name in ("report.md", "metrics.json", "panel.png", "piddm/student.pt", "lam0/student.pt", "piddm/pairs.h5"):
        assert (run / name).exists(), name
    assert (cwd / "data" / "darcy-16-eval" / "darcy-16-eval-test.h5").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"kind", "rows", "floor", "verdicts", "costs", "options", "provenance"} <= set(metrics)
    assert [r["method"] for r in metrics["rows"]] == ["teacher", "student-lam0", "piddm-1", "piddm-ref"]
    assert [r["label"] for r in metrics["rows"]] == ["teacher Heun-18", "student λ=0", "PIDDM-1", "PIDDM-ref (2 steps)"]
    for row in metrics["rows"]:
        m = row["metrics"]
        assert m["residual"] > 0 and row["cost"]["ms_per_sample"] > 0 and row["cost"]["batch"] == 8
        assert m["amplitude_u"] > 0 and 0 < m["residual_rel"] <= 1 and m["mmse"] > 0  # residual beside amplitude
    assert metrics["rows"][2]["cost"]["nfe"] == 1 and metrics["rows"][3]["cost"]["grad_evals"] == 2
    assert metrics["floor"]["residual"] < 1e-4 and metrics["floor"]["mmse"] > 0
    ratios = {v["metric"]: v for v in metrics["verdicts"] if v["baseline"] == "teacher"}
    for k in ("residual", "residual_rel", "amplitude_u"):  # paired bootstrap intervals
        assert ratios[k]["lo"] <= ratios[k]["estimate"] <= ratios[k]["hi"], ratios[k]
    for k in ("mmse", "smse"):  # jackknife intervals on the log ratio (piddm.compare.ensemble)
        assert 0 < ratios[k]["lo"] <= ratios[k]["estimate"] <= ratios[k]["hi"], ratios[k]
    items = [c["item"] for c in metrics["costs"]]  # one-off costs in the comparison
    assert items[:2] == ["teacher training", "teacher pairs"] and metrics["costs"][1]["seconds"] > 0
    assert "| PIDDM-1 |" in res.stdout and "95 % interval" in res.stdout and "One-off costs" in res.stdout
    student = load_model(run, "student", problem="darcy")  # the folder resolves to piddm/student.pt
    assert student.info.training["lam"] == 0.1 and student.info.training["inputs"] == "soft"
    assert load_model(run / "lam0", "student").info.training["lam"] == 0.0


def test_resume_continues_both_students(distilled, darcy_teacher):
    cwd, _ = distilled
    assert "16-sample test split" in (cwd / "run" / "report.md").read_text()
    res = _piddm("distill", "--pde", "darcy", "--teacher", darcy_teacher, "-o", "run", "--resume",
                 *SMALL[:4], "--steps", "5", *SMALL[6:], "--split", "val", cwd=cwd)
    assert res.returncode == 0, res.stderr
    for sub in ("lam0", "piddm"):
        assert load_model(cwd / "run" / sub, "student").info.training["step"] == 5
    assert "16-sample val split" in (cwd / "run" / "report.md").read_text()  # scored on validation this time
    # a student stopped before its first checkpoint starts again when the run is resumed
    (cwd / "run" / "piddm" / "checkpoint.pt").unlink()
    res = _piddm("distill", "--pde", "darcy", "--teacher", darcy_teacher, "-o", "run", "--resume", *SMALL, cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert load_model(cwd / "run" / "piddm", "student").info.training["step"] == 3
    assert load_model(cwd / "run" / "lam0", "student").info.training["step"] == 5  # kept, not retrained


def test_quick_run_is_labelled_a_smoke_run(darcy_teacher, dataset_dir, tmp_path):
    res = _piddm("distill", "--pde", "darcy", "--teacher", darcy_teacher, "--data", dataset_dir("darcy"),
                 "-o", tmp_path / "q", "--quick", "--eval-samples", "16", "--steps", "2", "--pairs", "8",
                 "--inputs", "anneal", "--device", "cpu")  # anneal: the schedule runs inside the trainer
    assert res.returncode == 0, res.stderr
    assert "SMOKE RUN" in res.stdout and "SMOKE" in (tmp_path / "q" / "report.md").read_text()
    assert json.loads((tmp_path / "q" / "metrics.json").read_text())["provenance"]["smoke"] is True
    assert json.loads((tmp_path / "q" / "options.json").read_text())["quick"] is True
    assert load_model(tmp_path / "q" / "piddm", "student").info.training["inputs"] == "anneal"


def test_bad_inputs_are_one_line_errors(darcy_teacher, distilled, dataset_dir, tmp_path):
    cwd, _ = distilled
    base = ["distill", "--pde", "darcy", "--teacher", darcy_teacher, "--device", "cpu"]
    _one_line_error(_piddm(*base, "-o", "run", cwd=cwd), "run", "exists")
    _one_line_error(_piddm(*base, "-o", tmp_path / "none", "--resume"), "nothing to resume")
    _one_line_error(_piddm(*base, "-o", tmp_path / "x", "--pairs", "0"), "pairs", "0")
    _one_line_error(_piddm(*base, "-o", tmp_path / "x", "--split", "train"), "split must be val or test", "train")
    _one_line_error(_piddm("distill", "--pde", "poisson", "--teacher", darcy_teacher, "-o", tmp_path / "y"),
                    "darcy", "poisson")
    _one_line_error(_piddm(*base, "-o", tmp_path / "z", "--data", tmp_path / "missing"), "missing")
    _one_line_error(_piddm(*base, "-o", tmp_path / "w", *SMALL, "--data", dataset_dir("darcy", resolution=32)),
                    "32", "16")
    assert not (tmp_path / "w" / "report.md").exists()
