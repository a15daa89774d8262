"""The shipped teachers and students, measured (not read back from a JSON): each student's one-step samples
have a lower PDE residual than its teacher's Heun-18 samples on the same noise, without shrinking u.

Slow: draws 64 samples per method per problem and makes a 64-sample test split with the teacher's data seed.
"""

import numpy as np
import pytest

import pde_bench

pytestmark = pytest.mark.slow
N = 64


@pytest.fixture(scope="module")
def test_split(tmp_path_factory):
    from pde_bench.datasets import generate_dataset

    def make(model):
        out = tmp_path_factory.mktemp("shipped") / model.problem.name
        seed = int(model.info.data.get("seed", 0))
        generate_dataset(model.problem, out, sizes={"train": N, "val": 1, "test": N}, resolution=model.resolution,
                         seed=seed)
        return out

    return make


@pytest.mark.parametrize("pde", pde_bench.problem_names())
def test_shipped_student_lowers_the_residual_without_shrinking_u(pde, test_split):
    from piddm.compare.distill import evaluate_distilled
    from piddm.evaluate import bootstrap
    from piddm.evaluate.scoring import ReferenceSets
    from piddm.models import load_model, load_student, reference_model

    teacher = load_model(reference_model(pde, "teacher"), "teacher", problem=pde)
    ref = ReferenceSets(test_split(teacher), N, teacher)
    students = {"piddm-1": load_student(reference_model(pde, "student"), problem=pde)}
    scored = evaluate_distilled(teacher, students, ref, {"eval_batch": N, "refine_steps": 0, "refine_lr": 0.05})
    t, s = scored["teacher"].per_sample, scored["piddm-1"].per_sample
    est, lo, hi = bootstrap.ratio(s["residual"], t["residual"])
    assert hi < 1.0, (est, lo, hi)  # the paired interval of residual(student) / residual(teacher) lies below 1
    amp, amp_lo, amp_hi = bootstrap.ratio(s["amplitude_u"], t["amplitude_u"])
    assert 0.8 < amp_lo and amp_hi < 1.25, (amp, amp_lo, amp_hi)  # not a shrunken (or inflated) field
    assert np.isfinite(scored["piddm-1"].u).all() and scored["piddm-1"].cost["nfe"] == 1
