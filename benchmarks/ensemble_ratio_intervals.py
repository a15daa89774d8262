"""Can an MMSE / SMSE ratio between two generators carry a confidence interval? Coverage, simulated on real fields.

    python benchmarks/ensemble_ratio_intervals.py --pde poisson --n 256 --m 256 --reps 200 --resamples 200

The distill and generation reports print "PIDDM-1 MMSE / teacher's" without an interval (percentile and basic
bootstrap were seen to miscover). This script measures how three intervals cover the ratio of *expected*
statistics at the report's sizes, E[MMSE(G, R)] / E[MMSE(T, R)] (and SMSE), where the truth is known:
every replicate draws real fields u of the problem's training split (disjoint per replicate) and builds a
"teacher" T_i = mean + c_T (x_i - mean) + b_T d and a "student" paired with it by its noise, G_i = mean +
c_G (rho (x_i - mean) + sqrt(1 - rho^2) (x'_i - mean)) + b_G d (c: amplitude, as the shipped teachers'
0.65; d: the leading principal direction at the data's RMS; rho: how much of T's draw G shares), against
an independent real reference set R of m fields. The true ratio is the ratio of the replicates' mean
statistics. Intervals: ``basic`` and ``percentile`` bootstrap (``piddm.evaluate.bootstrap.ensemble_ratio``:
paired indices of G and T resampled together, R independently) and a two-sample delete-one ``jackknife``
of the log ratio with a normal interval. Writes benchmarks/results/ensemble_ratio_intervals_<pde>.{md,json}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pde_bench.loading import load
from piddm.evaluate.bootstrap import ensemble_ratio
from piddm.evaluate.metrics import ensemble_errors
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"
Z95 = 1.959963984540054
SCENARIOS = {  # name: (c_T, b_T, c_G, rho, b_G)
    "T shrunk 0.65; G its near copy (0.63, rho 0.95)": (0.65, 0.0, 0.63, 0.95, 0.0),
    "T shrunk 0.65; G 0.6, rho 0.8": (0.65, 0.0, 0.6, 0.8, 0.0),
    "T exact; G mean bias 0.1": (1.0, 0.0, 1.0, 0.8, 0.1),
    "T 0.9, bias 0.03; G 0.8, bias 0.1": (0.9, 0.03, 0.8, 0.8, 0.1),
    "T exact; G over-dispersed 1.3": (1.0, 0.0, 1.3, 0.8, 0.0),
}


def _loo_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delete-one means and (population) stds, (n, P), in closed form."""
    n = len(x)
    s1, s2 = x.sum(0), (x * x).sum(0)
    mean = (s1[None] - x) / (n - 1)
    var = (s2[None] - x * x) / (n - 1) - mean * mean
    return mean, np.sqrt(np.maximum(var, 0.0))


def _log_ratios(gm, gs, tm, ts, rm, rs) -> np.ndarray:
    """log(MMSE_G / MMSE_T), log(SMSE_G / SMSE_T) from per-pixel moments (leading axes broadcast)."""
    mmse = np.log(np.mean((gm - rm) ** 2, -1)) - np.log(np.mean((tm - rm) ** 2, -1))
    smse = np.log(np.mean((gs - rs) ** 2, -1)) - np.log(np.mean((ts - rs) ** 2, -1))
    return np.stack([mmse, smse], -1)


def jackknife_interval(g: np.ndarray, t: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(2 statistics, 3: estimate, lo, hi) of the MMSE and SMSE ratios: a normal interval on the log ratio
    with the two-sample delete-one jackknife variance (pairs (G_i, T_i) deleted together; then R's fields)."""
    n, m = len(g), len(r)
    mom = [(x.mean(0), x.std(0)) for x in (g, t, r)]
    est = _log_ratios(*mom[0], *mom[1], *mom[2])
    (gl, gsl), (tl, tsl), (rl, rsl) = (_loo_moments(x) for x in (g, t, r))
    a = _log_ratios(gl, gsl, tl, tsl, mom[2][0][None], mom[2][1][None])
    b = _log_ratios(mom[0][0][None], mom[0][1][None], mom[1][0][None], mom[1][1][None], rl, rsl)
    var = (n - 1) / n * ((a - a.mean(0)) ** 2).sum(0) + (m - 1) / m * ((b - b.mean(0)) ** 2).sum(0)
    se = np.sqrt(var)
    return np.exp(np.stack([est, est - Z95 * se, est + Z95 * se], -1))


def simulate(u: np.ndarray, scenario: tuple, n: int, m: int, reps: int, resamples: int, seed: int) -> dict:
    c_t, b_t, c_g, rho, b_g = scenario
    mean = u.mean(0)
    x = u - mean
    _, _, vt = np.linalg.svd(x[:2000], full_matrices=False)
    d = vt[0] / np.sqrt(np.mean(vt[0] ** 2)) * np.sqrt(np.mean(x ** 2))
    rng = np.random.default_rng(seed)
    stats, intervals = [], {"jackknife": [], "basic": [], "percentile": []}
    for rep in range(reps):
        idx = rng.permutation(len(u))[:2 * n + m]
        xi, xo, ref = x[idx[:n]], x[idx[n:2 * n]], u[idx[2 * n:]]
        t = mean + c_t * xi + b_t * d
        g = mean + c_g * (rho * xi + np.sqrt(1 - rho ** 2) * xo) + b_g * d
        e_g, e_t = ensemble_errors(g, ref), ensemble_errors(t, ref)
        stats.append([[e_g["mmse"], e_g["smse"]], [e_t["mmse"], e_t["smse"]]])
        intervals["jackknife"].append(jackknife_interval(g, t, ref)[:, 1:])
        for kind in ("basic", "percentile"):
            intervals[kind].append([ensemble_ratio(g, t, ref, lambda a, b, k=k: ensemble_errors(a, b)[k],
                                                   resamples=resamples, seed=rep, interval=kind)[1:]
                                    for k in ("mmse", "smse")])
    stats = np.asarray(stats)
    truth = stats[:, 0].mean(0) / stats[:, 1].mean(0)
    out = {"true_mmse_ratio": float(truth[0]), "true_smse_ratio": float(truth[1])}
    for kind, iv in intervals.items():
        iv = np.asarray(iv)  # (reps, 2 statistics, lo/hi)
        for s, name in enumerate(("mmse", "smse")):
            lo, hi = iv[:, s, 0], iv[:, s, 1]
            out[f"{name}_{kind}_coverage"] = float(np.mean((lo <= truth[s]) & (truth[s] <= hi)))
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
    args = p.parse_args()
    ds = load(args.data or f"data/{args.pde}-32", "train")
    u = np.asarray(ds.u, np.float64).reshape(len(ds.u), -1)
    if len(u) < 2 * args.n + args.m:
        raise SystemExit(f"{ds.path}: {len(u)} fields, {2 * args.n + args.m} needed per replicate")
    rows = []
    for name, scenario in SCENARIOS.items():
        row = {"scenario": name, **simulate(u, scenario, args.n, args.m, args.reps, args.resamples, args.seed)}
        rows.append(row)
        print(row, flush=True)
    cols = ["scenario", "true_mmse_ratio"] + [f"mmse_{k}_{q}" for k in ("jackknife", "basic", "percentile")
                                              for q in ("coverage", "width")]
    cols += ["true_smse_ratio"] + [f"smse_{k}_{q}" for k in ("jackknife", "basic", "percentile")
                                   for q in ("coverage", "width")]
    print(write_table(RESULTS, f"ensemble_ratio_intervals_{ds.problem.name}",
                      f"Coverage of 95 % intervals for MMSE / SMSE ratios, simulated on real {ds.problem.name} "
                      f"fields (n = {args.n} per generator, m = {args.m} reference, {args.reps} replicates; width: "
                      "median hi / lo, inf where lo <= 0)", cols, rows, vars(args)))


if __name__ == "__main__":
    main()
