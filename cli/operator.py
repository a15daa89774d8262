"""``piddm train-operator``: the supervised neural-operator baseline of ``piddm solve --method operator``."""

from __future__ import annotations

from pathlib import Path

import typer


def train_operator(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    task: str = typer.Option(..., "--task", help="forward (a observed) | inverse (u observed) | reconstruction (both)"),
    data: Path | None = typer.Option(None, "--data", help="data-set folder [data/<pde>-32]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="run folder [runs/<pde>-operator-<task>]"),
    minutes: float | None = typer.Option(None, "--minutes", help="wall-time budget [45: a reference teacher's]"),
    steps: int | None = typer.Option(None, "--steps", help="optimiser steps; stops at steps or minutes [100000]"),
    fractions: str | None = typer.Option(None, "--fractions", help="observed percentages of the task's observed "
                                         "channel(s); each sample draws one, so one model serves the sweep "
                                         "[1,3,10,30]"),
    batch: int | None = typer.Option(None, "--batch", help="global batch, split over torchrun processes [32]"),
    lr: float | None = typer.Option(None, "--lr", help="peak learning rate of AdamW [0.001]"),
    seed: int = typer.Option(0, "--seed", help="seed of the weights, data order and training masks"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its checkpoint, with "
                                "its stored options (only --steps/--minutes may change)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing run folder"),
):
    """Train a supervised FNO from partial observations of (a, u) to both fields, for one task."""
    from pde_bench import get_problem
    from piddm.operator_training import OperatorOptions, parse_fractions, run_operator, training_config

    from .progress import training_bar

    name = get_problem(pde).name
    opts = OperatorOptions(pde=name, task=task, data=str(data or Path("data") / f"{name}-32"),
                           out=str(out or Path("runs") / f"{name}-operator-{task}"),
                           fractions=parse_fractions(fractions), device=device,
                           train=training_config(steps=steps, minutes=minutes, batch=batch, lr=lr, seed=seed))
    result = run_operator(opts, resume=resume, overwrite=overwrite, training_bar=training_bar)
    if result is None:  # a torchrun worker: the main rank reports
        return
    typer.echo(f"operator  {Path(opts.out) / 'operator.pt'}  (step {result.step}, {result.elapsed / 60:.1f} min, "
               f"stopped by {result.stopped_by})")
    if result.history:
        last = result.history[-1]
        typer.echo(f"val mse   {last['val_mse']:.4g} (standardised fields, at step {last['step']})")
