"""The shipped teacher and student of a problem, compared as ``piddm distill`` compares its own.

Scores the shipped teacher (Heun-18), the shipped student (PIDDM-1) and PIDDM-ref on the test
split with the harness's metrics (residual beside amplitude and the residual relative to the
sample's own terms, MMSE/SMSE, paired bootstrap intervals on every ratio, one-off costs from the
model files). No training: the students are the files in piddm/reference/.

    python benchmarks/evaluate_shipped.py --pde darcy

writes benchmarks/results/shipped_<pde>.{md,json} and shipped_<pde>_panel.png. To choose between
reference models, score candidates and the shipped pair on the validation split instead:

    python benchmarks/evaluate_shipped.py --pde darcy --split val --teacher T.pt --student S.pt --out DIR

(``--out``: where the report goes, ``<DIR>/<pde>.{md,json}``; the shipped files when no model is named).
"""

from __future__ import annotations

import argparse
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
# The distill issue's acceptance targets: (metric, baseline method id) -> bound (ratio <= bound, or >= for speed).
TARGETS = {("residual", "teacher"): 0.1, ("residual", "student-lam0"): 0.2, ("mmse", "teacher"): 1.5,
           ("smse", "teacher"): 1.5, ("ms_per_sample", "teacher"): (30.0, "ge")}


def main() -> None:
    from piddm.compare.data import evaluation_data
    from piddm.compare.distill import evaluate_models
    from piddm.defaults import distill_defaults
    from piddm.evaluate.scoring import ReferenceSets
    from piddm.files import atomic_write_json, atomic_write_text
    from piddm.models import load_model, load_student, reference_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", required=True)
    p.add_argument("--data", type=Path, default=None, help="data-set folder [data/<pde>-32, else made]")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--split", choices=("val", "test"), default="test", help="val while choosing models, test once")
    p.add_argument("--teacher", type=Path, default=None, help="a candidate teacher [the shipped one]")
    p.add_argument("--student", type=Path, default=None, help="a candidate student [the shipped one]")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=None, help="report folder [benchmarks/results, as shipped_<pde>]")
    args = p.parse_args()
    from piddm.distributed import resolve_device

    dev = resolve_device(args.device)
    teacher = load_model(args.teacher or reference_model(args.pde, "teacher"), "teacher", problem=args.pde, device=dev)
    name = teacher.problem.name
    cfg = distill_defaults(name)
    cfg["samples"] = args.samples
    data = evaluation_data(args.data, teacher, args.samples, "benchmarks/evaluate_shipped.py")
    ref = ReferenceSets(data, args.samples, teacher, split=args.split)
    students = {"piddm-1": load_student(args.student or reference_model(name, "student"), problem=name, device=dev)}
    out, stem = (args.out, name) if args.out else (RESULTS, f"shipped_{name}")
    comparison = evaluate_models(teacher, students, ref, cfg, data_dir=data, panel=out / f"{stem}_panel.png",
                                 targets=TARGETS)
    which = "shipped models" if not (args.teacher or args.student) else "candidate models"
    comparison.title = f"{which.capitalize()} — {name} {teacher.resolution}² ({args.split} split)"
    atomic_write_text(out / f"{stem}.md", comparison.markdown())
    atomic_write_json(out / f"{stem}.json", comparison.to_json())
    print(comparison.markdown())


if __name__ == "__main__":
    main()
