"""Cost of the Navier-Stokes residual inside a training loss: forward + backward per batch.

    python benchmarks/ns_residual_cost.py --batch 32 --resolutions 32 64

The residual u - Phi_T(a) runs the solver's own T/dt steps (two advection evaluations each);
this measures it in float32 on the CPU, with the gradient taken w.r.t. both a and u, and
compares with the per-interval trajectory residual. Writes benchmarks/results/ns_residual_cost.*.
"""

from __future__ import annotations

from pathlib import Path
import argparse
import time

import torch
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

import pde_bench


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prob = pde_bench.get_problem("navier-stokes")
    rows = []
    for n in args.resolutions:
        w = torch.as_tensor(prob.generate_trajectory(args.batch, n, seed=0), dtype=torch.float32)
        a, u = w[..., 0].clone(), w[..., -1].clone()

        def end_state():
            a_, u_ = a.clone().requires_grad_(), u.clone().requires_grad_()
            prob.residual(a_, u_, check=False).pow(2).mean().backward()

        def per_interval():
            w_ = w.clone().requires_grad_()
            prob.trajectory_residual(w_, check=False).pow(2).mean().backward()

        def forward_only():
            with torch.no_grad():
                prob.residual(a, u, check=False)

        for label, fn in (("u - Phi_T(a), forward", forward_only), ("u - Phi_T(a), fwd+bwd", end_state),
                          ("per stored interval, fwd+bwd", per_interval)):
            sec = _time(fn, args.repeats)
            rows.append({"resolution": n, "batch": args.batch, "residual": label,
                         "steps": round(prob.params["t_final"] / prob.params["dt"]),
                         "ms_per_batch": 1e3 * sec, "ms_per_sample": 1e3 * sec / args.batch})
            print(f"{n}^2 {label:30s} {1e3 * sec:8.1f} ms/batch", flush=True)
    print(write_table(RESULTS, "ns_residual_cost", f"Navier-Stokes residual cost (float32, CPU, dt = {prob.params['dt']})",
                      ["resolution", "batch", "residual", "steps", "ms_per_batch", "ms_per_sample"], rows,
                      vars(args)))


if __name__ == "__main__":
    main()
