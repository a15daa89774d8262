"""Shipped reference models: present for every problem, loadable, with their provenance."""

import pytest

import pde_bench
from pde_bench import InputError
from piddm.models import load_model
from piddm.models import available_references, reference_model, reference_provenance


def test_the_darcy_teacher_is_shipped_with_its_provenance():
    assert ("darcy", "teacher") in available_references()
    teacher = load_model(reference_model("darcy"), "teacher", problem="darcy", resolution=32)
    assert teacher.info.backbone["preset"] == "small"
    prov = reference_provenance("darcy")
    assert "piddm train-teacher --pde darcy" in prov["command"]
    assert prov["git_commit"] and prov["wall_time_s"] > 0 and prov["steps"] > 0
    rows = prov["quality"]["rows"]
    assert rows[0]["nfe"] == 35 and {"mmse", "smse", "residual"} <= set(rows[0])
    assert reference_model("darcy").stat().st_size < 10e6  # a few MB at most


def test_a_missing_reference_names_what_exists(tmp_path, monkeypatch):
    import piddm.models as reference

    (tmp_path / "darcy").mkdir()
    (tmp_path / "darcy" / "teacher.pt").write_bytes(b"")
    monkeypatch.setattr(reference, "REFERENCE_DIR", tmp_path)
    with pytest.raises(InputError, match=r"no shipped reference teacher for poisson \(shipped: darcy/teacher\)"):
        reference_model("poisson")
    with pytest.raises(InputError, match="piddm distill --pde darcy"):
        reference_model("darcy", "student")


@pytest.mark.parametrize("pde", pde_bench.problem_names())
def test_every_problem_ships_a_student_made_from_its_shipped_teacher(pde):
    from piddm.models import load_student
    from piddm.noise import standard_noise
    from piddm.student import file_hash

    assert {(pde, "teacher"), (pde, "student")} <= set(available_references())
    student, loaded = load_student(reference_model(pde, "student"), problem=pde)
    assert loaded.info.training["teacher_hash"] == file_hash(reference_model(pde, "teacher"))
    prov = reference_provenance(pde, "student")
    assert prov["command"].startswith(f"piddm distill --pde {pde}")
    rows = {r["method"]: r for r in prov["quality"]["rows"]}
    assert rows["PIDDM-1"]["residual"] < rows["teacher Heun-18"]["residual"]  # the physics term did its job
    assert reference_provenance(pde)["command"].split("&&")[-1].strip().startswith(f"piddm train-teacher --pde {pde}")
    x = student(standard_noise(2, (2, 32, 32), seed=0))
    assert x.shape == (2, 2, 32, 32) and x.isfinite().all()
