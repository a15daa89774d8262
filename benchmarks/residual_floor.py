"""Normalised residual (DESIGN.md rule 3) of generated ground truth, float64 and float32.

    python benchmarks/residual_floor.py --n 16 --resolutions 32 64 128

Each problem's residual is the operator its solver solves, so the floor is rounding error:
<= 1e-10 in float64 and <= 1e-4 in float32 at 64^2 are the tested bounds. The data are cast
to float32 before the residual is evaluated in float32 (as for data stored in float32).
Writes benchmarks/results/residual_floor.{md,json}.
"""

from __future__ import annotations

from pathlib import Path
import argparse

import torch
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

import pde_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64, 128])
    args = parser.parse_args()
    rows = []
    for name in pde_bench.problem_names():
        prob = pde_bench.get_problem(name)
        for res in args.resolutions:
            a, u = prob.generate(n=args.n, resolution=res, seed=0)
            scale = prob.residual_scale(a, u)
            row = {"problem": name, "resolution": res, "samples": args.n}
            for dtype, label in ((torch.float64, "float64"), (torch.float32, "float32")):
                r = prob.residual(torch.as_tensor(a, dtype=dtype), torch.as_tensor(u, dtype=dtype))
                nr = pde_bench.normalised_residual(r, scale)
                row[f"{label}_mean"] = float(nr.mean())
                row[f"{label}_max"] = float(nr.max())
            rows.append(row)
            print(f"{name:14s} {res:4d} float64 max {row['float64_max']:.2e}  float32 max {row['float32_max']:.2e}",
                  flush=True)
    print(write_table(RESULTS, "residual_floor", "Normalised residual of generated ground truth",
                      ["problem", "resolution", "samples", "float64_mean", "float64_max", "float32_mean",
                       "float32_max"], rows, vars(args)))


if __name__ == "__main__":
    main()
