"""The ``piddm solve`` and ``piddm distill`` commands in-process (fast): outputs, and the bad inputs of the
harness issue, each a one-line error before any work that leaves nothing behind."""

import sys

import h5py
import numpy as np
import pytest


def _piddm(monkeypatch, capsys, *args):
    """Run ``piddm ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from cli import main

    monkeypatch.setattr(sys, "argv", ["piddm", *map(str, args)])
    try:
        main.run()
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    finally:
        main._STATE["debug"] = False
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line(result, *fragments):
    code, _, err = result
    lines = [ln for ln in err.splitlines() if ln.startswith("piddm: error:")]
    assert code == 2 and len(lines) == 1, err
    for frag in fragments:
        assert frag in lines[0], lines[0]


@pytest.fixture
def base(tiny_models):
    _, student, data = tiny_models("darcy")
    return ["solve", "--pde", "darcy", "--student", student, "--data", data, "--starts", "2", "--iters", "2",
            "--polish", "2", "--physics-iters", "3", "--device", "cpu", "--max-panels", "1"]


def test_solve_in_process_writes_the_comparison(base, tmp_path, monkeypatch, capsys):
    code, out, err = _piddm(monkeypatch, capsys, *base, "--observe", "u:10%", "--test", "0:2", "--method", "piddm",
                            "--method", "physics", "-o", tmp_path / "run")
    assert code == 0, err
    assert "| PIDDM |" in out and "| physics-only |" in out and "95 % interval" in out
    for name in ("piddm.nc", "physics.nc", "report.md", "metrics.json", "options.json"):
        assert (tmp_path / "run" / name).exists(), name


@pytest.mark.parametrize("args,fragments", [
    (["--lam", "inf"], ("lam must be finite",)),
    (["--lam", "nan"], ("lam must be finite",)),
    (["--obs-noise", "inf"], ("obs_noise must be finite",)),
    (["--obs-noise", "-1"], ("obs_noise must be finite",)),
    (["--physics-budget", "-1", "--method", "physics"], ("budget_s", "-1")),
    (["--physics-budget", "nan", "--method", "physics"], ("budget_s", "nan")),
    (["--method", "nope"], ("method must be one of",)),
    (["--starts", "0"], ("starts", ">= 1")),
])
def test_bad_settings_fail_before_any_work(base, tmp_path, monkeypatch, capsys, args, fragments):
    _one_line(_piddm(monkeypatch, capsys, *base, "--observe", "a:3%", "--test", "0:2", *args, "-o", tmp_path / "x"),
              *fragments)
    assert not (tmp_path / "x").exists()


def _obs_file(path, **arrays):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    return path


@pytest.mark.parametrize("arrays,fragments", [
    ({"mask_u": np.ones((0, 16, 16), np.uint8), "obs_u": np.zeros((0, 16, 16))}, ("(0, 16, 16)", "no data")),
    ({"mask_u": np.ones((2, 16, 16), np.uint8), "obs_u": np.full((2, 16, 16), 1e39)}, ("obs_u",)),
    ({"mask_u": np.ones((2, 16, 16), np.uint8), "obs_u": np.zeros((2, 16, 16), complex)}, ("obs_u", "complex")),
    ({"mask_u": np.ones((2, 16, 16), np.uint8), "obs_u": np.array([[["x"] * 16] * 16] * 2, dtype="S1")}, ("obs_u",)),
])
def test_bad_observation_files_fail_before_any_work(base, tmp_path, monkeypatch, capsys, arrays, fragments):
    path = _obs_file(tmp_path / "obs.h5", **arrays)
    _one_line(_piddm(monkeypatch, capsys, *base, "--input", path, "-o", tmp_path / "x"), str(path), *fragments)
    assert not (tmp_path / "x").exists()


def test_a_data_file_of_another_split_is_refused(base, tiny_models, tmp_path, monkeypatch, capsys):
    from pde_bench.datasets import split_files

    _, _, data = tiny_models("darcy")
    train_file = split_files(data)["train"]
    args = [a if a != data else train_file for a in base]
    _one_line(_piddm(monkeypatch, capsys, *args, "--observe", "a:3%", "--test", "0:2", "--split", "test",
                     "-o", tmp_path / "x"), "'train' split", "'test'")
    assert not (tmp_path / "x").exists()


def test_distill_refuses_bad_settings_in_process(tiny_models, tmp_path, monkeypatch, capsys):
    teacher, _, data = tiny_models("darcy")
    base = ["distill", "--pde", "darcy", "--teacher", teacher, "--data", data, "--device", "cpu"]
    _one_line(_piddm(monkeypatch, capsys, *base, "--lam", "inf", "-o", tmp_path / "x"), "lam must be finite")
    _one_line(_piddm(monkeypatch, capsys, *base, "--resume", "--overwrite", "-o", tmp_path / "x"), "exclude")
    assert not (tmp_path / "x").exists()


def test_compare_runs_every_default_row_on_the_same_teacher_and_writes_its_figures(tiny_models, tmp_path,
                                                                                  monkeypatch, capsys):
    from piddm.defaults import compare_methods

    teacher, student, data = tiny_models("darcy")
    fast = ["--set", "piddm.starts=1", "--set", "piddm.iters=2", "--set", "piddm.polish=0", "--set", "piddm-fast.iters=1",
            "--set", "piddm-fast.polish=0", "--set", "dpde.steps=3",
            "--set", "dps.steps=3", "--set", "eci.steps=4", "--set", "dflow.iters=1", "--set", "dflow.teacher_steps=2"]
    code, out, err = _piddm(monkeypatch, capsys, "compare", "--pde", "darcy", "--task", "forward", "--student", student,
                            "--teacher", teacher, "--data", data, "--test", "0:2", "--observed", "10", "--device",
                            "cpu", "-o", tmp_path / "cmp", *fast)
    assert code == 0, err
    import json

    metrics = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    rows = [r["method"] for r in metrics["rows"]]
    assert rows[:6] == ["piddm", "piddm-fast", "dpde", "dps", "eci", "dflow"]
    assert set(rows) == set(compare_methods("darcy", "forward"))
    pairs = {(v["method"], v["baseline"]) for v in metrics["verdicts"]}
    assert {("piddm", "dpde"), ("piddm-fast", "dpde"), ("piddm-fast", "eci")} <= pairs  # the speed point's verdicts
    assert ("piddm-fast", "piddm") not in pairs  # PIDDM's own verdicts cover that pair
    assert any(m == "piddm-fast" and b in ("kriging", "kriging-solver") for m, b in pairs)  # and the best baseline
    assert metrics["options"]["teacher"] == str(teacher) and metrics["options"]["observe"] == ["a:10%"]
    for name in ("methods.png", "error_vs_time.png", "report.md"):
        assert (tmp_path / "cmp" / name).exists(), name
    dpde = next(r for r in metrics["rows"] if r["method"] == "dpde")
    assert dpde["cost"]["nfe"] == 5 and dpde["cost"]["grad_evals"] == 3  # 2N - 1 calls, N backward passes


@pytest.mark.parametrize("args, fragments", [
    (["--task", "sideways"], ["task must be one of"]),
    (["--task", "generate", "--set", "kriging.rank=3"], ["kriging"]),
    (["--task", "generate", "--set", "dpde.seed=3"], ["seed", "cannot be set for generation"]),
    (["--task", "generate", "--mask-seed", "2"], ["--mask-seed", "no meaning"]),
    (["--task", "forward", "--set", "eci.resample=none"], ["resample cannot be none"]),
    (["--task", "forward", "--observed", "0"], ["--observed", "(0, 100]"]),
    (["--task", "forward", "--set", "eci.resample=-1"], ["ECI", "resample"]),
    (["--task", "inverse", "--set", "dpde.residual=theirs"], ["residual"]),
])
def test_compare_bad_options_are_one_line_errors_that_leave_nothing(tiny_models, tmp_path, monkeypatch, capsys, args,
                                                                   fragments):
    teacher, student, data = tiny_models("darcy")
    out = tmp_path / "cmp"
    _one_line(_piddm(monkeypatch, capsys, "compare", "--pde", "darcy", "--student", student, "--teacher", teacher,
                     "--data", data, "--test", "0:2", "--device", "cpu", "-o", out, *args), *fragments)
    assert not out.exists()


def test_compare_generate_scores_every_generator_on_the_same_noise(tiny_models, tmp_path, monkeypatch, capsys):
    import json

    teacher, student, data = tiny_models("darcy")
    code, out, err = _piddm(monkeypatch, capsys, "compare", "--pde", "darcy", "--task", "generate", "--student",
                            student, "--teacher", teacher, "--data", data, "--test", "0:4", "--device", "cpu",
                            "--set", "dpde.steps=6", "--set", "dpde.zeta_pde=0.01", "--set", "eci.steps=3", "-o", tmp_path / "gen")
    assert code == 0, err
    metrics = json.loads((tmp_path / "gen" / "metrics.json").read_text())
    assert [r["method"] for r in metrics["rows"]] == ["teacher", "piddm-1", "piddm-ref", "dpde", "eci"]
    eci = next(r for r in metrics["rows"] if r["method"] == "eci")
    assert eci["metrics"]["bc"] < 1e-6 and eci["cost"]["nfe"] == 3  # its constraint: u = 0 on the boundary
    dpde = next(r for r in metrics["rows"] if r["method"] == "dpde")
    assert dpde["cost"]["nfe"] == 11 and dpde["cost"]["grad_evals"] == 1  # only step 5 > 0.8 N is PDE-guided
    for key in ("volume_fraction", "interface_length", "spectrum_error"):
        assert key in eci["metrics"], key
    ensemble = {v["metric"]: v for v in metrics["verdicts"] if v["baseline"] == "teacher" and v["metric"] in
                ("mmse", "smse")}  # jackknife intervals (piddm.compare.ensemble)
    assert set(ensemble) == {"mmse", "smse"}
    assert all(0 < v["lo"] <= v["estimate"] <= v["hi"] for v in ensemble.values()), ensemble
    assert (tmp_path / "gen" / "spectrum.png").exists() and (tmp_path / "gen" / "methods.png").exists()
    _one_line(_piddm(monkeypatch, capsys, "compare", "--pde", "darcy", "--task", "generate", "--test", "5:9",
                     "-o", tmp_path / "g2"), "use 0:N")
    assert not (tmp_path / "g2").exists()


def test_compare_resume_reuses_the_methods_an_interrupted_run_finished(tiny_models, tmp_path, monkeypatch, capsys):
    """A run stopped after some methods keeps them staged; ``--resume`` reuses them (same key) and solves the rest;
    a changed setting solves that method again; the staging folder goes once the report is written."""
    import json
    from dataclasses import replace

    import pde_bench.conventions as conventions
    from piddm.solve import METHODS

    monkeypatch.setattr(conventions, "_git_commit", lambda: "0" * 40)  # a clean tree (a dirty one is never reused)
    teacher, student, data = tiny_models("darcy")
    out = tmp_path / "cmp"
    args = ["compare", "--pde", "darcy", "--task", "forward", "--student", student, "--teacher", teacher, "--data",
            data, "--test", "0:2", "--observed", "10", "--device", "cpu", "--max-panels", "0", "-o", out, "--method",
            "piddm", "--method",
            "eci", "--method", "kriging", "--set", "piddm.starts=1", "--set", "piddm.iters=2", "--set",
            "piddm.polish=0", "--set", "eci.steps=4"]

    def boom(*a, **k):
        raise RuntimeError("stopped")

    real = {m: METHODS[m] for m in ("piddm", "eci", "kriging")}
    monkeypatch.setitem(METHODS, "kriging", replace(real["kriging"], solve=boom))
    with pytest.raises(RuntimeError, match="stopped"):
        _piddm(monkeypatch, capsys, *args)
    staged = tmp_path / ".cmp.partial"
    assert not out.exists()
    assert sorted(p.name for p in staged.iterdir()) == ["eci.json", "eci.npz", "piddm.json", "piddm.npz"]
    first = json.loads((staged / "piddm.json").read_text())

    monkeypatch.setitem(METHODS, "kriging", real["kriging"])
    monkeypatch.setitem(METHODS, "piddm", replace(real["piddm"], solve=boom))  # must be reused, not solved
    for commit in ("1" * 40, "0" * 40 + "+dirty"):  # other code, or a modified tree: nothing is reused
        monkeypatch.setattr(conventions, "_git_commit", lambda c=commit: c)
        with pytest.raises(RuntimeError, match="stopped"):
            _piddm(monkeypatch, capsys, *args, "--resume")
    monkeypatch.setattr(conventions, "_git_commit", lambda: "0" * 40)
    code, report, err = _piddm(monkeypatch, capsys, *args[:-1], "eci.steps=5", "--resume")  # eci changed: solved
    assert code == 0, err
    assert "PIDDM: reused from an unfinished run" in report and "ECI-sampling: reused" not in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert {r["method"] for r in metrics["rows"]} == {"piddm", "eci", "kriging"}
    piddm = next(r for r in metrics["rows"] if r["method"] == "piddm")
    assert piddm["cost"]["s_per_sample"] == pytest.approx(first["seconds"] / 2)
    assert not staged.exists()

    monkeypatch.setitem(METHODS, "piddm", real["piddm"])
    code, _, err = _piddm(monkeypatch, capsys, "compare", "--pde", "darcy", "--task", "generate", "--resume",
                          "-o", tmp_path / "g")
    assert code == 2 and "--resume" in err and not (tmp_path / "g").exists()


def _jobs_args(tiny_models):
    teacher, student, data = tiny_models("darcy")
    return ["compare", "--pde", "darcy", "--task", "forward", "--student", student, "--teacher", teacher, "--data",
            data, "--test", "0:2", "--observed", "10", "--device", "cpu", "--max-panels", "0", "--method", "piddm",
            "--method", "eci", "--method", "kriging", "--method", "kriging-solver", "--set", "piddm.starts=2",
            "--set", "piddm.iters=2", "--set", "piddm.polish=3", "--set", "eci.steps=4"]


def test_compare_jobs_gives_the_sequential_answers_from_worker_processes(tiny_models, tmp_path, monkeypatch, capsys):
    """--jobs 2: the standalone methods are solved in worker processes (at this checkout's commit; a modified
    tree hands them over under a token of the run), the "→ solver" row reuses kriging's in the parent; every
    answer equals the sequential run's up to round-off, the report says which rows ran side by side and how,
    and nothing is left staged."""
    import json

    rows = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        code, report, err = _piddm(monkeypatch, capsys, *_jobs_args(tiny_models), "-o", out, "--jobs", jobs)
        assert code == 0, err
        metrics = json.loads((out / "metrics.json").read_text())
        rows[jobs] = {r["method"]: r["metrics"] for r in metrics["rows"]}
        assert ("solved in worker processes, 2 methods at once with" in report) == (jobs == 2)
        if jobs == 2:
            assert set(metrics["options"]["parallel"]) == {"PIDDM", "ECI-sampling", "kriging (empirical covariance)"}
            assert metrics["options"]["parallel_run"]["jobs"] == 2
        assert not (tmp_path / f".jobs{jobs}.partial").exists()
    assert list(rows[1]) == list(rows[2]) == ["piddm", "eci", "kriging", "kriging-solver"]
    for method, metrics in rows[1].items():
        for key, value in metrics.items():
            same = rows[2][method][key] == value or rows[2][method][key] == pytest.approx(value, rel=1e-6, abs=1e-12)
            assert same, (method, key, value, rows[2][method][key])


def test_a_worker_refuses_to_stage_code_other_than_its_runs(tiny_models, tmp_path, monkeypatch):
    """A worker started after the code changed would stage results under the run's commit: it refuses."""
    import pde_bench.conventions as conventions
    from pde_bench.conventions import InputError
    from piddm.compare.solve import SolveOptions, run

    teacher, student, data = tiny_models("darcy")
    monkeypatch.setattr(conventions, "_git_commit", lambda: "1" * 40)
    opts = SolveOptions(pde="darcy", observe=["a:10%"], test="0:2", student=str(student), teacher=str(teacher),
                        data=str(data), out=str(tmp_path / "c"), methods=["kriging"], device="cpu")
    with pytest.raises(InputError, match="the code changed since the run started"):
        run(opts, worker={"method": "kriging", "commit": "0" * 40, "token": None, "jobs": 2, "threads": 1})
    assert not (tmp_path / ".c.partial").exists() and not (tmp_path / "c").exists()


def test_a_token_stages_for_its_own_run_only(tmp_path):
    """On a modified tree nothing is reusable, except what a run's own workers staged under its token."""
    from piddm.compare.staging import Staging
    from piddm.solve.kriging import KrigingSettings
    from piddm.solve.result import SolveResult

    class Obs:
        mask = np.zeros((1, 2, 4, 4), bool)
        values = np.zeros((1, 2, 4, 4))
        noise = (0.0, 0.0)

    dirty = "0" * 40 + "+dirty"
    fields = {f: np.zeros((1, 4, 4)) for f in ("a", "u", "a_std", "u_std", "a_best", "u_best")}
    result = SolveResult(**fields, a_members=np.zeros((1, 1, 4, 4)), u_members=np.zeros((1, 1, 4, 4)),
                         loss=np.zeros((1, 1)), nfe=0, grad_evals=0, seconds=1.0)
    staging = Staging(tmp_path / "out", Obs(), [0], "cpu", {}, dirty, token="abc")
    assert staging.reusable and staging.save("kriging", KrigingSettings(), result, made_with={"jobs": 2, "threads": 1})
    loaded, made = staging.load("kriging", KrigingSettings())
    assert made["made_with"] == {"jobs": 2, "threads": 1}
    for other in (Staging(tmp_path / "out", Obs(), [0], "cpu", {}, dirty),
                  Staging(tmp_path / "out", Obs(), [0], "cpu", {}, dirty, token="xyz")):
        assert other.load("kriging", KrigingSettings()) is None


def test_a_failed_worker_stops_the_run_with_one_line_naming_its_method(capfd):
    from piddm.compare.parallel import WorkerFailed, solve_in_workers

    with pytest.raises(WorkerFailed, match="worker solving piddm failed"):  # no observations: the worker refuses
        solve_in_workers({"pde": "darcy"}, ["piddm"], 1, 1, {"token": None, "commit": ""}, poll_s=0.05)
    assert "piddm worker (piddm): error: nothing is observed" in capfd.readouterr().err


def test_compare_refuses_jobs_below_one(tiny_models, tmp_path, monkeypatch, capsys):
    teacher, student, data = tiny_models("darcy")
    code, _, err = _piddm(monkeypatch, capsys, "compare", "--pde", "darcy", "--task", "forward", "--student", student,
                          "--teacher", teacher, "--data", data, "--test", "0:2", "--jobs", "0", "-o", tmp_path / "c")
    assert code == 2 and "jobs must be an integer >= 1" in err and not (tmp_path / "c").exists()


def test_train_teacher_takes_the_problems_noise_levels_unless_given(dataset_dir, tmp_path, monkeypatch, capsys):
    import json

    from piddm import defaults

    monkeypatch.setitem(defaults.TEACHER_BY_PROBLEM, "darcy", {"p_mean": 0.5, "p_std": 1.5})
    tiny = ["train-teacher", "--pde", "darcy", "--data", dataset_dir("darcy"), "--preset", "tiny", "--steps", "1",
            "--batch", "4", "--checkpoint-every", "1", "--device", "cpu"]
    for extra, expected in (([], (0.5, 1.5)), (["--p-std", "2"], (0.5, 2.0))):
        out = tmp_path / f"run{len(extra)}"
        code, _, err = _piddm(monkeypatch, capsys, *tiny, *extra, "-o", out)
        assert code == 0, err
        stored = json.loads((out / "options.json").read_text())["options"]
        assert (stored["p_mean"], stored["p_std"]) == expected
    _one_line(_piddm(monkeypatch, capsys, *tiny, "--p-std", "-1", "-o", tmp_path / "bad"), "--p-std positive", "-1")
    _one_line(_piddm(monkeypatch, capsys, "train-teacher", "--images", "fashion-mnist", "--p-mean", "0", "-o",
                     tmp_path / "img"), "--p-mean / --p-std apply to --pde teachers")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "img").exists()
