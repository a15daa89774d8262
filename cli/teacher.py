"""``piddm train-teacher`` and ``piddm sample``: the EDM teacher's commands."""

from __future__ import annotations

from pathlib import Path

import typer


def train_teacher(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    data: Path | None = typer.Option(None, "--data", help="data-set folder [data/<pde>-32]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="run folder [runs/<pde>-teacher]"),
    backbone: str = typer.Option("unet", "--backbone", help="unet | fno"),
    preset: str = typer.Option("small", "--preset", help="unet: tiny | small | medium | ddpmpp; fno: tiny | small"),
    batch: int = typer.Option(64, "--batch", help="global batch (split over torchrun processes)"),
    lr: float = typer.Option(5e-4, "--lr", help="peak learning rate (AdamW)"),
    warmup: int = typer.Option(200, "--warmup", help="steps of linear learning-rate warm-up"),
    steps: int = typer.Option(20_000, "--steps", help="optimiser steps"),
    minutes: float | None = typer.Option(None, "--minutes", help="wall-time budget; stops at steps or minutes"),
    ema_halflife: float = typer.Option(50_000, "--ema-halflife", help="EMA half-life in samples"),
    grad_clip: float = typer.Option(1.0, "--grad-clip", help="gradient-norm clip (0: off)"),
    checkpoint_every: int = typer.Option(1000, "--checkpoint-every", help="steps between checkpoints"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its checkpoint, with "
                                "its stored options (only --steps/--minutes may change)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing run folder"),
):
    """Train an EDM teacher on the joint field (a, u); the same command runs under torchrun (DDP)."""
    from pde_bench.conventions import InputError
    from piddm.distributed import setup
    from piddm.teacher import TeacherOptions, check_teacher_inputs
    from piddm.teacher import train_teacher as run
    from piddm.training import TrainConfig

    from .progress import training_bar

    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other")
    from pde_bench import get_problem

    name = get_problem(pde).name
    opts = TeacherOptions(
        pde=name, data=str(data or Path("data") / f"{name}-32"), out=str(out or Path("runs") / f"{name}-teacher"),
        backbone=backbone, preset=preset, device=device,
        train=TrainConfig(steps=steps, minutes=minutes, batch=batch, lr=lr, warmup=warmup, grad_clip=grad_clip,
                          ema_halflife=ema_halflife, seed=seed, checkpoint_every=checkpoint_every))
    if resume:  # continue with the run's own options; only the budget may change
        opts = TeacherOptions.of_run(opts.out)
        opts.train.steps, opts.train.minutes, opts.device = steps, minutes, device
    ctx = setup(opts.device)
    check_teacher_inputs(opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main)
    try:
        if ctx.is_main:
            with training_bar(f"teacher {opts.pde}", opts.train.steps) as update:
                result = run(opts, ctx, resume=resume, overwrite=overwrite, on_progress=update)
        else:
            result = run(opts, ctx, resume=resume, overwrite=overwrite)
    finally:
        ctx.close()
    if ctx.is_main:
        typer.echo(f"teacher   {Path(opts.out) / 'teacher.pt'}  (step {result.step}, {result.elapsed / 60:.1f} min, "
                   f"stopped by {result.stopped_by})")
        if result.history:
            last = result.history[-1]
            typer.echo(f"val loss  {last.get('val_loss_mean', float('nan')):.4g} (mean over sigma at step {last['step']})")


def sample(
    ckpt: Path = typer.Option(..., "--ckpt", help="teacher run folder or teacher.pt"),
    n: int = typer.Option(64, "--n", help="number of samples"),
    steps: int = typer.Option(18, "--steps", help="sampler steps N (Heun: 2N-1 network calls)"),
    sampler: str = typer.Option("heun", "--sampler", help="heun | euler"),
    resolution: int | None = typer.Option(None, "--resolution", help="grid side (FNO teachers only) [trained]"),
    seed: int = typer.Option(0, "--seed", help="noise seed (sample i uses (seed, i))"),
    batch: int = typer.Option(64, "--batch"),
    out: Path = typer.Option(Path("samples"), "-o", "--out", help="output folder"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
):
    """Draw samples from a teacher: <out>/samples.h5 (data-set format, physical units) + samples.png."""
    import time
    from dataclasses import asdict

    from pde_bench.conventions import (
        InputError,
        atomic_output,
        check_output,
        provenance,
    )
    from pde_bench.storage import write_fields
    from piddm.distributed import resolve_device
    from piddm.models import load_model
    from piddm.plots import save_field_grid
    from piddm.sampling import SAMPLERS
    from piddm.teacher import sample_teacher

    from .progress import progress_bar

    if n < 1 or steps < 1 or batch < 1:
        raise InputError(f"--n, --steps and --batch must be >= 1, got {n}, {steps}, {batch}")
    if sampler not in SAMPLERS:
        raise InputError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    check_output(out, overwrite)
    dev = resolve_device(device)
    teacher = load_model(ckpt, "teacher", resolution=resolution, device=dev)
    res = resolution or teacher.resolution
    t0 = time.perf_counter()
    with progress_bar(f"sampling {teacher.problem.name}", n) as advance:
        a_raw, u, nfe = sample_teacher(teacher, n, steps=steps, sampler=sampler, seed=seed, batch=batch,
                                       resolution=res, device=dev, on_progress=advance)
    seconds = time.perf_counter() - t0
    a = teacher.problem.finalize_inputs(a_raw)
    stats = {f"norm_{k}": v for k, v in asdict(teacher.normaliser).items() if k != "sigma_data"}
    attrs = {**teacher.problem.describe(), "resolution": res, "seed": seed, "split": "samples",
             "sampler": sampler, "steps": steps, "nfe": nfe, "teacher": str(teacher.path),
             "residual_scale": teacher.info.data.get("residual_scale", 1.0), **stats,
             "sigma_data": teacher.normaliser.sigma_data, "statistics_from": "teacher training data",
             "provenance": provenance({"ckpt": str(ckpt), "n": n, "steps": steps, "sampler": sampler, "seed": seed})}
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        write_fields(tmp / "samples.h5", a, u, teacher.problem.coordinates(res), attrs)
        save_field_grid({"a": a, "u": u}, tmp / "samples.png",
                        title=f"{teacher.problem.name} teacher, {sampler}-{steps} ({nfe} NFE)")
    typer.echo(f"samples   {out / 'samples.h5'}  ({n} at {res}x{res}, {nfe} network calls each, "
               f"{1000 * seconds / n:.1f} ms/sample at batch {min(batch, n)})")
    typer.echo(f"figure    {out / 'samples.png'}")
