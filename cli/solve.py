"""``piddm solve``: forward, inverse and sparse reconstruction from partial observations.

Parses the options into :class:`piddm.compare.solve.SolveOptions` and runs
:func:`piddm.compare.solve.run` (output layout: see that module). Methods come from the solve
registry (:data:`piddm.solve.METHODS`); per-method flags fill that method's settings.
"""

from __future__ import annotations

from pathlib import Path

import typer


def solve(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    observe: list[str] = typer.Option([], "--observe", help="CHANNEL:AMOUNT, e.g. a:3% (fraction), u:500 "
                                      "(points), a:all; repeat for several channels"),
    test: str = typer.Option("0:100", "--test", help="samples START:STOP of the data split (with --observe)"),
    split: str = typer.Option("test", "--split", help="test | val (tune on val)"),
    input_file: Path | None = typer.Option(None, "--input", help="observation file (mask_a, obs_a, mask_u, obs_u, "
                                           "each (n, N, N); optional a_true, u_true) instead of --test/--observe"),
    student: Path | None = typer.Option(None, "--student", help="student.pt or distill run folder [shipped]"),
    teacher: Path | None = typer.Option(None, "--teacher", help="teacher.pt or run folder, for dpde, dps, eci and "
                                        "dflow [shipped]"),
    data: Path | None = typer.Option(None, "--data", help="data-set folder [data/<pde>-<res>, else made]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="output folder [runs/<pde>-solve-<task>]"),
    obs_noise: float = typer.Option(0.0, "--obs-noise", help="observation noise std in physical units "
                                    "(0: noise-free, imposed exactly)"),
    mask_seed: int = typer.Option(0, "--mask-seed", help="masks of sample i drawn from (mask seed, channel, i)"),
    method: list[str] = typer.Option(["piddm"], "--method", help="piddm, piddm-fast, piddm-solver, dpde, dps, eci, dflow, physics, kriging, "
                                     "kriging-solver, nearest, nearest-solver, nearest-k, nearest-k-solver, "
                                     "operator, bayes (docs/solve.md); repeat for a comparison"),
    setting: list[str] = typer.Option([], "--set", help="METHOD.FIELD=VALUE: any method's setting, e.g. "
                                      "kriging.rank=256 or bayes.steps=4000 (repeatable)"),
    starts: int | None = typer.Option(None, "--starts", help="PIDDM: K random starts per sample"),
    iters: int | None = typer.Option(None, "--iters", help="PIDDM: optimiser steps"),
    lam: float | None = typer.Option(None, "--lam", help="PIDDM: lambda_infer, weight of the PDE residual"),
    lr: float | None = typer.Option(None, "--lr", help="PIDDM: Adam step size on the noise"),
    optimizer: str | None = typer.Option(None, "--optimizer", help="PIDDM: adam | lbfgs"),
    polish: int | None = typer.Option(None, "--polish", help="PIDDM: L-BFGS iterations on each sample's member "
                                      "fields after the noise search (0: none)"),
    batch: int | None = typer.Option(None, "--batch", help="PIDDM: samples per network batch (never changes "
                                     "an answer)"),
    seed: int | None = typer.Option(None, "--seed", help="PIDDM: seed of the starts' noise stream"),
    physics_iters: int | None = typer.Option(None, "--physics-iters", help="baseline: optimiser steps"),
    physics_lam: float | None = typer.Option(None, "--physics-lam", help="baseline: weight of the residual"),
    physics_mu: float | None = typer.Option(None, "--physics-mu", help="baseline: weight of the smoothness term"),
    regulariser: str | None = typer.Option(None, "--regulariser", help="baseline: tikhonov | tv"),
    physics_lr: float | None = typer.Option(None, "--physics-lr", help="baseline: Adam step size"),
    physics_optimizer: str | None = typer.Option(None, "--physics-optimizer", help="baseline: lbfgs | adam"),
    physics_precondition: bool | None = typer.Option(None, "--physics-precondition/--no-physics-precondition",
                                                     help="baseline: smoothing preconditioner on the fields"),
    physics_budget: float | None = typer.Option(None, "--physics-budget", help="baseline: seconds per sample "
                                                "[the first method's measured time, else none]"),
    max_panels: int = typer.Option(100, "--max-panels", help="PNG panels per method (first samples)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    resume: bool = typer.Option(False, "--resume", help="reuse the methods an unfinished run of the same command "
                                "finished (same settings, samples, masks, models and device); solve the rest"),
    jobs: int = typer.Option(1, "--jobs", help="methods solved at once, each in its own process with its share of "
                             "the torch threads; the same answers up to round-off, timings measured side by side"),
):
    """Solve forward / inverse / reconstruction problems from partial observations, with uncertainty."""
    from piddm.compare.solve import SolveOptions, parse_settings, run

    from .progress import bars

    settings = {"piddm": {"starts": starts, "iters": iters, "lam": lam, "lr": lr, "optimizer": optimizer,
                          "polish": polish, "batch": batch, "seed": seed},
                "physics": {"iters": physics_iters, "lam": physics_lam, "mu": physics_mu, "regulariser": regulariser,
                            "lr": physics_lr, "optimizer": physics_optimizer, "precondition": physics_precondition,
                            "budget_s": physics_budget}}
    opts = SolveOptions(pde=pde, observe=list(observe), test=test, split=split,
                        input_file=None if input_file is None else str(input_file),
                        student=None if student is None else str(student),
                        teacher=None if teacher is None else str(teacher), data=None if data is None else str(data),
                        out=None if out is None else str(out), obs_noise=obs_noise, mask_seed=mask_seed,
                        methods=list(method),
                        settings=parse_settings(setting, {k: {f: v for f, v in d.items() if v is not None}
                                                          for k, d in settings.items()}, list(method)),
                        max_panels=max_panels, device=device, overwrite=overwrite, resume=resume,
                        jobs=jobs)
    with bars() as b:
        comparison, folder = run(opts, progress=b.task)
    typer.echo(comparison.markdown())
    for row in comparison.rows:
        typer.echo(f"{row.method:9s} {folder / (row.method + '.nc')}")
    typer.echo(f"report    {folder / 'report.md'}")
