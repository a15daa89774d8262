"""Choose the settings of the fitted baselines (kriging's jitter, the k of the mean of k nearest) on *validation*.

For every problem and task at 3 % observed (forward: a, inverse: u, reconstruction: both), each
candidate is scored on validation samples 0:N with mask seed 1 (the test reports use seed 0) by
the error of the wanted field(s), the same score as ``benchmarks/solve_tuning.py``; the winner
per (problem, task) goes into ``piddm.defaults``. Each baseline gets a handful of candidates,
fewer than PIDDM had (six per task).

    python benchmarks/baseline_tuning.py --n 100
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from solve_tuning import TASKS, mean_scores, score

from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"
PROBLEMS = ("darcy", "poisson", "helmholtz", "navier-stokes")
GRID = {"kriging": [{"jitter": j} for j in (1e-8, 1e-6, 1e-4, 1e-2)],
        "nearest-k": [{"k": k} for k in (2, 4, 8, 16, 32, 64)]}


def main() -> None:
    from piddm.models import load_model, reference_model
    from piddm.physics import PhysicsLoss
    from piddm.solve import METHODS, SolveContext
    from piddm.solve.observation import Observation, parse_observe
    from piddm.solve.train_split import TrainSplit, split_fields

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100, help="validation samples")
    p.add_argument("--pdes", nargs="+", default=list(PROBLEMS))
    p.add_argument("--name", default="baseline_tuning")
    args = p.parse_args()
    rows, winners = [], {}
    for pde in args.pdes:
        model = load_model(reference_model(pde, "student"), "student")
        data = Path("data") / f"{model.problem.name}-{model.resolution}"
        truth = split_fields(data, "val", model, np.arange(args.n))
        physics = PhysicsLoss.for_model(model)
        ctx = SolveContext(physics, model=model, train=TrainSplit(data, model))
        for task, specs in TASKS.items():
            obs = Observation.from_specs([parse_observe(s) for s in specs], truth["a"], truth["u"], seed=1)
            for method, grid in GRID.items():
                best = None
                for cand in grid:
                    m = METHODS[method]
                    res = m.solve(ctx, obs, m.make_settings(pde, task, cand), np.arange(args.n))
                    means = mean_scores(physics, res, obs, truth)
                    row = {"problem": pde, "task": task, "method": method, "jitter": cand.get("jitter", ""),
                           "k": cand.get("k", ""), "samples": args.n,
                           "score": score(task, means), "err_a": means.get("err_a"), "err_u": means.get("err_u"),
                           "crps_u": means.get("crps_u"), "s_per_sample": res.seconds_per_sample}
                    rows.append(row)
                    if best is None or row["score"] < best[0]:
                        best = (row["score"], cand)
                    print(f"{pde:14s} {task:15s} {method:10s} {cand} score {row['score']:.4f}", file=sys.stderr)
                winners.setdefault(method, {})[(pde, task)] = best[1]
                for r in rows:
                    if (r["problem"], r["task"], r["method"]) == (pde, task, method):
                        r["chosen"] = "yes" if all(r[k] == v for k, v in best[1].items()) else ""
    cols = ["problem", "task", "method", "jitter", "k", "samples", "score", "err_a", "err_u", "crps_u",
            "s_per_sample", "chosen"]
    print(write_table(RESULTS, args.name, "Fitted baselines tuned on validation (3 % observed, mask seed 1)", cols,
                      rows, {"n": args.n, "pdes": args.pdes, "grid": {k: v for k, v in GRID.items()}}))
    for method, table in winners.items():
        print(f"{method}: {table}")


if __name__ == "__main__":
    main()
