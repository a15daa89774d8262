"""The teacher's command under torchrun: two CPU processes (gloo) train one model data-parallel."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pde_bench.torch_data import FieldDataset
from piddm.edm import Denoiser, fixed_sigma_loss
from piddm.networks import backbone_config, build_backbone

pytestmark = pytest.mark.slow  # each test runs the command in a subprocess

SCRIPT = Path(__file__).parent / "scripts" / "ddp_train.py"


def _torchrun():
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.skip("torchrun not found")
    return exe


def test_two_processes_keep_identical_weights_and_learn(dataset_dir, tmp_path):
    data = dataset_dir("darcy")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [_torchrun(), "--standalone", "--nproc_per_node=2", str(SCRIPT), str(data), str(tmp_path), "6"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    for name, p in rank0["model"].items():
        assert torch.equal(p, rank1["model"][name]), name
    # the same fixed-sigma, fixed-batch loss of the untrained network (same init seed) is higher
    torch.manual_seed(0)
    fresh = Denoiser(build_backbone(backbone_config("unet", "tiny", resolution=16, periodic=False)))
    fixed = FieldDataset(data, "train").batch(torch.arange(16))
    before = fixed_sigma_loss(fresh, fixed, (0.5, 2.0))
    after = rank0["loss_after"]
    assert sum(after.values()) < sum(before.values()), (before, after)
    # rank 0 alone wrote the run folder
    assert (tmp_path / "run" / "teacher.pt").exists()
    assert len(list((tmp_path / "run").glob("*.pt"))) == 2  # checkpoint.pt, teacher.pt


def test_the_cli_runs_under_torchrun(dataset_dir, tmp_path):
    exe = shutil.which("piddm", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("piddm console script not installed")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [_torchrun(), "--standalone", "--nproc_per_node=2", exe, "train-teacher", "--pde", "darcy",
           "--data", str(dataset_dir("darcy")), "-o", str(tmp_path / "run"), "--preset", "tiny",
           "--steps", "2", "--batch", "8", "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("teacher   ") == 1  # only rank 0 reports
    assert '"world_size": 2' in (tmp_path / "run" / "options.json").read_text()
