"""Gather ``piddm solve`` run folders into one table, with PIDDM's error reduction over the baseline.

For every run folder that holds both ``piddm.nc`` and ``physics.nc`` it compares the per-sample
error of the wanted field (forward: u; inverse: a; reconstruction: both, summed) on the same
test samples and masks: the reduction 1 - mean(PIDDM) / mean(physics-only) with a paired
bootstrap 95 % interval over samples (DESIGN.md rule 6).

    python benchmarks/solve_table.py runs/solve/darcy-* --name solve_darcy

A folder with only ``piddm.nc`` can take its baseline from an earlier run with ``--physics-from``
(one folder per run, in the same order): the baseline does not depend on the student, so a new
student is compared without re-running it. The pairing is checked: the two runs must hold the
same samples, the same masks and the same truth, or the script stops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

WANTED = {"forward": ("err_u",), "inverse": ("err_a",), "reconstruction": ("err_a", "err_u")}


def paired_reduction(ours: np.ndarray, base: np.ndarray, *, resamples: int = 2000, seed: int = 0):
    """1 - mean(ours) / mean(base) and its paired bootstrap 95 % interval over samples."""
    rng = np.random.default_rng(seed)
    n = len(ours)
    idx = rng.integers(0, n, size=(resamples, n))
    boot = 1 - ours[idx].mean(1) / base[idx].mean(1)
    return float(1 - ours.mean() / base.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


def _check_paired(ours, base, ours_path: Path, base_path: Path) -> None:
    """Stop unless two solve outputs hold the same samples, masks and truth (a valid paired comparison)."""
    for k in ("sample", "mask_a", "mask_u", "a_true", "u_true"):
        if k in ours.variables and not np.array_equal(ours[k].values, base[k].values):
            raise SystemExit(f"{ours_path} and {base_path} differ in '{k}': not the same samples and masks")


def gather(folders: list[Path], physics_from: list[Path] | None = None) -> list[dict]:
    import xarray as xr

    rows = []
    for i, folder in enumerate(folders):
        metrics = json.loads((folder / "metrics.json").read_text())
        prov = metrics["provenance"]
        task = prov["options"]["task"]
        observed = ", ".join(prov["options"]["observe"]) or prov["options"]["source"]
        sources = {"piddm": folder, "physics": folder}
        method_rows = [(r, prov["command"]) for r in metrics["rows"]]
        if physics_from is not None and not (folder / "physics.nc").exists():
            base = physics_from[i]
            base_metrics = json.loads((base / "metrics.json").read_text())
            if base_metrics["provenance"]["options"]["task"] != task:
                raise SystemExit(f"{base} holds task {base_metrics['provenance']['options']['task']!r}, {folder} task {task!r}")
            sources["physics"] = base
            method_rows = [(r, c) for r, c in method_rows if r["method"] != "physics-only"]
            method_rows += [(r, base_metrics["provenance"]["command"]) for r in base_metrics["rows"] if r["method"] == "physics-only"]
        datasets = {m: xr.load_dataset(src / f"{m}.nc", engine="h5netcdf")
                    for m, src in sources.items() if (src / f"{m}.nc").exists()}
        if len(datasets) == 2:
            _check_paired(datasets["piddm"], datasets["physics"], sources["piddm"], sources["physics"])
        per = {m: sum(ds[k].values for k in WANTED[task]) for m, ds in datasets.items()}
        for r, command in method_rows:
            row = {"run": folder.name, "observed": observed, **r, "reduction": "", "command": command}
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
    p.add_argument("--physics-from", nargs="+", type=Path, default=None,
                   help="earlier runs holding the physics-only baseline, one per run folder, same order")
    args = p.parse_args()
    if args.physics_from is not None and len(args.physics_from) != len(args.runs):
        p.error(f"--physics-from has {len(args.physics_from)} folders for {len(args.runs)} runs")
    runs = args.runs
    if args.physics_from is None:
        runs = [r for r in runs if (r / "metrics.json").exists()]  # a glob may catch logs and other folders
    elif missing := [str(r) for r in [*runs, *args.physics_from] if not (r / "metrics.json").exists()]:
        p.error(f"no metrics.json in {', '.join(missing)}")
    rows = gather(runs, args.physics_from)
    cols = ["run", "observed", "method", "task", "samples", "err_a %", "err_u %", "residual", "coverage_a",
            "coverage_u", "nfe", "grad_evals", "s_per_sample", "reduction"]
    print(write_table(RESULTS, args.name, args.title, cols, rows, {"runs": [str(r) for r in args.runs]}))
    for r in rows:
        print(f"{r['run']} {r['method']}: {r['command']}")


if __name__ == "__main__":
    main()
