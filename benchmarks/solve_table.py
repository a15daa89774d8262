"""Gather ``piddm solve`` run folders into one table, with each method's error reduction over the baseline.

Every method's solution file in a run folder (``<method>.nc``: ``piddm.nc``, ``physics.nc``, ...)
gives one row: the mean ± std over samples of its per-sample metrics, its costs and its command
(all read from the file: its attributes ``method``, ``task``, ``nfe``, ...; its variables
``err_a``, ``err_u``, ``residual``, ``residual_rel``, ``amplitude_u``, the proper scores ``brier_a`` /
``crps_a`` and ``crps_u``, ``coverage_a``, ``coverage_u`` beside its nominal value for the run's
number of members, the masks). Every method
but the physics-only baseline is compared with the baseline on the per-sample error of the
wanted field (forward: u; inverse: a; reconstruction: both, summed), on the same test samples
and masks: the reduction 1 - mean(method) / mean(physics-only) with a paired bootstrap 95 %
interval over samples (DESIGN.md rule 6; ``piddm.evaluate.bootstrap.reduction``).

    python benchmarks/solve_table.py runs/solve/darcy-* --name solve_darcy

A folder without ``physics.nc`` can take its baseline from an earlier run with ``--physics-from``
(one folder per run, in the same order): the baseline does not depend on the student, so a new
student is compared without re-running it. The pairing is checked: the two runs must hold the
same samples, the same masks and the same truth, or the script stops.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from piddm.evaluate.bootstrap import check_paired, reduction
from piddm.evaluate.metrics import nominal_coverage
from piddm.report.tables import write_table
from piddm.solve import wanted_fields

RESULTS = Path(__file__).parent / "results"

BASELINE = "physics"


def method_files(folder: Path) -> dict[str, Path]:
    """The methods' solution files of a run folder, {key: path}: PIDDM first, the baseline last."""
    import xarray as xr

    found = {}
    for path in sorted(folder.glob("*.nc")):
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            if "method" in ds.attrs and "task" in ds.attrs and "err_a" in ds:
                found[path.stem] = path
    return dict(sorted(found.items(), key=lambda kv: (kv[0] != "piddm", kv[0] == BASELINE, kv[0])))


def wanted_error(ds) -> np.ndarray:
    """Per-sample error of the fields the run's task asks for (summed for reconstruction)."""
    return sum(np.asarray(ds[f"err_{ch}"].values, dtype=np.float64) for ch in wanted_fields(ds.attrs["task"]))


def observed(ds) -> str:
    """What was observed, from the masks: e.g. ``a:3%, u:3%`` (mean fraction of pixels per channel)."""
    parts = [f"{ch}:all" if frac == 1 else f"{ch}:{100 * frac:.2g}%" for ch in ("a", "u")
             if (frac := float(np.asarray(ds[f"mask_{ch}"].values, dtype=bool).mean())) > 0]
    return ", ".join(parts) or "nothing"


def _mean_std(v: np.ndarray) -> tuple[float, float] | None:
    ok = np.isfinite(v)
    return (float(v[ok].mean()), float(v[ok].std())) if ok.any() else None


def method_row(folder: Path, ds) -> dict:
    """One table row from one method's solution file."""
    row = {"run": folder.name, "observed": observed(ds), "method": str(ds.attrs["method"]),
           "task": str(ds.attrs["task"]), "samples": int(ds.sizes["sample"]),
           "nfe": int(ds.attrs.get("nfe", -1)), "grad_evals": int(ds.attrs.get("grad_evals", -1)),
           "s_per_sample": float(ds.attrs.get("seconds_per_sample", np.nan)), "reduction": "",
           "command": str(ds.attrs.get("command", ""))}
    for k in ("err_a", "err_u"):
        ms = _mean_std(np.asarray(ds[k].values, dtype=np.float64))
        row[f"{k} %"] = "-" if ms is None else f"{100 * ms[0]:.2f} ± {100 * ms[1]:.2f}"
    for k in ("residual", "residual_rel", "amplitude_u", "crps_u"):
        ms = _mean_std(np.asarray(ds[k].values, dtype=np.float64)) if k in ds else None
        row[k] = "-" if ms is None else ms[0]
    score = "brier_a" if "brier_a" in ds else "crps_a"
    ms = _mean_std(np.asarray(ds[score].values, dtype=np.float64)) if score in ds else None
    row["a score"] = "-" if ms is None else f"{ms[0]:.3g} ({score.split('_')[0]})"
    members = int(ds.sizes.get("member", 1))
    nominal = nominal_coverage(members)
    for k in ("coverage_a", "coverage_u"):
        if k == "coverage_a" and "brier_a" in ds:  # a two-valued a: its Brier score, not a Gaussian coverage
            row[k] = "-"
            continue
        ms = _mean_std(np.asarray(ds[k].values, dtype=np.float64)) if k in ds else None
        row[k] = "-" if ms is None else f"{ms[0]:.3f} (nominal {nominal:.3f})"
    return row


def gather(folders: list[Path], physics_from: list[Path] | None = None) -> list[dict]:
    import xarray as xr

    rows = []
    for i, folder in enumerate(folders):
        files = method_files(folder)
        if not files:
            raise SystemExit(f"{folder}: no solution files (<method>.nc)")
        if physics_from is not None and BASELINE not in files:
            borrowed = method_files(physics_from[i])
            if BASELINE not in borrowed:
                raise SystemExit(f"{physics_from[i]}: no {BASELINE}.nc to borrow the baseline from")
            files[BASELINE] = borrowed[BASELINE]
        datasets = {m: xr.load_dataset(path, engine="h5netcdf") for m, path in files.items()}
        tasks = {m: ds.attrs["task"] for m, ds in datasets.items()}
        if len(set(tasks.values())) != 1:
            raise SystemExit(f"{folder}: the solution files hold different tasks: {tasks}")
        base = datasets.get(BASELINE)
        for m, ds in datasets.items():
            row = method_row(folder, ds)
            if base is not None and m != BASELINE:
                try:
                    check_paired(ds, base)
                except ValueError as err:
                    raise SystemExit(f"{files[m]} and {files[BASELINE]}: {err}") from None
                red, lo, hi = reduction(wanted_error(ds), wanted_error(base))
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
        runs = [r for r in runs if r.is_dir() and method_files(r)]  # a glob may catch logs and other folders
    elif missing := [str(r) for r in [*runs, *args.physics_from] if not (r.is_dir() and method_files(r))]:
        p.error(f"no solution files (<method>.nc) in {', '.join(missing)}")
    rows = gather(runs, args.physics_from)
    cols = ["run", "observed", "method", "task", "samples", "err_a %", "err_u %", "reduction", "residual",
            "residual_rel", "amplitude_u", "a score", "crps_u", "coverage_a", "coverage_u", "nfe", "grad_evals",
            "s_per_sample"]
    print(write_table(RESULTS, args.name, args.title, cols, rows, {"runs": [str(r) for r in args.runs]}))
    for r in rows:
        print(f"{r['run']} {r['method']}: {r['command']}")


if __name__ == "__main__":
    main()
