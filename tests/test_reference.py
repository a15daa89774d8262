"""Shipped reference models: present for Darcy, loadable, with their provenance."""

import pytest

from pde_bench import InputError
from piddm.model_file import load_model
from piddm.reference import available_references, reference_model, reference_provenance


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


def test_a_missing_reference_names_what_exists():
    shipped = {p for p, _ in available_references()}
    missing = next((p for p in ("navier-stokes", "helmholtz", "poisson") if p not in shipped), None)
    if missing is None:
        pytest.skip("every problem has a shipped teacher")
    with pytest.raises(InputError, match=f"no shipped reference teacher for {missing}"):
        reference_model(missing)


def test_the_darcy_student_is_shipped_and_comes_from_the_shipped_teacher():
    from piddm.distill import load_student
    from piddm.noise import standard_noise
    from piddm.student import file_hash

    assert ("darcy", "student") in available_references()
    student, loaded = load_student(reference_model("darcy", "student"), problem="darcy")
    assert loaded.info.training["teacher_hash"] == file_hash(reference_model("darcy", "teacher"))
    prov = reference_provenance("darcy", "student")
    assert prov["command"].startswith("piddm distill --pde darcy")
    methods = [r["method"] for r in prov["quality"]["rows"]]
    assert "PIDDM-1" in methods and "student λ=0" in methods
    x = student(standard_noise(2, (2, 32, 32), seed=0))
    assert x.shape == (2, 2, 32, 32) and x.isfinite().all()
