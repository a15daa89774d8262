"""The best any method can do on the linear problems: the exact Gaussian posterior mean.

Poisson and Helmholtz are linear with Gaussian inputs, so given noise-free observations of any
pixels the exact posterior mean of a and u is the minimum mean-squared-error estimate
(``piddm.evaluate.oracle``): no method, learned or not, has a lower expected squared error on
this data. It bounds how far PIDDM can improve on the physics-only baseline, and its posterior
std shows what calibrated uncertainty looks like.

It reads ``piddm solve`` run folders: the task and problem from the attributes of the methods'
solution files (``<method>.nc``), the masks and true fields from them, and each method's
per-sample errors (``err_a``, ``err_u``); it solves the same samples with the same masks and
writes a table with the runs' own rows beside the oracle's, each with its excess error over the
oracle (paired bootstrap 95 % interval, ``piddm.evaluate.bootstrap.reduction``).

    python benchmarks/gaussian_oracle.py runs/solve/poisson-* --name solve_poisson_oracle
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from solve_table import BASELINE, method_files, method_row, observed, wanted_error

from pde_bench.conventions import InputError
from pde_bench.problems import get_problem
from piddm.evaluate.bootstrap import reduction
from piddm.evaluate.metrics import coverage, relative_l2
from piddm.evaluate.oracle import gaussian_posterior, linear_maps
from piddm.report.tables import write_table
from piddm.solve import wanted_fields

RESULTS = Path(__file__).parent / "results"


def oracle_run(folder: Path) -> list[dict]:
    import xarray as xr

    files = method_files(folder)
    datasets = {m: xr.load_dataset(path, engine="h5netcdf") for m, path in files.items()}
    first = next(iter(datasets.values()))
    task, pde = str(first.attrs["task"]), str(first.attrs["problem"])
    if any(k not in first for k in ("a_true", "u_true")):
        raise SystemExit(f"error: {files[next(iter(files))]}: no true fields (a_true, u_true); the oracle needs them")
    mask = np.stack([first["mask_a"].values, first["mask_u"].values], 1).astype(bool)
    a_true, u_true = first["a_true"].values.astype(np.float64), first["u_true"].values.astype(np.float64)
    problem = get_problem(pde)
    try:
        S, LS = linear_maps(problem, a_true.shape[-1])
    except InputError as err:
        raise SystemExit(f"error: {folder}: {err}") from None
    u_model = np.einsum("ij,nj->ni", LS @ np.linalg.pinv(S, rcond=1e-10), a_true.reshape(len(a_true), -1))
    data_check = relative_l2(u_model.reshape(u_true.shape), u_true).max()
    if data_check > 1e-6:
        raise SystemExit(f"error: {folder}: u_true is not the solver's u of a_true (rel-L2 {data_check:.2g})")
    post = gaussian_posterior(problem, mask, np.stack([a_true, u_true], 1))
    errs = {"err_a": relative_l2(post["a"], a_true), "err_u": relative_l2(post["u"], u_true),
            "coverage_a": coverage(post["a"], post["a_std"], a_true, ~mask[:, 0]),
            "coverage_u": coverage(post["u"], post["u_std"], u_true, ~mask[:, 1])}
    oracle_wanted = sum(errs[f"err_{ch}"] for ch in wanted_fields(task))
    seen = observed(first)
    rows = []
    for m, ds in datasets.items():
        r = method_row(folder, ds)
        red = reduction(wanted_error(ds), oracle_wanted)
        rows.append({**{k: r[k] for k in ("run", "observed", "method", "task", "samples", "err_a %", "err_u %",
                                          "coverage_a", "coverage_u")},
                     "excess over oracle": f"{-100 * red[0]:.0f} % [{-100 * red[2]:.0f}, {-100 * red[1]:.0f}]",
                     "bound": ""})

    def mean_or_dash(v):
        return float(np.nanmean(v)) if np.isfinite(v).any() else "-"

    rows.append({"run": folder.name, "observed": seen, "method": "Gaussian oracle", "task": task,
                 "samples": len(a_true),
                 **{f"{k} %": f"{100 * errs[k].mean():.2f} ± {100 * errs[k].std():.2f}" for k in ("err_a", "err_u")},
                 "coverage_a": mean_or_dash(errs["coverage_a"]), "coverage_u": mean_or_dash(errs["coverage_u"]),
                 "excess over oracle": "0 %", "bound": "", "observation_fit": float(post["consistency"].max())})
    if BASELINE in datasets:
        best = 1 - oracle_wanted.mean() / wanted_error(datasets[BASELINE]).mean()
        rows[-1]["bound"] = f"{100 * best:.0f} %"
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--name", default="solve_oracle")
    p.add_argument("--title", default="piddm solve against the exact Gaussian posterior mean (test split)")
    args = p.parse_args()
    rows = [row for r in args.runs if r.is_dir() and method_files(r) for row in oracle_run(r)]
    cols = ["run", "observed", "method", "task", "samples", "err_a %", "err_u %", "coverage_a", "coverage_u",
            "excess over oracle", "bound"]
    print(write_table(RESULTS, args.name, args.title, cols, rows, {"runs": [str(r) for r in args.runs]}))


if __name__ == "__main__":
    main()
