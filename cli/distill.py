"""``piddm distill``: teacher pairs -> lambda = 0 student and PIDDM student -> evaluation -> report.

Parses the options into :class:`piddm.compare.distill.DistillExperiment` and runs
:func:`piddm.compare.distill.run` (run-folder layout: see that module). Options left unset take
the tuned defaults of :mod:`piddm.defaults` (the smoke run's with ``--quick``).
"""

from __future__ import annotations

from pathlib import Path

import typer


def distill(
    pde: str | None = typer.Option(None, "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    images: str | None = typer.Option(None, "--images", help="image PID instead: fashion-mnist | mnist | cifar10 | "
                                      "imagenet64 (the teacher's PF-ODE is the physics)"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="--images: folder of the image files"),
    classifier: Path | None = typer.Option(None, "--classifier", help="--images: feature classifier that scores "
                                           "samples (piddm train-classifier) [the shipped one]"),
    inception: Path | None = typer.Option(None, "--inception", help="--images: torch-fidelity's Inception-v3 weights "
                                          "file (weights-inception-2015-12-05-6726825d.pth): score by FID instead"),
    points: int = typer.Option(250, "--points", help="--images: N of PID's Karras grid"),
    distance: str = typer.Option("pseudo-huber", "--distance", help="--images: lpips (the paper's) | "
                                 "pseudo-huber | l2"),
    lpips_weights: Path | None = typer.Option(None, "--lpips-weights", help="--images: LPIPS trunk or converted "
                                              "LPIPS state dict (see `piddm lpips-weights`)"),
    split: str | None = typer.Option(None, "--split", help="real split scored against: val (while choosing) | test "
                                     "(once, after choices are made; --images: written to <out>/report-test/) "
                                     "[--pde: test; --images: val]"),
    evaluate_only: bool = typer.Option(False, "--evaluate-only", help="--images: score the student already in --out "
                                       "(no training)"),
    teacher: Path | None = typer.Option(None, "--teacher", help="teacher.pt or run folder [shipped reference]"),
    data: Path | None = typer.Option(None, "--data", help="evaluation data set [data/<pde>-<res>, else "
                                     "data/<pde>-<res>-eval, made if absent]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="run folder [runs/<pde>-distill]"),
    lam: float | None = typer.Option(None, "--lam", help="weight of the PDE residual in the student's loss "
                                                   "[0.1; poisson 0.3, helmholtz 1: chosen on validation]"),
    lam_warmup: int | None = typer.Option(None, "--lam-warmup", help="steps over which lam ramps up linearly"),
    inputs: str | None = typer.Option(None, "--inputs", help="what the residual in the loss sees of a: soft "
                                      "(continuous) | hard (thresholded, straight-through gradient) | fixed "
                                      "(thresholded, no gradient to a) | anneal (a sigmoid threshold sharpened over the "
                                      "steps)"),
    boundary_weight: float | None = typer.Option(None, "--boundary-weight", help="weight of the boundary term in R"),
    pairs: int | None = typer.Option(None, "--pairs", help="teacher pairs (eps, x0)"),
    pair_steps: int | None = typer.Option(None, "--pair-steps", help="Heun steps N_s of each teacher solve"),
    refresh_every: int = typer.Option(0, "--refresh-every", help="steps between pair refreshes (0: never)"),
    refresh_fraction: float = typer.Option(0.1, "--refresh-fraction", help="fraction of pairs refreshed"),
    steps: int | None = typer.Option(None, "--steps", help="optimiser steps per student"),
    minutes: float | None = typer.Option(None, "--minutes", help="wall-time budget per student"),
    batch: int | None = typer.Option(None, "--batch", help="global batch (split over torchrun processes)"),
    lr: float | None = typer.Option(None, "--lr", help="peak learning rate (AdamW; --images: RAdam, constant "
                                    "[2e-4])"),
    ablation: bool = typer.Option(True, "--ablation/--no-ablation", help="also train the lambda = 0 student"),
    refine_steps: int | None = typer.Option(None, "--refine-steps", help="PIDDM-ref: gradient steps on eps (0: no row)"),
    refine_lr: float | None = typer.Option(None, "--refine-lr", help="PIDDM-ref: Adam step size on eps"),
    samples: int | None = typer.Option(None, "--eval-samples", help="samples per method in the evaluation"),
    eval_batch: int | None = typer.Option(None, "--eval-batch", help="batch of the timed evaluation"),
    quick: bool = typer.Option(False, "--quick", help="smoke run (about 1.5 minutes on 2 CPU cores): smaller everything"),
    seed: int = typer.Option(0, "--seed", help="seed of the pairs' noise and of training"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    resume: bool = typer.Option(False, "--resume", help="continue the students in --out from their checkpoints "
                                "(only --steps/--minutes may change), then evaluate again"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing run folder"),
):
    """Distil the teacher into a one-step student with the PDE residual in its loss (or, with --images, PID's
    PF-ODE residual), evaluate, report."""
    from piddm.compare.distill import DistillExperiment, run

    from .images import distill_images, one_of
    from .progress import bars

    one_of(pde=pde, images=images)
    if images:
        return distill_images(images, teacher, out, data_dir, classifier, inception, points, distance,
                              lpips_weights, split or "val", steps, minutes, batch, lr, samples, eval_batch, seed,
                              device, resume, overwrite, evaluate_only)

    def path(p):
        return None if p is None else str(p)

    exp = DistillExperiment(pde=pde, teacher=path(teacher), data=path(data), out=path(out), lam=lam,
                            lam_warmup=lam_warmup, inputs=inputs, boundary_weight=boundary_weight, pairs=pairs,
                            pair_steps=pair_steps, refresh_every=refresh_every, refresh_fraction=refresh_fraction,
                            steps=steps, minutes=minutes, batch=batch, lr=lr, ablation=ablation,
                            refine_steps=refine_steps, refine_lr=refine_lr, samples=samples, eval_batch=eval_batch,
                            quick=quick, seed=seed, device=device, resume=resume, overwrite=overwrite,
                            split=split or "test")
    with bars() as b:
        done = run(exp, progress=b.task, training_bar=b.training)
    if done is None:  # a torchrun worker: the main rank reports
        return
    comparison, folder = done
    typer.echo(comparison.markdown())
    typer.echo("\n".join(f"{k:9s} {folder / f}" for k, f in (("report", "report.md"), ("metrics", "metrics.json"),
                                                               ("panel", "panel.png"),
                                                               ("student", "piddm/student.pt"))))
