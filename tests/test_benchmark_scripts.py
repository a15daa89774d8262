"""Benchmark scripts: the prepared GPU script runs end to end here with tiny budgets (its real run needs a GPU
session); paired_rows' one-draw scoring."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_references_trains_and_scores_candidate_and_shipped_on_validation(tmp_path):
    env = {**os.environ, "TINY": "1", "OUT": str(tmp_path / "v2"), "DATA_ROOT": str(tmp_path / "data"),
           "DEVICE": "cpu", "WORKERS": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    res = subprocess.run(["bash", "benchmarks/train_references.sh", "poisson"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "v2"
    assert (out / "poisson-teacher" / "teacher.pt").exists() and (out / "poisson-distill" / "piddm" / "student.pt").exists()
    candidate = (out / "val-candidate" / "poisson.md").read_text()
    shipped = (out / "val-shipped" / "poisson.md").read_text()
    assert "Candidate models — poisson 32² (val split)" in candidate and "8-sample val split" in candidate
    assert "Shipped models — poisson 32² (val split)" in shipped
    assert "val split" in (out / "poisson-distill" / "report.md").read_text()


def test_paired_rows_one_draw_scores_each_member_not_the_ensemble_mean(tmp_path):
    """--one-draw scores each member's own error (members: truth + independent noise), not the ensemble mean's:
    set against a one-draw row made of another member, the ensemble mean wins clearly and one draw ties."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import paired_rows

    from pde_bench import get_problem
    from piddm.evaluate.metrics import relative_l2
    from piddm.report.solution import write_solution
    from piddm.solve.observation import Observation, parse_observe
    from piddm.solve.result import SolveResult

    rng = np.random.default_rng(0)
    n, K, N = 40, 8, 8
    a, u = rng.normal(size=(n, N, N)), rng.normal(size=(n, N, N))
    obs = Observation.from_specs([parse_observe("a:10%")], a, u)
    members = u[:, None] + 0.5 * rng.normal(size=(n, K, N, N))
    files = {}
    for name, mem in (("ens", members), ("one", members[:, 1:2])):
        res = SolveResult(a=a, u=mem.mean(1), a_std=0 * a, u_std=mem.std(1), a_best=a, u_best=mem[:, 0],
                          a_members=np.repeat(a[:, None], mem.shape[1], 1), u_members=mem, loss=np.zeros((n, 1)),
                          nfe=1, grad_evals=0, seconds=1.0)
        metrics = {"err_u": relative_l2(res.u, u), "residual": np.ones(n)}
        files[name] = write_solution(tmp_path / f"{name}.nc", get_problem("poisson"), res, obs, {"a": a, "u": u},
                                     metrics, np.arange(n), {"method": name, "task": "forward", "problem": "poisson",
                                                             "nfe": 1, "seconds_per_sample": 0.1, "command": "x"})
    mean = paired_rows.paired(str(files["ens"]), str(files["one"]))
    draw = paired_rows.paired(str(files["ens"]), str(files["one"]), one_draw=True)
    assert mean["reduction"][1] > 0.2  # the mean of 8 noisy members beats one of them
    assert draw["reduction"][1] < 0 < draw["reduction"][2]  # one member against another: a tie
    assert draw["ours"]["err_u"] == pytest.approx(np.mean([relative_l2(members[:, k], u) for k in range(K)]))
