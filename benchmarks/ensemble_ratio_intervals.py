"""Can an MMSE / SMSE ratio between two generators carry a confidence interval? Coverage, simulated on real fields.

    python benchmarks/ensemble_ratio_intervals.py --pde poisson --n 256 --m 256 --reps 100 --resamples 200
    python benchmarks/ensemble_ratio_intervals.py --pde darcy --n 100 --m 100 --reps 400 --intervals jackknife

The distill and generation reports print "PIDDM-1 MMSE / teacher's" with an interval. This script measures how
three intervals cover the ratio of *expected* statistics at the report's sizes, E[MMSE(G, R)] / E[MMSE(T, R)]
(and SMSE), where the truth is known: every replicate draws real fields u of the problem's training split
(disjoint within a replicate) and builds a "teacher" T_i = mean + c_T (x_i - mean) + b_T d and a "student"
paired with it by its noise, G_i = mean + c_G (rho (x_i - mean) + sqrt(1 - rho^2) (x'_i - mean)) + b_G d (c:
amplitude, as the shipped teachers' 0.65; d: the leading principal direction at the data's RMS; rho: how much
of T's draw G shares), against an independent real reference set R of m fields. The true ratio is the ratio
of the mean statistics over ``--truth-reps`` further replicates, drawn independently of the scored ones.
Intervals: ``basic`` and ``percentile`` bootstrap (``piddm.evaluate.bootstrap.ensemble_ratio``: paired
indices of G and T resampled together, R independently) and a two-sample delete-one ``jackknife`` of the log
ratio with a normal interval (``ensemble_ratios_jackknife``, what the reports print). Coverage is given with
its Monte Carlo 95 % (Wilson) interval over the replicates. Writes
benchmarks/results/ensemble_ratio_intervals_<pde><suffix>.{md,json}."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pde_bench.loading import load
from piddm.evaluate.bootstrap import ensemble_ratio, ensemble_ratios_jackknife
from piddm.evaluate.metrics import ensemble_errors
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"
SCENARIOS = {  # name: (c_T, b_T, c_G, rho, b_G)
    "T shrunk 0.65; G its near copy (0.63, rho 0.95)": (0.65, 0.0, 0.63, 0.95, 0.0),
    "T shrunk 0.65; G 0.6, rho 0.8": (0.65, 0.0, 0.6, 0.8, 0.0),
    "T exact; G mean bias 0.1": (1.0, 0.0, 1.0, 0.8, 0.1),
    "T 0.9, bias 0.03; G 0.8, bias 0.1": (0.9, 0.03, 0.8, 0.8, 0.1),
    "T exact; G over-dispersed 1.3": (1.0, 0.0, 1.3, 0.8, 0.0),
}


def wilson(hits: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson 95 % interval of a proportion hits / total (the Monte Carlo error of a coverage)."""
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def simulate(u: np.ndarray, scenario: tuple, n: int, m: int, reps: int, resamples: int, seed: int,
             kinds: tuple = ("jackknife", "basic", "percentile"), truth_reps: int = 2000) -> dict:
    c_t, b_t, c_g, rho, b_g = scenario
    mean = u.mean(0)
    x = u - mean
    _, _, vt = np.linalg.svd(x[:2000], full_matrices=False)
    d = vt[0] / np.sqrt(np.mean(vt[0] ** 2)) * np.sqrt(np.mean(x ** 2))

    def replicate(rng):
        idx = rng.permutation(len(u))[:2 * n + m]
        xi, xo, ref = x[idx[:n]], x[idx[n:2 * n]], u[idx[2 * n:]]
        t = mean + c_t * xi + b_t * d
        g = mean + c_g * (rho * xi + np.sqrt(1 - rho ** 2) * xo) + b_g * d
        return g, t, ref

    truth_rng = np.random.default_rng([seed, 1])  # the truth's replicates, independent of the scored ones
    stats = []
    for _ in range(truth_reps):
        g, t, ref = replicate(truth_rng)
        e_g, e_t = ensemble_errors(g, ref), ensemble_errors(t, ref)
        stats.append([[e_g["mmse"], e_g["smse"]], [e_t["mmse"], e_t["smse"]]])
    stats = np.asarray(stats)
    truth = stats[:, 0].mean(0) / stats[:, 1].mean(0)
    rng = np.random.default_rng(seed)
    intervals = {k: [] for k in kinds}
    for rep in range(reps):
        g, t, ref = replicate(rng)
        if "jackknife" in kinds:
            jk = ensemble_ratios_jackknife(g, t, ref)
            intervals["jackknife"].append([jk[k][1:] for k in ("mmse", "smse")])
        for kind in set(kinds) & {"basic", "percentile"}:
            intervals[kind].append([ensemble_ratio(g, t, ref, lambda a, b, k=k: ensemble_errors(a, b)[k],
                                                   resamples=resamples, seed=rep, interval=kind)[1:]
                                    for k in ("mmse", "smse")])
    out = {"true_mmse_ratio": float(truth[0]), "true_smse_ratio": float(truth[1])}
    for kind, iv in intervals.items():
        iv = np.asarray(iv)  # (reps, 2 statistics, lo/hi)
        for s, name in enumerate(("mmse", "smse")):
            lo, hi = iv[:, s, 0], iv[:, s, 1]
            hits = int(np.sum((lo <= truth[s]) & (truth[s] <= hi)))
            c_lo, c_hi = wilson(hits, len(lo))
            out[f"{name}_{kind}_coverage"] = f"{hits / len(lo):.3f} [{c_lo:.2f}, {c_hi:.2f}]"
            out[f"{name}_{kind}_width"] = float(np.median(np.where(lo > 0, hi / np.where(lo > 0, lo, 1), np.inf)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", default="poisson")
    p.add_argument("--data", default=None, help="data-set folder [data/<pde>-32]")
    p.add_argument("--n", type=int, default=256, help="generated samples per method")
    p.add_argument("--m", type=int, default=256, help="reference samples")
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples per replicate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truth-reps", type=int, default=2000, help="independent replicates that fix the true ratio")
    p.add_argument("--name-suffix", default="", help="appended to the table's file name")
    p.add_argument("--intervals", nargs="+", default=["jackknife", "basic", "percentile"],
                   choices=["jackknife", "basic", "percentile"], help="intervals to check (the bootstraps are slow)")
    args = p.parse_args()
    ds = load(args.data or f"data/{args.pde}-32", "train")
    u = np.asarray(ds.u, np.float64).reshape(len(ds.u), -1)
    if len(u) < 2 * args.n + args.m:
        raise SystemExit(f"{ds.path}: {len(u)} fields, {2 * args.n + args.m} needed per replicate")
    rows = []
    for name, scenario in SCENARIOS.items():
        row = {"scenario": name, **simulate(u, scenario, args.n, args.m, args.reps, args.resamples, args.seed,
                                                        tuple(args.intervals), args.truth_reps)}
        rows.append(row)
        print(row, flush=True)
    kinds = [k for k in ("jackknife", "basic", "percentile") if k in args.intervals]
    cols = ["scenario", "true_mmse_ratio"] + [f"mmse_{k}_{q}" for k in kinds for q in ("coverage", "width")]
    cols += ["true_smse_ratio"] + [f"smse_{k}_{q}" for k in kinds for q in ("coverage", "width")]
    print(write_table(RESULTS, f"ensemble_ratio_intervals_{ds.problem.name}{args.name_suffix}",
                      f"Coverage of 95 % intervals for MMSE / SMSE ratios, simulated on real {ds.problem.name} "
                      f"fields (n = {args.n} per generator, m = {args.m} reference, {args.reps} replicates, the true "
                      f"ratio from {args.truth_reps} more; coverage [its Monte Carlo 95 % interval]; width: median "
                      "hi / lo, inf where lo <= 0)", cols, rows, vars(args)))


if __name__ == "__main__":
    main()
