"""Kriging at 32² and 64²: full sample covariance against probabilistic PCA of rank r.

Kriging (``piddm.solve.kriging``) conditions the joint field x = (a, u), each channel
standardised with the training split's mean and std and flattened to D = 2 N² numbers, on its
observed pixels under the Gaussian N(mean, C) of the training samples. C is the full sample
covariance (D × D: 34 MB at 32², 0.5 GB at 64²) or probabilistic PCA of rank r,
C = W W^T + s² I (D × r). On Poisson (linear, Gaussian input) the exact posterior mean is known
(``piddm.evaluate.oracle.gaussian_posterior``), and kriging estimates it from data; this
measures how close each variant gets and what it costs.

Ranks above N² are skipped at resolution N: u is a linear function of a, so the joint covariance
has rank N² (up to the jitter) and PPCA of higher rank is the full covariance.

Per resolution, variant (full, rank r) and task (forward: 3 % of a observed, u wanted; inverse:
3 % of u observed, a wanted; random masks, seeded numpy, one per test sample) on the first
``--test`` samples of the test data set (seed 1), fitted on ``--n-train`` training samples
(seed 0):
- err %: mean relative L2 error of the wanted field of the posterior mean (physical units);
- oracle err %: the same for the exact posterior mean; ratio = err / oracle err;
- dist to oracle %: mean relative L2 distance of the variant's posterior mean from the oracle's;
- fit s: ``fit_gaussian`` seconds; draw setup s: the one-off Cholesky factor of the full C for
  prior draws (made on the first ``condition`` call; 0 for PCA); cond s/sample: ``condition``
  with 8 posterior draws, per sample, after the setup;
- fit MB: bytes of the arrays the fit holds (mean and C, or mean and W); with factor MB: after
  the first draw, the full fit also holds the Cholesky factor; fit peak MB: the largest rise of
  the process's resident memory during ``fit_gaussian`` (sampled every 20 ms).

Single thread (OMP_NUM_THREADS=1):

    OMP_NUM_THREADS=1 python benchmarks/kriging_rank.py
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch

from pde_bench import get_problem
from piddm.evaluate.metrics import relative_l2
from piddm.evaluate.oracle import gaussian_posterior
from piddm.report.tables import write_table
from piddm.solve.kriging import condition, fit_gaussian

RESULTS = Path(__file__).parent / "results"
TASKS = {"forward": (0, 1), "inverse": (1, 0)}  # task: (observed channel, wanted channel)
MASK_SEED = 7
MEMBERS = 8


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """The largest rise of resident memory over the block, sampled every 20 ms."""

    def __enter__(self):
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.rise = self.peak - self.base


def masks(n: int, res: int, fraction: float) -> dict[str, np.ndarray]:
    """Per task, masks (n, 2, N, N): round(fraction N²) random pixels of the observed channel."""
    k = max(1, round(fraction * res * res))
    out = {}
    for t, (task, (obs_ch, _)) in enumerate(TASKS.items()):
        m = np.zeros((n, 2, res * res), bool)
        for i in range(n):
            rng = np.random.default_rng([MASK_SEED, res, t, i])
            m[i, obs_ch, rng.choice(res * res, size=k, replace=False)] = True
        out[task] = m.reshape(n, 2, res, res)
    return out


def fit_bytes(fit) -> int:
    return fit.mean.nbytes + (fit.cov.nbytes if fit.cov is not None else fit.W.nbytes)


def run_resolution(problem, res: int, n_train: int, n_test: int, ranks: list[int | None], fraction: float,
                   jitter: float) -> list[dict]:
    t0 = time.perf_counter()
    a, u = problem.generate(n=n_train, resolution=res, seed=0)
    gen_s = time.perf_counter() - t0
    x = np.stack([a, u], 1)
    del a, u
    mean_c, std_c = x.mean((0, 2, 3))[:, None, None], x.std((0, 2, 3))[:, None, None]
    z = ((x - mean_c) / std_c).reshape(n_train, -1)
    del x
    a_te, u_te = problem.generate(n=n_test, resolution=res, seed=1)
    truth = np.stack([a_te, u_te], 1)
    task_masks = masks(n_test, res, fraction)
    print(f"{res}²: generated {n_train} training samples in {gen_s:.1f} s", flush=True)

    oracle = {}
    for task, m in task_masks.items():
        t0 = time.perf_counter()
        post = gaussian_posterior(problem, m, truth)
        wanted = "au"[TASKS[task][1]]
        oracle[task] = post[wanted]
        print(f"{res}² {task}: oracle err {100 * relative_l2(post[wanted], truth[:, TASKS[task][1]]).mean():.2f} % "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)

    rows = []
    for rank in ranks:
        if rank is not None and rank > res * res:
            continue  # the joint covariance has rank N² (u is linear in a): PPCA of higher rank is the full one
        name = "full" if rank is None else f"rank {rank}"
        with PeakRSS() as mem:
            fit = fit_gaussian(z, rank=rank, jitter=jitter, seed=0)
        t0 = time.perf_counter()
        fit.draw(np.random.default_rng(0), 1)  # the full fit's Cholesky factor, made once
        setup_s = time.perf_counter() - t0
        held = fit_bytes(fit)
        with_factor = held + (fit._chol.nbytes if fit._chol is not None else 0)
        print(f"{res}² {name}: fit {fit.seconds:.1f} s, {held / 2**20:.0f} MB held, peak rise "
              f"{mem.rise / 2**20:.0f} MB, draw setup {setup_s:.1f} s", flush=True)
        for task, m in task_masks.items():
            obs_ch, want_ch = TASKS[task]
            zt = ((truth - mean_c) / std_c).reshape(n_test, -1)
            flat = m.reshape(n_test, -1)
            means, secs = [], 0.0
            for i in range(n_test):
                o = np.flatnonzero(flat[i])
                rng = np.random.default_rng([0, i])
                t0 = time.perf_counter()
                mu, _, _ = condition(fit, o, zt[i, o], np.zeros(len(o)), MEMBERS, rng)
                secs += time.perf_counter() - t0
                means.append(mu.reshape(2, res, res) * std_c + mean_c)
            pred = np.stack(means)[:, want_ch]
            err = relative_l2(pred, truth[:, want_ch])
            oerr = relative_l2(oracle[task], truth[:, want_ch])
            dist = relative_l2(pred, oracle[task])
            rows.append({"resolution": f"{res}²", "D": 2 * res * res, "train n": n_train, "variant": name,
                         "task": task, "observed": f"{'au'[obs_ch]}: {int(flat[0].sum())} px",
                         "err %": 100 * float(err.mean()), "oracle err %": 100 * float(oerr.mean()),
                         "ratio": float(err.mean() / oerr.mean()), "dist to oracle %": 100 * float(dist.mean()),
                         "fit s": fit.seconds, "draw setup s": setup_s, "cond s/sample": secs / n_test,
                         "fit MB": held / 2**20, "with factor MB": with_factor / 2**20,
                         "fit peak MB": mem.rise / 2**20})
            r = rows[-1]
            print(f"  {task}: err {r['err %']:.2f} % (oracle {r['oracle err %']:.2f} %, ratio {r['ratio']:.3f}), "
                  f"dist {r['dist to oracle %']:.2f} %, {r['cond s/sample']:.3f} s/sample", flush=True)
        del fit
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    p.add_argument("--n-train", type=int, default=10000)
    p.add_argument("--test", type=int, default=50)
    p.add_argument("--ranks", type=str, nargs="+", default=["full", "64", "256", "1024", "2048", "4096"],
                   help="'full' or a rank r (ranks above N² are skipped at resolution N)")
    p.add_argument("--fraction", type=float, default=0.03, help="observed fraction of the observed channel")
    p.add_argument("--jitter", type=float, default=1e-6)
    p.add_argument("--name", default="kriging_rank")
    args = p.parse_args()
    ranks = [None if r == "full" else int(r) for r in args.ranks]
    problem = get_problem("poisson")
    rows = []
    for res in args.resolutions:
        rows += run_resolution(problem, res, args.n_train, args.test, ranks, args.fraction, args.jitter)
    cols = ["resolution", "D", "train n", "variant", "task", "observed", "err %", "oracle err %", "ratio",
            "dist to oracle %", "fit s", "draw setup s", "cond s/sample", "fit MB", "with factor MB", "fit peak MB"]
    title = (f"Kriging on Poisson: full covariance vs probabilistic PCA, against the exact posterior mean "
             f"({args.test} test samples, {100 * args.fraction:g} % observed)")
    options = {**vars(args), "members": MEMBERS, "mask_seed": MASK_SEED, "torch_threads": torch.get_num_threads(),
               "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    print(write_table(RESULTS, args.name, title, cols, rows, options))


if __name__ == "__main__":
    main()
