"""Quality of a teacher: MMSE / SMSE of u, normalised residual and their floors (README table).

    python benchmarks/teacher_quality.py --teacher piddm/reference/darcy/teacher.pt --data data/darcy-32

Draws as many Heun samples as ``--n`` (default 256, Heun-18 = 35 network calls each) and
compares them with the test split (``--split val`` while choosing between teachers; ``--out DIR`` puts
the report there instead); the floor rows are the test split's own residual and
amplitudes (RMS fluctuation about the training mean / the training RMS: a teacher that shrinks its
draws scores below the data) and the MMSE / SMSE between 256 training samples and the test split. Writes
benchmarks/results/teacher_quality_<pde>.{md,json}.
"""

from __future__ import annotations

from pathlib import Path
import argparse

import torch
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

from piddm.evaluate.scoring import ReferenceSets, floors, teacher_row
from piddm.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--steps", type=int, nargs="+", default=[18])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--split", choices=("test", "val"), default="test", help="val while choosing, test once")
    parser.add_argument("--out", type=Path, default=RESULTS, help="report folder [benchmarks/results]")
    args = parser.parse_args()
    teacher = load_model(args.teacher, "teacher")
    ref = ReferenceSets(args.data, args.n, teacher, split=args.split)
    rows = []
    for steps in args.steps:
        row = teacher_row(teacher, ref, steps=steps, batch=args.batch)
        rows.append(row)
        print(row, flush=True)
    fl = floors(ref)
    rows.append({"method": f"ground truth ({args.split} split) / finite-sample floor", "nfe": "-", "grad_evals": "-",
                 "ms_per_sample": "-", "batch": "-", **{k: fl[k] for k in ("residual", "residual_median", "bc",
                                                                          "amplitude_a", "amplitude_u", "mmse",
                                                                          "smse")}})
    name = teacher.problem.name
    cols = ["method", "nfe", "ms_per_sample", "batch", "residual", "residual_median", "bc", "amplitude_a",
            "amplitude_u", "mmse", "smse"]
    text = write_table(args.out, f"teacher_quality_{name}", f"Teacher quality: {name} {teacher.resolution}^2, "
                       f"{teacher.info.backbone['backbone']}/{teacher.info.backbone['preset']}, {args.n} samples",
                       cols, rows, {**vars(args), "out": str(args.out), "threads": torch.get_num_threads(), "floor": fl,
                                    "teacher_training": teacher.info.training})
    print(text)


if __name__ == "__main__":
    main()
