"""Distillation end to end on tiny models: files, pairs cache, and the residual term at work."""

import pytest
import torch

from piddm.distill import DistillOptions, distill
from piddm.models import load_student
from piddm.physics import PhysicsLoss
from piddm.distributed import Context
from piddm.models import load_model
from piddm.noise import standard_noise
from piddm.teacher import TeacherOptions, train_teacher
from piddm.training import TrainConfig

CPU = Context()


@pytest.fixture(scope="module")
def tiny_teacher(dataset_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("t") / "teacher"
    train_teacher(TeacherOptions(pde="poisson", data=str(dataset_dir("poisson")), out=str(out), preset="tiny",
                                 device="cpu", grid_steps=2,
                                 train=TrainConfig(steps=20, batch=16, lr=2e-3, warmup=2, checkpoint_every=20)), CPU)
    return out


def _opts(teacher, out, lam, steps=30):
    return DistillOptions(pde="poisson", teacher=str(teacher), out=str(out), pairs=32, pair_steps=3, lam=lam,
                          lam_warmup=0, refresh_every=10, refresh_fraction=0.25,
                          train=TrainConfig(steps=steps, batch=16, lr=2e-3, warmup=0, checkpoint_every=10,
                                            ema_halflife=100))


def _student_residual(run):
    student, loaded = load_student(run)
    with torch.no_grad():
        x = student(standard_noise(32, (2, 16, 16), seed=5))
        return PhysicsLoss.for_model(loaded)(x.double()).mean().item()


def test_distillation_writes_a_student_and_the_residual_term_works(tiny_teacher, tmp_path):
    plain = distill(_opts(tiny_teacher, tmp_path / "plain", lam=0.0), CPU)
    physics = distill(_opts(tiny_teacher, tmp_path / "phys", lam=10.0), CPU)
    assert plain.step == physics.step == 30
    for run in ("plain", "phys"):
        names = {p.name for p in (tmp_path / run).iterdir()}
        assert {"student.pt", "checkpoint.pt", "pairs.h5", "loss.csv", "val.csv", "options.json"} <= names
    assert _student_residual(tmp_path / "phys") < 0.5 * _student_residual(tmp_path / "plain")
    loaded = load_model(tmp_path / "phys", "student", problem="poisson")
    assert loaded.info.training["lam"] == 10.0 and loaded.info.training["teacher_hash"]


def test_resume_with_refreshed_pairs_is_exact(tiny_teacher, tmp_path):
    straight = distill(_opts(tiny_teacher, tmp_path / "a", lam=1.0, steps=20), CPU)
    distill(_opts(tiny_teacher, tmp_path / "b", lam=1.0, steps=10), CPU)
    resumed = distill(_opts(tiny_teacher, tmp_path / "b", lam=1.0, steps=20), CPU, resume=True)
    for p, q in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(p, q)


def test_evaluation_rows_for_another_problem(tiny_teacher, dataset_dir, tmp_path):
    from piddm.compare.distill import EvalSettings, acceptance, evaluate_distilled
    from piddm.evaluate.scoring import ReferenceSets
    from piddm.report.comparison import ROW_KEYS, markdown_table

    distill(_opts(tiny_teacher, tmp_path / "s", lam=1.0, steps=3), CPU)
    students = {"PIDDM-1": load_student(tmp_path / "s", problem="poisson")}
    ref = ReferenceSets(dataset_dir("poisson"), 16)
    scored, floor = evaluate_distilled(load_model(tiny_teacher, "teacher"), students, ref,
                                       EvalSettings(samples=16, batch=8, refine_steps=2))
    rows = [s.row for s in scored]
    assert [r["method"] for r in rows] == ["teacher Heun-18", "PIDDM-1", "PIDDM-ref (2 steps)"]
    assert all(set(ROW_KEYS) <= set(r) and r["bc"] is not None for r in rows)
    assert scored[1].u.shape == (16, 16, 16) and floor["residual"] < 1e-4
    assert len(acceptance(rows)) == 4  # no lambda = 0 row: that ratio is left out
    assert "| PIDDM-1 |" in markdown_table(rows, floor, baseline="teacher Heun-18")
