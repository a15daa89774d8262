"""Why ECI-sampling inflates its samples on an EDM teacher: the kept-noise interpolation, measured.

    python benchmarks/eci_variance.py --pdes poisson darcy helmholtz --n 16

ECI interpolates back with the *starting* prior noise ε (x = x̂ + σ_{i+1} ε; fresh every R passes).
Part 1 runs :func:`piddm.guidance.sample_eci` with the exact denoiser of white Gaussian data N(0, s²)
(D = s² / (s² + σ²) x), so any departure of the output's std from s is the algorithm's, not a network's.
Part 2 runs it on each shipped teacher with no constraint (C = identity) and reports the amplitude of u
in the column "amplitude" (Gaussian rows: output std / s) (RMS fluctuation about the training mean / the
training RMS, as every report does) beside the first n test fields' and the teacher's plain Heun-18 from
the same noise. Grids: EDM's Karras grid (what ``piddm compare`` uses) and the uniform grid in
flow-matching time t = 1 / (1 + σ) of ECI's paper. Writes benchmarks/results/eci_variance.{md,json}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from piddm.guidance import sample_eci
from piddm.report.tables import write_table
from piddm.sampling import generate, karras_sigmas

RESULTS = Path(__file__).parent / "results"
SETTINGS = [(50, 5), (200, 5), (200, None), (800, 5), (800, None), (200, 1)]


def uniform_t(steps: int, sigma_max: float = 80.0) -> torch.Tensor:
    """ECI's uniform flow-matching time grid mapped to EDM's σ = (1 - t) / t, from σ_max to 0."""
    t = torch.linspace(1.0 / (1.0 + sigma_max), 1.0, steps + 1, dtype=torch.float64)
    return (1 - t) / t


GRIDS = {"karras": karras_sigmas, "uniform-t": uniform_t}


def _fresh(shape, seed: int):
    return lambda c: torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + c))


def gaussian_rows(s: float, n: int) -> list[dict]:
    rows = []
    shape = (n, 2, 8, 8)
    eps = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = lambda x, sig: s * s / (s * s + sig.view(-1, 1, 1, 1) ** 2) * x  # noqa: E731
    for grid, make in GRIDS.items():
        for steps, every in SETTINGS:
            out = sample_eci(exact, eps, make(steps), lambda x: x, 1, every, _fresh(shape, 1000)).x
            rows.append({"prior": f"white Gaussian, s = {s}", "grid": grid, "N": steps, "M": 1,
                         "R": every or "never", "amplitude": float(out.std()) / s})
    return rows


def teacher_rows(pde: str, n: int) -> list[dict]:
    from piddm.evaluate.metrics import amplitude_ratio
    from piddm.models import load_model, reference_model
    from piddm.noise import standard_noise

    teacher = load_model(reference_model(pde, "teacher"), "teacher", problem=pde)
    norm, res = teacher.normaliser, teacher.resolution
    eps = standard_noise(n, (2, res, res), seed=0, stream="evaluation")
    eps = eps.to(torch.float64)

    def amp(x):
        _, u = norm.to_physical(x.detach().float())
        return float(amplitude_ratio(u.numpy(), norm.mean_u, norm.std_u).mean())

    from pde_bench.loading import load

    test_u = load(Path("data") / f"{pde}-{res}", "test").u[:n]
    rows = [{"prior": f"{pde} test data", "grid": "-", "N": "-", "M": "-", "R": "-",
             "amplitude": float(amplitude_ratio(test_u, norm.mean_u, norm.std_u).mean())}]
    rows += [{"prior": f"{pde} teacher", "grid": "karras", "N": 18, "M": "-", "R": "Heun (ODE)",
             "amplitude": amp(generate(teacher.denoiser, eps, steps=18).x)}]
    for grid, make in GRIDS.items():
        for steps, every in SETTINGS:
            out = sample_eci(teacher.denoiser, eps, make(steps), lambda x: x, 1, every,
                             _fresh(eps.shape, 1000)).x
            rows.append({"prior": f"{pde} teacher", "grid": grid, "N": steps, "M": 1, "R": every or "never",
                         "amplitude": amp(out)})
            print(pde, grid, steps, every, f"{rows[-1]['amplitude']:.3f}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pdes", nargs="*", default=["poisson", "darcy", "helmholtz"])
    p.add_argument("--n", type=int, default=16, help="teacher samples per setting")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    rows = gaussian_rows(0.3, 256) + gaussian_rows(1.0, 256)
    for pde in args.pdes:
        rows += teacher_rows(pde, args.n)
    print(write_table(RESULTS, "eci_variance", "ECI-sampling's output amplitude with no constraint "
                      "(exact Gaussian denoiser, then the shipped teachers)",
                      ["prior", "grid", "N", "M", "R", "amplitude"], rows, vars(args)))


if __name__ == "__main__":
    main()
