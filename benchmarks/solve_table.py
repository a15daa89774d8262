"""Gather ``piddm solve`` run folders into one table, with PIDDM's error reduction over the baseline.

For every run folder that holds both ``piddm.nc`` and ``physics.nc`` it compares the per-sample
error of the wanted field (forward: u; inverse: a; reconstruction: both, summed) on the same
test samples and masks: the reduction 1 - mean(PIDDM) / mean(physics-only) with a paired
bootstrap 95 % interval over samples (DESIGN.md rule 6).

    python benchmarks/solve_table.py runs/solve/darcy-* --name solve_darcy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_table

WANTED = {"forward": ("err_u",), "inverse": ("err_a",), "reconstruction": ("err_a", "err_u")}


def paired_reduction(ours: np.ndarray, base: np.ndarray, *, resamples: int = 2000, seed: int = 0):
    """1 - mean(ours) / mean(base) and its paired bootstrap 95 % interval over samples."""
    rng = np.random.default_rng(seed)
    n = len(ours)
    idx = rng.integers(0, n, size=(resamples, n))
    boot = 1 - ours[idx].mean(1) / base[idx].mean(1)
    return float(1 - ours.mean() / base.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


def gather(folders: list[Path]) -> list[dict]:
    import xarray as xr

    rows = []
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        prov = metrics["provenance"]
        task = prov["options"]["task"]
        observed = ", ".join(prov["options"]["observe"]) or prov["options"]["source"]
        per = {}
        for method in ("piddm", "physics"):
            if (folder / f"{method}.nc").exists():
                with xr.open_dataset(folder / f"{method}.nc", engine="h5netcdf") as ds:
                    per[method] = sum(ds[k].values for k in WANTED[task])
        for r in metrics["rows"]:
            row = {"run": folder.name, "observed": observed, **r, "reduction": "", "command": prov["command"]}
            for k in ("err_a", "err_u"):
                row[f"{k} %"] = "-" if r[k] is None else f"{100 * r[k]:.2f} ± {100 * r[f'{k}_std']:.2f}"
            for k in ("coverage_a", "coverage_u"):
                row[k] = "-" if r[k] is None else r[k]
            if r["method"] == "PIDDM" and len(per) == 2:
                red, lo, hi = paired_reduction(per["piddm"], per["physics"])
                row["reduction"] = f"{100 * red:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]"
            rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--name", default="solve")
    p.add_argument("--title", default="piddm solve: PIDDM against the physics-only baseline (test split)")
    args = p.parse_args()
    rows = gather([r for r in args.runs if (r / "metrics.json").exists()])
    cols = ["run", "observed", "method", "task", "samples", "err_a %", "err_u %", "residual", "coverage_a",
            "coverage_u", "nfe", "grad_evals", "s_per_sample", "reduction"]
    print(write_table(args.name, args.title, cols, rows, {"runs": [str(r) for r in args.runs]}))
    for r in rows:
        if r["method"] == "PIDDM":
            print(f"{r['run']}: {r['command']}")


if __name__ == "__main__":
    main()
