"""Is ECI's divergence on Poisson the method's or the teacher's? ECI with the exact Gaussian denoiser.

    python benchmarks/eci_exact_prior.py --pde poisson --task inverse --n 8

Poisson and Helmholtz data are jointly Gaussian, so the minimum-MSE denoiser is known in closed form
(:class:`teacher_sigma_gap.ExactDenoiser`). Run the registry's ECI-sampling (:mod:`piddm.solve.eci`: the same starting and
fresh noise streams as the tuning runs) with that denoiser standing in for the teacher and with the
shipped teacher: if ECI's error grows
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
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from solve_tuning import TASKS, mean_scores
from teacher_sigma_gap import ExactDenoiser, gaussian_model

from pde_bench.conventions import provenance
from piddm.report.tables import markdown_table

RESULTS = Path(__file__).parent / "results"
GRID = ((50, 1, 5), (200, 1, 5), (200, 1, 0), (800, 1, 5))  # (N, M, R): four of the tuning grid's six


def exact_teacher(teacher):
    """The teacher's stand-in whose denoiser is the exact Gaussian one (same units, resolution and normaliser)."""
    norm, res = teacher.normaliser, teacher.resolution
    exact = ExactDenoiser(*gaussian_model(teacher.problem, norm, res), (2, res, res))
    return SimpleNamespace(denoiser=exact, normaliser=norm, resolution=res, path="exact Gaussian denoiser")


def run(pde: str, task: str, n: int) -> dict:
    from piddm.models import load_model, load_student, reference_model
    from piddm.physics import PhysicsLoss
    from piddm.solve import METHODS, SolveContext
    from piddm.solve.observation import Observation, parse_observe
    from piddm.solve.train_split import split_fields

    teacher = load_model(reference_model(pde, "teacher"), "teacher", problem=pde)
    _, model = load_student(reference_model(pde, "student"), problem=pde)  # the physics term's scale
    physics = PhysicsLoss.for_model(model)
    truth = split_fields(Path("data") / f"{pde}-{teacher.resolution}", "val", model, np.arange(n))
    obs = Observation.from_specs([parse_observe(s) for s in TASKS[task]], truth["a"], truth["u"], seed=1)
    bayes = METHODS["bayes"].solve(SolveContext(physics, model=model), obs,
                                   METHODS["bayes"].make_settings(pde, task, {}), np.arange(n))
    rows = [{"denoiser": "exact posterior mean", "N": "-", "M": "-", "R": "-", **_scores(physics, bayes, obs, truth)}]
    for name, prior in (("exact Gaussian", exact_teacher(teacher)), ("teacher", teacher)):
        ctx = SolveContext(physics, model=model, teacher=prior)
        for steps, mix, resample in GRID:
            settings = METHODS["eci"].make_settings(pde, task, {"steps": steps, "mix": mix, "resample": resample})
            res = METHODS["eci"].solve(ctx, obs, settings, np.arange(n))
            rows.append({"denoiser": name, "N": steps, "M": mix, "R": resample,
                         **_scores(physics, res, obs, truth)})
            print(rows[-1], file=sys.stderr)
    return {"pde": pde, "task": task, "n": n, "rows": rows}


def _scores(physics, res, obs, truth) -> dict:
    m = mean_scores(physics, res, obs, truth)
    return {"err_a": m["err_a"], "err_u": m["err_u"], "amp_a": m["amplitude_a"], "amp_u": m["amplitude_u"]}


def markdown(r: dict, prov: dict) -> str:
    fmt = {"err_a": "{:.1%}", "err_u": "{:.1%}", "amp_a": "{:.2f}", "amp_u": "{:.2f}"}
    body = [{c: fmt[c].format(v) if c in fmt else str(v) for c, v in row.items()} for row in r["rows"]]
    return "\n".join([f"# ECI-sampling with the exact Gaussian denoiser — {r['pde']} {r['task']}", "",
                      f"Validation samples 0:{r['n']}, mask seed 1, one draw per sample from the solve stream "
                      "(the tuning's noise); err: mean relative L2 error; amp: the reports' amplitude (RMS "
                      "fluctuation about the training mean over the training std).", "",
                      *markdown_table(["denoiser", "N", "M", "R", "err_a", "err_u", "amp_a", "amp_u"], body), "",
                      f"Command: `python benchmarks/eci_exact_prior.py --pde {r['pde']} --task {r['task']} "
                      f"--n {r['n']}` (commit {prov['git_commit']})", ""])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pde", default="poisson", choices=["poisson", "helmholtz"])
    p.add_argument("--task", default="inverse", choices=list(TASKS))
    p.add_argument("--n", type=int, default=8)
    args = p.parse_args(argv)
    r = run(args.pde, args.task, args.n)
    prov = provenance({})
    stem = RESULTS / f"eci_exact_prior_{args.pde}_{args.task}"
    stem.with_suffix(".json").write_text(json.dumps({**r, "provenance": prov}, indent=1))
    stem.with_suffix(".md").write_text(markdown(r, prov))
    print(markdown(r, prov))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
