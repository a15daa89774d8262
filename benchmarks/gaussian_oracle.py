"""The best any method can do on the linear problems: the exact Gaussian posterior mean.

Poisson and Helmholtz are linear, u = L a, and their inputs are Gaussian, a = S xi with xi
standard normal (the cosine GRF of ``pde_bench.random_fields``). Given noise-free observations
y = B xi of any pixels of a and u, the posterior of xi is Gaussian with mean
B^T (B B^T)^+ y; its a and u are the minimum mean-squared-error estimates: no method, learned
or not, has a lower expected squared error on this data. So this oracle (which knows the data
generator's covariance, as no practical method does) bounds how far PIDDM can improve on the
physics-only baseline, and its posterior std gives what calibrated uncertainty looks like.

It reads ``piddm solve`` run folders (their ``piddm.nc``: masks and true fields), solves the
same samples with the same masks, and writes a table with the runs' own rows beside it.

    python benchmarks/gaussian_oracle.py runs/solve/poisson-* --name solve_poisson_oracle
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
from solve_table import WANTED, paired_reduction

from pde_bench.problems import get_problem
from pde_bench.random_fields import grf_cosine


def linear_maps(pde: str, n_side: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, LS): the matrices (N², N²) taking standard normals xi to a and to u = solve(a)."""
    problem = get_problem(pde)
    if not hasattr(problem, "shift"):
        raise SystemExit(f"error: {pde} is not a linear problem with a Gaussian input; the oracle needs one")
    dim = n_side * n_side
    basis = np.eye(dim).reshape(dim, n_side, n_side)
    a = grf_cosine(basis, problem.params["alpha"], problem.params["tau"])
    if problem.zero_boundary_input:
        a[:, 0, :] = a[:, -1, :] = a[:, :, 0] = a[:, :, -1] = 0.0
    u = problem.solve(a)
    return a.reshape(dim, dim).T, u.reshape(dim, dim).T


def posterior(S: np.ndarray, LS: np.ndarray, mask_a: np.ndarray, mask_u: np.ndarray, a_true: np.ndarray,
              u_true: np.ndarray) -> dict[str, np.ndarray]:
    """Posterior mean and std of a and u of one sample given its observed pixels (noise-free)."""
    ia, iu = mask_a.ravel(), mask_u.ravel()
    B = np.concatenate([S[ia], LS[iu]])
    y = np.concatenate([a_true.ravel()[ia], u_true.ravel()[iu]])
    gram_pinv = np.linalg.pinv(B @ B.T, rcond=1e-10, hermitian=True)
    xi = B.T @ (gram_pinv @ y)
    proj = np.eye(S.shape[1]) - B.T @ gram_pinv @ B          # posterior covariance of xi
    out = {}
    for name, M in (("a", S), ("u", LS)):
        out[name] = (M @ xi).reshape(a_true.shape)
        var = ((M @ proj) * M).sum(1)
        out[f"{name}_std"] = np.sqrt(np.clip(var, 0.0, None)).reshape(a_true.shape)
    out["consistency"] = float(np.abs(B @ xi - y).max() / max(np.abs(y).max(), 1e-30)) if len(y) else 0.0
    return out


def _rel_l2(pred, true):
    return float(np.linalg.norm(pred - true) / max(np.linalg.norm(true), 1e-30))


def _coverage(pred, std, true, observed):
    free = ~observed
    return float(((np.abs(true - pred) <= 2 * std) & free).sum() / max(free.sum(), 1))


def oracle_run(folder: Path) -> list[dict]:
    import xarray as xr

    metrics = json.loads((folder / "metrics.json").read_text())
    prov = metrics["provenance"]
    task = prov["options"]["task"]
    with xr.open_dataset(folder / "piddm.nc", engine="h5netcdf") as ds:
        pde = ds.attrs["problem"]
        mask_a, mask_u = ds["mask_a"].values.astype(bool), ds["mask_u"].values.astype(bool)
        a_true, u_true = ds["a_true"].values, ds["u_true"].values
    per = {}
    for method in ("piddm", "physics"):
        if (folder / f"{method}.nc").exists():
            with xr.open_dataset(folder / f"{method}.nc", engine="h5netcdf") as ds:
                per[method] = sum(ds[k].values for k in WANTED[task])
    S, LS = linear_maps(pde, a_true.shape[-1])
    u_model = np.einsum("ij,nj->ni", LS @ np.linalg.pinv(S, rcond=1e-10), a_true.reshape(len(a_true), -1))
    data_check = max(_rel_l2(u_model[i].reshape(u_true[i].shape), u_true[i]) for i in range(len(u_true)))
    if data_check > 1e-6:
        raise SystemExit(f"error: {folder}: u_true is not the solver's u of a_true (rel-L2 {data_check:.2g})")
    errs = {"err_a": [], "err_u": [], "coverage_a": [], "coverage_u": []}
    worst = 0.0
    for i in range(len(a_true)):
        post = posterior(S, LS, mask_a[i], mask_u[i], a_true[i], u_true[i])
        worst = max(worst, post["consistency"])
        for ch, true, mask in (("a", a_true[i], mask_a[i]), ("u", u_true[i], mask_u[i])):
            errs[f"err_{ch}"].append(_rel_l2(post[ch], true))
            errs[f"coverage_{ch}"].append(_coverage(post[ch], post[f"{ch}_std"], true, mask))
    errs = {k: np.array(v) for k, v in errs.items()}
    oracle_wanted = sum(errs[k] for k in WANTED[task])
    observed = ", ".join(prov["options"]["observe"]) or prov["options"]["source"]
    rows = []
    for r in metrics["rows"]:
        key = "piddm" if r["method"] == "PIDDM" else "physics"
        red = paired_reduction(per[key], oracle_wanted) if key in per else None
        rows.append({"run": folder.name, "observed": observed, "method": r["method"], "task": task,
                     "samples": r["samples"],
                     **{f"{k} %": "-" if r[k] is None else f"{100 * r[k]:.2f} ± {100 * r[f'{k}_std']:.2f}"
                        for k in ("err_a", "err_u")},
                     "coverage_a": r["coverage_a"] if r["coverage_a"] is not None else "-",
                     "coverage_u": r["coverage_u"] if r["coverage_u"] is not None else "-",
                     "excess over oracle": "" if red is None else
                     f"{-100 * red[0]:.0f} % [{-100 * red[2]:.0f}, {-100 * red[1]:.0f}]", "bound": ""})
    rows.append({"run": folder.name, "observed": observed, "method": "Gaussian oracle", "task": task,
                 "samples": len(a_true),
                 **{f"{k} %": f"{100 * errs[k].mean():.2f} ± {100 * errs[k].std():.2f}" for k in ("err_a", "err_u")},
                 "coverage_a": float(np.nanmean(errs["coverage_a"])), "coverage_u": float(np.nanmean(errs["coverage_u"])),
                 "excess over oracle": "0 %", "bound": "", "observation_fit": worst})
    if "physics" in per:
        best = 1 - oracle_wanted.mean() / per["physics"].mean()
        rows[-1]["bound"] = f"{100 * best:.0f} %"
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--name", default="solve_oracle")
    p.add_argument("--title", default="piddm solve against the exact Gaussian posterior mean (test split)")
    args = p.parse_args()
    rows = [row for r in args.runs if (r / "piddm.nc").exists() for row in oracle_run(r)]
    cols = ["run", "observed", "method", "task", "samples", "err_a %", "err_u %", "coverage_a", "coverage_u",
            "excess over oracle", "bound"]
    print(write_table(RESULTS, args.name, args.title, cols, rows, {"runs": [str(r) for r in args.runs]}))


if __name__ == "__main__":
    main()
