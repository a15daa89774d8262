"""Is ECI's divergence on Poisson the method's or the teacher's? ECI with the exact Gaussian denoiser.

    python benchmarks/eci_exact_prior.py --pde poisson --task inverse --n 8

Poisson and Helmholtz data are jointly Gaussian, so the minimum-MSE denoiser is known in closed form
(:class:`teacher_sigma_gap.ExactDenoiser`). Run ECI-sampling (:func:`piddm.guidance.sample_eci`) from the
same noise (a torch draw of its own, not the solve stream; each denoiser gets the same one), observations
and grid with that denoiser and with the shipped teacher: if ECI's error grows
with N under the exact denoiser too, the divergence belongs to ECI's overwrite-and-renoise loop on this
prior; if not, to the teacher off its training distribution. Validation samples 0:n, mask seed 1 (the
tuning protocol of benchmarks/guidance_tuning.py); the exact Gaussian posterior mean is the reference row.
Writes benchmarks/results/eci_exact_prior_<pde>_<task>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from solve_tuning import TASKS
from teacher_sigma_gap import ExactDenoiser, gaussian_model

from pde_bench.conventions import provenance
from piddm.report.tables import markdown_table

RESULTS = Path(__file__).parent / "results"
GRID = ((50, 1, 5), (200, 1, 5), (200, 1, 0), (800, 1, 5))  # (N, M, R): four of the tuning grid's six


def rel_err(est: np.ndarray, truth: np.ndarray) -> float:
    """Mean over samples of the relative L2 error (the reports' err, as a fraction)."""
    num = np.linalg.norm((est - truth).reshape(len(truth), -1), axis=1)
    return float(np.mean(num / np.linalg.norm(truth.reshape(len(truth), -1), axis=1)))


def amplitude(est: np.ndarray, truth: np.ndarray) -> float:
    """RMS of the estimate about the truth's mean field over the truth's (1: the data's spread)."""
    mu = truth.mean(axis=0, keepdims=True)
    return float(np.sqrt(((est - mu) ** 2).mean() / ((truth - mu) ** 2).mean()))


def eci_fields(denoiser, eps, mask, x_obs, normaliser, steps, mix, resample, res, seed):
    """One ECI draw per sample in physical units (a, u), observations overwritten as solve_eci does."""
    from piddm.guidance import sample_eci
    from piddm.sampling import karras_sigmas
    from piddm.solve.eci import overwrite, resample_noise

    fresh = resample_noise(list(range(len(eps))), res, seed)
    x = sample_eci(denoiser, eps, karras_sigmas(steps).double(), overwrite(mask, x_obs), mix, resample or None,
                   fresh).x
    a, u = normaliser.to_physical(x.detach().cpu())
    return a.numpy(), u.numpy()


def run(pde: str, task: str, n: int, seed: int) -> dict:
    from pde_bench.loading import load
    from piddm.models import load_model, reference_model
    from piddm.evaluate.oracle import gaussian_posterior
    from piddm.solve.objective import observation_tensors
    from piddm.solve.observation import Observation, parse_observe

    teacher = load_model(reference_model(pde, "teacher"), "teacher", problem=pde)
    norm, res = teacher.normaliser, teacher.resolution
    exact = ExactDenoiser(*gaussian_model(teacher.problem, norm, res), (2, res, res))
    fields = load(Path("data") / f"{pde}-{res}", "val")
    a_t, u_t = fields.a[:n].astype(np.float64), fields.u[:n].astype(np.float64)
    obs = Observation.from_specs([parse_observe(s) for s in TASKS[task]], a_t, u_t, seed=1)
    mask, x_obs, _ = observation_tensors(obs, norm, "cpu", dtype=torch.float64)
    eps = torch.randn(n, 2, res, res, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    post = gaussian_posterior(teacher.problem, obs.mask, obs.values)
    a_b, u_b = post["a"], post["u"]
    rows = [{"denoiser": "exact posterior mean", "N": "-", "M": "-", "R": "-",
             "err_a": rel_err(a_b, a_t), "err_u": rel_err(u_b, u_t),
             "amp_a": amplitude(a_b, a_t), "amp_u": amplitude(u_b, u_t)}]
    teacher_d = lambda x, s: teacher.denoiser(x.float(), s.float()).double()  # noqa: E731
    for name, den in (("exact Gaussian", exact), ("teacher", teacher_d)):
        for steps, mix, resample in GRID:
            a, u = eci_fields(den, eps, mask, x_obs, norm, steps, mix, resample, res, seed)
            rows.append({"denoiser": name, "N": steps, "M": mix, "R": resample,
                         "err_a": rel_err(a, a_t), "err_u": rel_err(u, u_t),
                         "amp_a": amplitude(a, a_t), "amp_u": amplitude(u, u_t)})
            print(rows[-1], file=sys.stderr)
    return {"pde": pde, "task": task, "n": n, "seed": seed, "rows": rows}


def markdown(r: dict, prov: dict) -> str:
    fmt = {"err_a": "{:.1%}", "err_u": "{:.1%}", "amp_a": "{:.2f}", "amp_u": "{:.2f}"}
    body = [{c: fmt[c].format(v) if c in fmt else str(v) for c, v in row.items()} for row in r["rows"]]
    return "\n".join([f"# ECI-sampling with the exact Gaussian denoiser — {r['pde']} {r['task']}", "",
                      f"Validation samples 0:{r['n']}, mask seed 1, one draw per sample (noise seed {r['seed']}); "
                      "err: mean relative L2 error; amp: RMS about the truth's mean over the truth's.", "",
                      *markdown_table(["denoiser", "N", "M", "R", "err_a", "err_u", "amp_a", "amp_u"], body), "",
                      f"Command: `python benchmarks/eci_exact_prior.py --pde {r['pde']} --task {r['task']} "
                      f"--n {r['n']}` (commit {prov['git_commit']})", ""])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pde", default="poisson", choices=["poisson", "helmholtz"])
    p.add_argument("--task", default="inverse", choices=list(TASKS))
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    r = run(args.pde, args.task, args.n, args.seed)
    prov = provenance({})
    stem = RESULTS / f"eci_exact_prior_{args.pde}_{args.task}"
    stem.with_suffix(".json").write_text(json.dumps({**r, "provenance": prov}, indent=1))
    stem.with_suffix(".md").write_text(markdown(r, prov))
    print(markdown(r, prov))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
