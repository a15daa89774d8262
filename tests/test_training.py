"""The shared training loop: data order, exact resumption, budgets and the files a run leaves."""

import csv
import json

import pytest
import torch

from pde_bench.conventions import InputError
from piddm.distributed import Context
from piddm.models import load_model
from piddm.teacher import TeacherOptions, train_teacher
from piddm.training import TrainConfig, batch_indices

CPU = Context()


def test_batch_indices_visit_every_sample_once_per_epoch():
    n, batch = 10, 4
    seen = torch.cat([batch_indices(s, batch, n, seed=1) for s in range(5)])  # 20 = two epochs
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:].tolist()) == list(range(10))
    assert not torch.equal(seen[:10], seen[10:])  # each epoch has its own order


def test_ranks_split_the_global_batch():
    whole = batch_indices(3, 8, 50, seed=0)
    parts = torch.cat([batch_indices(3, 8, 50, seed=0, rank=r, world=2) for r in range(2)])
    assert torch.equal(whole, parts)
    with pytest.raises(InputError, match="divisible"):
        batch_indices(0, 7, 50, seed=0, rank=0, world=2)


def _opts(data, out, steps, **kw):
    return TeacherOptions(pde="darcy", data=str(data), out=str(out), preset="tiny", device="cpu", grid_steps=2,
                          train=TrainConfig(steps=steps, batch=8, warmup=3, checkpoint_every=2, log_every=1, **kw))


def test_resume_continues_exactly(dataset_dir, tmp_path):
    data = dataset_dir("darcy")
    straight = train_teacher(_opts(data, tmp_path / "a", 4), CPU)
    train_teacher(_opts(data, tmp_path / "b", 2), CPU)
    resumed = train_teacher(_opts(data, tmp_path / "b", 4), CPU, resume=True)
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    for p, q in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(p, q)
    with open(tmp_path / "b" / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    with open(tmp_path / "a" / "loss.csv") as f:
        assert [r["loss"] for r in csv.DictReader(f)] == [r["loss"] for r in rows]


def test_a_run_leaves_its_files(dataset_dir, tmp_path):
    out = tmp_path / "run"
    train_teacher(_opts(dataset_dir("darcy"), out, 2), CPU)
    names = {p.name for p in out.iterdir()}
    assert {"options.json", "checkpoint.pt", "teacher.pt", "loss.csv", "val.csv", "samples"} <= names
    assert (out / "samples" / "step-0000002.png").stat().st_size > 1000
    opts = json.loads((out / "options.json").read_text())
    assert opts["options"]["preset"] == "tiny" and "git_commit" in opts["provenance"]
    with open(out / "val.csv") as f:
        row = next(csv.DictReader(f))
    assert {"val_loss_sigma_0.01", "val_loss_sigma_10", "val_loss_mean"} <= set(row)
    teacher = load_model(out, "teacher", problem="darcy", resolution=16)
    assert teacher.info.training["step"] == 2 and teacher.info.backbone["preset"] == "tiny"
    assert not any(p.name.endswith(".tmp") for p in out.rglob("*"))


def test_time_budget_stops_the_run(dataset_dir, tmp_path):
    result = train_teacher(_opts(dataset_dir("darcy"), tmp_path / "run", 10**6, minutes=1e-4), CPU)
    assert result.stopped_by == "minutes" and result.step >= 1
    assert load_model(tmp_path / "run", "teacher").info.training["step"] == result.step


def test_training_lowers_the_validation_loss(dataset_dir, tmp_path):
    opts = _opts(dataset_dir("darcy"), tmp_path / "run", 40)
    opts.train.checkpoint_every = 20
    opts.train.lr = 2e-3
    result = train_teacher(opts, CPU)
    first, last = result.history[0]["val_loss_mean"], result.history[-1]["val_loss_mean"]
    assert last < first < 1.0  # a fresh network (F = 0) scores about 1 at every sigma


def test_refuses_to_replace_a_run_and_checks_resume(dataset_dir, tmp_path):
    data = dataset_dir("darcy")
    train_teacher(_opts(data, tmp_path / "run", 1), CPU)
    with pytest.raises(InputError, match="exists"):
        train_teacher(_opts(data, tmp_path / "run", 1), CPU)
    with pytest.raises(InputError, match="nothing to resume"):
        train_teacher(_opts(data, tmp_path / "other", 1), CPU, resume=True)
    other = _opts(data, tmp_path / "run", 2)
    other.preset = "small"
    with pytest.raises(InputError, match="same --pde/--backbone/--preset"):
        train_teacher(other, CPU, resume=True)


def test_the_training_noise_levels_are_the_chosen_ones_and_survive_resume(dataset_dir, tmp_path, monkeypatch):
    import math

    import piddm.teacher as teacher_module
    from piddm.teacher import run_teacher

    drawn = []
    real = teacher_module.sample_sigmas
    monkeypatch.setattr(teacher_module, "sample_sigmas", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    opts = _opts(dataset_dir("darcy"), tmp_path / "run", 2)
    opts.p_mean, opts.p_std = 3.0, 0.1
    train_teacher(opts, CPU)
    sig = torch.cat(drawn).log()
    assert len(sig) == 16 and sig.min() > 3.0 - 0.6 and sig.max() < 3.0 + 0.6  # 6 std: EDM's -1.2 is far out
    training = load_model(tmp_path / "run", "teacher").info.training
    assert (training["p_mean"], training["p_std"]) == (3.0, 0.1)
    drawn.clear()
    again = _opts(dataset_dir("darcy"), tmp_path / "run", 3)  # resume: the stored levels, not the defaults
    run_teacher(again, resume=True)
    assert len(drawn) == 1 and abs(drawn[0].log().mean().item() - 3.0) < 0.2
    with pytest.raises(InputError, match="--p-std positive"):
        TeacherOptions(pde="darcy", data="d", out="o", p_std=0.0)
    with pytest.raises(InputError, match="--p-mean must be finite"):
        TeacherOptions(pde="darcy", data="d", out="o", p_mean=math.nan)
    with pytest.raises(InputError, match="must be numbers"):
        TeacherOptions(pde="darcy", data="d", out="o", p_mean="high")


def test_the_noise_levels_default_per_problem_and_old_runs_keep_edms(monkeypatch):
    from dataclasses import asdict

    from piddm import defaults

    monkeypatch.setitem(defaults.TEACHER_BY_PROBLEM, "darcy", {"p_mean": 0.5, "p_std": 2.0})
    opts = TeacherOptions(pde="darcy", data="d", out="o")
    assert (opts.p_mean, opts.p_std) == (0.5, 2.0)
    assert TeacherOptions(pde="darcy", data="d", out="o", p_std=1.0).p_std == 1.0
    for pde in ("poisson", "navier-stokes"):
        assert TeacherOptions(pde=pde, data="d", out="o").p_mean == defaults.teacher_defaults(pde)["p_mean"]
    saved = asdict(opts)
    del saved["p_mean"], saved["p_std"]  # an options.json written before the levels were stored
    old = TeacherOptions.from_dict(saved)
    assert (old.p_mean, old.p_std) == (-1.2, 1.2)
    assert TeacherOptions.from_dict(asdict(opts)).p_std == 2.0
