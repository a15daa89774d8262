"""Per-sample numbers of one method in ``piddm solve`` / ``piddm compare`` run folders, side by side.

    python benchmarks/solve_per_sample.py RUN_A RUN_B --method piddm --out benchmarks/results/NAME.md

Reads ``<run>/<method>.nc`` (the per-sample file every solve writes) and tabulates, per sample and run: the
error of a and u, the mean of a over the field for the truth and for each member (min-max over members),
and for Darcy the share of pixels at the high level in the prediction and the truth. What a mean over
samples hides (one or two samples far off) shows here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import xarray as xr

from pde_bench import get_problem
from piddm.report.tables import write_table


def rows_of(run: Path, method: str) -> list[dict]:
    path = run / f"{method}.nc"
    if not path.exists():
        raise SystemExit(f"{path}: no such file (is {method} a row of that run?)")
    options = (run / "options.json").read_text() if (run / "options.json").exists() else "{}"
    pde = json.loads(options).get("pde", "darcy")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        a_true, a_pred, members = ds.a_true.values, ds.a.values, ds.a_members.values
        err_a, err_u = ds.err_a.values, ds.err_u.values
        samples = ds.sample.values
    problem = get_problem(pde)
    high = problem.params.get("a_high") if pde == "darcy" else None
    mid = None if high is None else (problem.params["a_low"] + high) / 2
    out = []
    for i, s in enumerate(samples):
        m = members[i].mean(axis=(-2, -1))
        row = {"run": run.name, "sample": int(s), "err_a": float(err_a[i]), "err_u": float(err_u[i]),
               "mean a (truth)": float(a_true[i].mean()), "mean a (members)": f"{m.min():.3g}–{m.max():.3g}"}
        if mid is not None:
            row["share at a_high (prediction)"] = float((a_pred[i] > mid).mean())
            row["share at a_high (truth)"] = float((a_true[i] > mid).mean())
        out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--method", default="piddm")
    p.add_argument("--out", type=Path, required=True, help="markdown file (a .json beside it)")
    p.add_argument("--title", default=None)
    args = p.parse_args()
    rows = [r for run in args.runs for r in rows_of(run, args.method)]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(write_table(args.out.parent, args.out.stem, args.title or f"{args.method}, per sample", cols, rows,
                      {"runs": [str(r) for r in args.runs], "method": args.method}))


if __name__ == "__main__":
    main()
