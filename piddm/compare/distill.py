"""The distill command's evaluation: teacher, lambda = 0 student, PIDDM-1 and PIDDM-ref on one test set.

Every method draws the same number of samples (sample i from noise seed (seed, i)) at the same
batch, timed after an untimed warm-up; all are scored by :func:`piddm.evaluate.scoring.evaluate_fields`
(Darcy's a thresholded, residual normalised by the data set's scale). The report adds the two
floors and the acceptance ratios of the distill issue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pde_bench.conventions import InputError

from ..physics import PhysicsLoss
from ..evaluate.scoring import ReferenceSets, Scored, floors, score_student, score_teacher
from ..models import LoadedModel
from ..solve.noise_search import refine_noise
from ..student import Student

__all__ = ["EvalSettings", "acceptance", "check_reference_data", "evaluate_distilled", "refiner"]

TEACHER_STEPS = 18


@dataclass
class EvalSettings:
    samples: int = 256
    batch: int = 128
    seed: int = 1  # noise seeds disjoint from the pairs' (seed 0)
    refine_steps: int = 5
    refine_lr: float = 0.05


def check_reference_data(ref: ReferenceSets, model: LoadedModel) -> None:
    """The evaluation data must be of the model's problem, parameters and resolution."""
    prob = ref.problem
    if prob.name != model.problem.name or dict(prob.params) != dict(model.problem.params):
        raise InputError(f"evaluation data is {prob.name} {dict(prob.params)}, the model is "
                         f"{model.problem.name} {dict(model.problem.params)}")
    res = ref.u_test.shape[-1]
    if res != model.resolution:
        raise InputError(f"evaluation data is at {res}^2, the model was trained at {model.resolution}^2")


def refiner(student: Student, model: LoadedModel, steps: int, lr: float) -> Callable:
    """PIDDM-ref as a map eps -> refined normalised output: Adam on eps lowering R(G(eps)).

    R is the student's own training term (continuous or finalised inputs, as it was trained).
    """
    physics = PhysicsLoss.for_model(model)

    def objective(x):
        return physics(x.double()).float()

    return lambda eps: refine_noise(student, eps, objective, steps=steps, lr=lr).x


def evaluate_distilled(teacher: LoadedModel, students: dict[str, tuple[Student, LoadedModel]],
                       ref: ReferenceSets, settings: EvalSettings,
                       progress: Callable[[str, int], Callable[[int], None]] | None = None,
                       ) -> tuple[list[Scored], dict]:
    """Rows for the teacher (Heun-18) and each student (one call; the last also refined), plus floors.

    ``students`` maps a row label to a loaded student; the entry labelled ``PIDDM-1`` is also
    refined (``PIDDM-ref``). ``progress(label, total)`` returns a callback advanced per sample.
    """
    def bar(label):
        return progress(label, settings.samples) if progress else None

    common = {"batch": settings.batch, "seed": settings.seed}
    scored = [score_teacher(teacher, ref, steps=TEACHER_STEPS, on_progress=bar(f"teacher Heun-{TEACHER_STEPS}"),
                            **common)]
    for label, (student, model) in students.items():
        s = score_student(label, student, model.normaliser, ref, on_progress=bar(label), **common)
        scored.append(s)
    if "PIDDM-1" in students and settings.refine_steps > 0:
        student, model = students["PIDDM-1"]
        k = settings.refine_steps
        label = f"PIDDM-ref ({k} steps)"
        scored.append(score_student(label, student, model.normaliser, ref, refine=refiner(student, model, k,
                                    settings.refine_lr), nfe=k + 1, grad_evals=k, on_progress=bar(label),
                                    **common))
    return scored, floors(ref)


def acceptance(rows: list[dict]) -> list[str]:
    """The distill issue's targets, each as one line saying met / missed and by how much."""
    by = {r["method"]: r for r in rows}
    t = by.get(f"teacher Heun-{TEACHER_STEPS}")
    p = by.get("PIDDM-1")
    z = next((r for r in rows if r["method"].startswith("student")), None)
    if not (t and p):
        return []

    def line(name, value, limit, fmt="{:.3g}", better="le"):
        ok = value <= limit if better == "le" else value >= limit
        return f"- {name}: {fmt.format(value)} (target {'≤' if better == 'le' else '≥'} {fmt.format(limit)}): " \
               f"{'met' if ok else 'MISSED'}"

    out = [line("PIDDM-1 residual / teacher's", p["residual"] / t["residual"], 0.1)]
    if z:
        out.append(line("PIDDM-1 residual / λ=0 student's", p["residual"] / z["residual"], 0.2))
    out.append(line("PIDDM-1 MMSE / teacher's", p["mmse"] / t["mmse"], 1.5))
    out.append(line("PIDDM-1 SMSE / teacher's", p["smse"] / t["smse"], 1.5))
    out.append(line("speed-up of PIDDM-1 over teacher Heun-18", t["ms_per_sample"] / p["ms_per_sample"], 30.0,
                    fmt="{:.1f}", better="ge"))
    return out
