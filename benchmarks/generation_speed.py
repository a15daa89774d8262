"""Data-generation throughput of every pde_bench problem (samples per second).

    python benchmarks/generation_speed.py --resolution 64 --n 200

Targets (issue 2, at 64^2 on the 2-core CPU machine): Darcy >= 50/s, Poisson and Helmholtz
>= 200/s, Navier-Stokes >= 2/s. Writes benchmarks/results/generation_speed.{md,json}.
"""

from __future__ import annotations

from pathlib import Path
import argparse
import time

import torch
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

import pde_bench

TARGETS = {"darcy": 50, "poisson": 200, "helmholtz": 200, "navier-stokes": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--n", type=int, default=200, help="samples per problem")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in pde_bench.problem_names():
        prob = pde_bench.get_problem(name)
        prob.generate(n=2, resolution=args.resolution, seed=99)  # warm-up (factorisation caches)
        start = time.perf_counter()
        prob.generate(n=args.n, resolution=args.resolution, seed=0)
        seconds = time.perf_counter() - start
        rate = args.n / seconds
        rows.append({"problem": name, "resolution": args.resolution, "samples": args.n,
                     "seconds": seconds, "samples_per_s": rate, "target_per_s": TARGETS[name],
                     "meets_target": rate >= TARGETS[name]})
        print(f"{name:14s} {rate:9.1f} samples/s (target {TARGETS[name]})", flush=True)
    print(write_table(RESULTS, "generation_speed", f"Generation throughput at {args.resolution}^2",
                      ["problem", "resolution", "samples", "seconds", "samples_per_s", "target_per_s",
                       "meets_target"], rows, vars(args)))


if __name__ == "__main__":
    main()
