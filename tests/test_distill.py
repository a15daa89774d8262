"""Distillation end to end on tiny models: files, pairs cache, and the residual term at work."""

import numpy as np
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
    from piddm.compare.distill import evaluate_distilled
    from piddm.evaluate.scoring import ReferenceSets, floors

    distill(_opts(tiny_teacher, tmp_path / "s", lam=1.0, steps=3), CPU)
    students = {"piddm-1": load_student(tmp_path / "s", problem="poisson")}
    teacher = load_model(tiny_teacher, "teacher")
    ref = ReferenceSets(dataset_dir("poisson"), 16, teacher)
    cfg = {"eval_batch": 8, "refine_steps": 2, "refine_lr": 0.05}
    scored = evaluate_distilled(teacher, students, ref, cfg)
    assert list(scored) == ["teacher", "piddm-1", "piddm-ref"]
    for s in scored.values():
        assert s.u.shape == (16, 16, 16) and np.isfinite(s.per_sample["bc"]).all()
        assert {"residual", "residual_rel", "amplitude_u"} <= set(s.per_sample) and s.ensemble["mmse"] > 0
    assert scored["piddm-ref"].cost["nfe"] == 3 and scored["piddm-ref"].cost["grad_evals"] == 2
    # PIDDM-ref is the noise search with no observations: it lowers the residual of the same noise
    assert scored["piddm-ref"].per_sample["residual"].mean() < scored["piddm-1"].per_sample["residual"].mean()
    assert floors(ref)["residual"] < 1e-4


def test_reference_sets_take_the_scale_from_the_model_and_check_the_data(tiny_teacher, dataset_dir):
    from pde_bench.conventions import InputError
    from piddm.evaluate.scoring import ReferenceSets

    teacher = load_model(tiny_teacher, "teacher")
    ref = ReferenceSets(dataset_dir("poisson"), 16, teacher)
    assert ref.scale == PhysicsLoss.for_model(teacher).scale and ref.u_rms == PhysicsLoss.for_model(teacher).u_rms
    teacher.info.data["residual_scale"] = 2 * ref.scale  # a model whose scale the data do not share
    with pytest.raises(InputError, match="residual scale"):
        ReferenceSets(dataset_dir("poisson"), 16, teacher)
