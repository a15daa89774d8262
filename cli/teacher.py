"""``piddm train-teacher`` and ``piddm sample``: the EDM teacher's commands."""

from __future__ import annotations

from pathlib import Path

import typer


def train_teacher(
    pde: str | None = typer.Option(None, "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    images: str | None = typer.Option(None, "--images", help="an image set instead of a PDE: fashion-mnist | "
                                      "mnist | cifar10 | imagenet64"),
    data: Path | None = typer.Option(None, "--data", help="data-set folder [data/<pde>-32]"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="--images: folder of the image files "
                                         "[fashion-mnist: /usr/share/datasets/fashion-mnist]"),
    download: bool = typer.Option(False, "--download", help="--images: fetch the files into --data-dir first "
                                  "(torchvision; needs the internet)"),
    class_conditional: bool = typer.Option(False, "--class-conditional", help="--images: condition on the labels"),
    out: Path | None = typer.Option(None, "-o", "--out", help="run folder [runs/<pde or images>-teacher]"),
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
    p_mean: float | None = typer.Option(None, "--p-mean", help="--pde: training noise levels, ln sigma ~ "
                                        "N(P_mean, P_std^2) [per problem: piddm/defaults.py; EDM's -1.2]; "
                                        "--resume keeps the run's own"),
    p_std: float | None = typer.Option(None, "--p-std", help="--pde: the spread of ln sigma [per problem; EDM's 1.2]"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its checkpoint, with "
                                "its stored options (only --steps/--minutes may change)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing run folder"),
):
    """Train an EDM teacher on the joint field (a, u) or on images; the same command runs under torchrun (DDP)."""
    from pde_bench import get_problem
    from pde_bench.conventions import InputError
    from piddm.teacher import TeacherOptions, run_teacher
    from piddm.training import TrainConfig

    from .images import image_teacher_options, one_of
    from .progress import training_bar

    one_of(pde=pde, images=images)
    cfg = TrainConfig(steps=steps, minutes=minutes, batch=batch, lr=lr, warmup=warmup, grad_clip=grad_clip,
                      ema_halflife=ema_halflife, seed=seed, checkpoint_every=checkpoint_every)
    if images:
        if (p_mean, p_std) != (None, None):
            raise InputError("--p-mean / --p-std apply to --pde teachers; image teachers keep EDM's noise levels")
        opts, run = image_teacher_options(images, data_dir, download, class_conditional, out, preset, device, cfg)
    else:
        name = get_problem(pde).name
        opts = TeacherOptions(pde=name, data=str(data or Path("data") / f"{name}-32"),
                              out=str(out or Path("runs") / f"{name}-teacher"), backbone=backbone, preset=preset,
                              device=device, train=cfg, p_mean=p_mean, p_std=p_std)
        run = run_teacher
    result = run(opts, resume=resume, overwrite=overwrite, training_bar=training_bar)
    if result is None:  # a torchrun worker: the main rank reports
        return
    typer.echo(f"teacher   {Path(opts.out) / 'teacher.pt'}  (step {result.step}, {result.elapsed / 60:.1f} min, "
               f"stopped by {result.stopped_by})")
    if result.history:
        last = result.history[-1]
        typer.echo(f"val loss  {last.get('val_loss_mean', float('nan')):.4g} (mean over sigma at step {last['step']})")


def sample(
    ckpt: Path = typer.Option(..., "--ckpt", help="teacher run folder or teacher.pt (an image model: also a PID "
                              "student.pt or its run folder)"),
    n: int = typer.Option(64, "--n", help="number of samples"),
    steps: int = typer.Option(18, "--steps", help="sampler steps N (Heun: 2N-1 network calls)"),
    sampler: str = typer.Option("heun", "--sampler", help="heun | euler"),
    resolution: int | None = typer.Option(None, "--resolution", help="grid side (FNO teachers only) [trained]"),
    seed: int = typer.Option(0, "--seed", help="noise seed (sample i uses noise (seed, i) of the evaluation stream)"),
    batch: int = typer.Option(64, "--batch"),
    out: Path = typer.Option(Path("samples"), "-o", "--out", help="output folder"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
):
    """Draw samples from a teacher: <out>/samples.h5 (data-set format, physical units) + samples.png; from an image
    teacher or PID student: <out>/samples.npz (uint8 images, labels) + samples.png."""
    from piddm.images.samples import is_image_model, write_image_samples
    from piddm.samples import write_teacher_samples

    from .progress import bars

    with bars() as b:
        if is_image_model(ckpt):
            made = write_image_samples(ckpt, out, n=n, steps=steps, sampler=sampler, seed=seed, batch=batch,
                                       device=device, overwrite=overwrite, progress=b.task)
        else:
            made = write_teacher_samples(ckpt, out, n=n, steps=steps, sampler=sampler, resolution=resolution,
                                         seed=seed, batch=batch, device=device, overwrite=overwrite, progress=b.task)
    typer.echo(f"samples   {made['file']}  ({n} at {made['resolution']}x{made['resolution']}, {made['nfe']} network "
               f"calls each, {made['ms_per_sample']:.1f} ms/sample at batch {made['batch']})")
    typer.echo(f"figure    {made['figure']}")
