"""The prepared GPU script runs end to end here with tiny budgets (its real run needs a GPU session)."""

import os
import subprocess
import sys
from pathlib import Path

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
