"""What does sampling an FNO teacher off its training grid cost? Quality at 32^2 and at 64^2.

    python benchmarks/fno_resolution.py --teacher runs/darcy-fno --data32 data/darcy-32 --data64 data/darcy-64-eval

The sigma-conditioned FNO is called on a finer grid than it was trained on (no retraining);
each resolution is scored against the test split of a data set at that resolution (same
problem, same generator): MMSE / SMSE of u, the normalised residual (its own grid's exact
operator) and the floors. Writes benchmarks/results/fno_resolution_<pde>.{md,json}.
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
    parser.add_argument("--data32", required=True)
    parser.add_argument("--data64", required=True)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--steps", type=int, default=18)
    args = parser.parse_args()
    rows = []
    for data in (args.data32, args.data64):
        from pde_bench.loading import load

        res = load(data, "test").u.shape[-1]
        teacher = load_model(args.teacher, "teacher", resolution=res)
        ref = ReferenceSets(data, args.n, teacher)
        row = teacher_row(teacher, ref, steps=args.steps, batch=64)
        fl = floors(ref)
        rows.append({"resolution": res, "trained_at": teacher.resolution, "nfe": row["nfe"],
                     "ms_per_sample": row["ms_per_sample"], "residual": row["residual"],
                     "residual_gt": fl["residual"], "mmse": row["mmse"], "mmse_floor": fl["mmse"],
                     "smse": row["smse"], "smse_floor": fl["smse"]})
        print(rows[-1], flush=True)
    name = teacher.problem.name
    text = write_table(RESULTS, f"fno_resolution_{name}", f"FNO teacher off its training grid: {name}, "
                       f"{teacher.info.backbone['preset']} trained at {teacher.resolution}^2, {args.n} samples",
                       list(rows[0]), rows, vars(args) | {"threads": torch.get_num_threads(),
                                                          "teacher_training": teacher.info.training})
    print(text)


if __name__ == "__main__":
    main()
