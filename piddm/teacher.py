"""The teacher: an EDM diffusion model on the joint normalised field x = (a, u).

:func:`train_teacher` wires a data set, a backbone and the EDM loss into the shared training
loop; at each checkpoint it records the validation loss at fixed sigma values, writes a PNG
grid of samples and exports ``teacher.pt`` (EMA weights). :func:`sample_teacher` draws
samples in physical units.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pde_bench import get_problem
from pde_bench.conventions import InputError, check_output, provenance
from pde_bench.datasets import problem_from_attrs
from pde_bench.loading import resolve_split
from pde_bench.torch_data import FieldDataset

from .defaults import TEACHER, teacher_defaults
from .distributed import Context
from .edm import Denoiser, EDMSchedule, edm_loss, fixed_sigma_loss, sample_sigmas
from .models import LoadedModel, ModelInfo, save_model
from .networks import backbone_config, build_backbone, count_parameters
from .noise import standard_noise
from .plots import save_field_grid
from .sampling import generate
from .training import TrainConfig, TrainResult, batch_indices, prepare_run_folder, stored_options, train

__all__ = ["VAL_SIGMAS", "TeacherOptions", "check_teacher_inputs", "run_teacher", "run_training", "sample_teacher",
           "train_teacher", "val_loss_metrics"]

VAL_SIGMAS = (0.01, 0.1, 0.5, 2.0, 10.0)
OPTIONS = "options.json"


@dataclass
class TeacherOptions:
    pde: str
    data: str
    out: str
    backbone: str = "unet"
    preset: str = "small"
    device: str = "auto"
    val_samples: int = 256
    grid_steps: int = 18  # Heun steps of the PNG grid at each checkpoint
    net: dict = field(default_factory=dict)  # overrides of the preset (e.g. {"channels": 48})
    train: TrainConfig = field(default_factory=TrainConfig)
    # Training noise levels, ln sigma ~ N(p_mean, p_std^2); None: the problem's default (piddm.defaults.
    # teacher_defaults: EDM's image values unless validation chose others for the problem, docs/teacher.md).
    p_mean: float | None = None
    p_std: float | None = None

    def __post_init__(self):
        levels = teacher_defaults(self.pde, p_mean=self.p_mean, p_std=self.p_std)
        try:
            self.p_mean, self.p_std = float(levels["p_mean"]), float(levels["p_std"])
        except (TypeError, ValueError):
            raise InputError(f"--p-mean and --p-std must be numbers, got {levels['p_mean']!r} and "
                             f"{levels['p_std']!r}") from None
        if not (np.isfinite(self.p_mean) and np.isfinite(self.p_std) and self.p_std > 0):
            raise InputError(f"--p-mean must be finite and --p-std positive, got {self.p_mean!r} and {self.p_std!r}")

    @classmethod
    def from_dict(cls, d: dict) -> TeacherOptions:
        """Options as saved in a run's options.json; a run saved before the levels were stored used EDM's."""
        return cls(**{**TEACHER, **d, "train": TrainConfig(**d["train"])})

    @classmethod
    def of_run(cls, out: Path | str) -> TeacherOptions:
        return stored_options(cls, out, OPTIONS)


def val_loss_metrics(model, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
    """A teacher's validation curve point: the EDM loss at each of :data:`VAL_SIGMAS` (fixed noise) and their mean."""
    losses = fixed_sigma_loss(model, x, VAL_SIGMAS, seed=0, class_labels=labels)
    metrics = {f"val_loss_sigma_{s:g}": round(v, 6) for s, v in losses.items()}
    metrics["val_loss_mean"] = round(float(np.mean(list(losses.values()))), 6)
    return metrics


def _check_data(opts: TeacherOptions):
    train_path = resolve_split(opts.data, "train")
    data = FieldDataset(train_path, "train")
    name = data.attrs.get("problem")
    if name != get_problem(opts.pde).name:
        raise InputError(f"{train_path}: data of problem {name!r}, but problem {opts.pde!r} was asked for")
    try:
        val = FieldDataset(opts.data, "val", normaliser=data.normaliser)
    except InputError:
        val = None  # a data set without a validation split: no validation curve
    return data, val


def check_teacher_inputs(opts: TeacherOptions, *, resume: bool = False, overwrite: bool = False,
                         is_main: bool = True):
    """Validate a teacher run before any work: output folder, resume state, data. Returns (train, val)."""
    out = Path(opts.out)
    if resume:
        if not (out / "checkpoint.pt").exists():
            raise InputError(f"{out}: nothing to resume (no checkpoint.pt)")
        saved = json.loads((out / OPTIONS).read_text())["options"]
        if saved["pde"] != opts.pde or saved["backbone"] != opts.backbone or saved["preset"] != opts.preset:
            raise InputError(f"{out}: was trained as {saved['pde']} {saved['backbone']}/{saved['preset']}; "
                             f"resume with the same --pde/--backbone/--preset")
    elif is_main:
        check_output(out, overwrite)
    return _check_data(opts)


def train_teacher(opts: TeacherOptions, ctx: Context, *, resume: bool = False, overwrite: bool = False,
                  on_progress: Callable | None = None) -> TrainResult:
    """Train (or resume) a teacher into ``opts.out``; rank 0 writes, every rank trains."""
    out = Path(opts.out)
    data, val = check_teacher_inputs(opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main)
    problem = problem_from_attrs(data.attrs)
    cfg_net = backbone_config(opts.backbone, opts.preset, resolution=data.resolution,
                              periodic=problem.boundary == "periodic", **opts.net)
    torch.manual_seed(opts.train.seed)  # identical initial weights on every rank
    denoiser = Denoiser(build_backbone(cfg_net))
    info = ModelInfo(kind="teacher", problem=problem.name, params=dict(problem.params),
                     resolution=data.resolution, backbone=cfg_net, normaliser=asdict(data.normaliser),
                     data={"path": str(Path(opts.data)), "train_file": str(data.path), "n_train": len(data),
                           "seed": data.attrs.get("seed"), "generator_version": data.attrs.get("generator_version"),
                           "residual_scale": float(data.attrs["residual_scale"])},
                     training={**asdict(opts.train), "p_mean": opts.p_mean, "p_std": opts.p_std,
                               "parameters": count_parameters(denoiser)})
    prepare_run_folder(out, ctx, asdict(opts), count_parameters(denoiser), resume=resume, overwrite=overwrite,
                       name=OPTIONS)

    share = opts.train.batch // max(ctx.world, 1)
    dev = ctx.device
    levels = EDMSchedule(p_mean=opts.p_mean, p_std=opts.p_std)

    def loss_fn(net, step):
        idx = batch_indices(step, opts.train.batch, len(data), opts.train.seed, ctx.rank, ctx.world)
        x = data.batch(idx).to(dev)
        sigma = sample_sigmas(share, levels, device=dev)
        noise = torch.randn_like(x)
        return edm_loss(net, x, sigma, noise).mean()

    val_x = None
    if val is not None:
        val_x = val.batch(torch.arange(min(opts.val_samples, len(val)))).to(dev)
    grid_noise = standard_noise(8, (2, data.resolution, data.resolution), seed=12345, stream="grid").to(dev)

    def evaluate(ema_model, step):
        metrics = {}
        if val_x is not None:
            metrics = val_loss_metrics(ema_model, val_x)
        x = generate(ema_model, grid_noise, steps=opts.grid_steps).x
        a, u = data.normaliser.to_physical(x.cpu().double())
        save_field_grid({"a (raw)": a.numpy(), "a": problem.finalize_inputs(a).numpy(), "u": u.numpy()},
                        out / "samples" / f"step-{step:07d}.png",
                        title=f"{problem.name} teacher, EMA at step {step}, Heun-{opts.grid_steps}")
        return metrics

    def export(ema_model, extra):
        info.training = {**info.training, **extra}
        info.provenance = provenance(asdict(opts))
        save_model(out / "teacher.pt", ema_model, info)

    return train(denoiser, loss_fn, opts.train, out, ctx, evaluate=evaluate, export=export,
                 on_progress=on_progress, resume=resume)


@torch.no_grad()
def sample_teacher(teacher: LoadedModel, n: int, *, steps: int = 18, sampler: str = "heun", seed: int = 0,
                   batch: int = 64, resolution: int | None = None, device=None,
                   on_progress: Callable[[int], None] | None = None, stream: str = "evaluation"):
    """``n`` samples (sample i from noise (stream, seed, i)) as physical float64 arrays and nfe.

    Returns (a_raw, u, nfe): a_raw is the network's continuous a; apply the problem's
    ``finalize_inputs`` (Darcy: threshold) before reporting anything physical.
    """
    res = resolution or teacher.resolution
    device = device or next(teacher.denoiser.parameters()).device
    a_all, u_all, nfe = [], [], 0
    for start in range(0, n, batch):
        m = min(batch, n - start)
        noise = standard_noise(m, (2, res, res), seed=seed, start=start, stream=stream).to(device)
        out = generate(teacher.denoiser, noise, steps=steps, sampler=sampler)
        a, u = teacher.normaliser.to_physical(out.x.double().cpu())
        a_all.append(a.numpy())
        u_all.append(u.numpy())
        nfe = out.nfe
        if on_progress:
            on_progress(m)
    return np.concatenate(a_all), np.concatenate(u_all), nfe


def run_teacher(opts: TeacherOptions, *, resume: bool = False, overwrite: bool = False,
                training_bar: Callable | None = None) -> TrainResult | None:
    """Train (or resume) a teacher as one process or under torchrun; the result on the main rank, else None.

    Resuming continues with the run's stored options; only the budget (steps, minutes) and the
    device of ``opts`` apply. ``training_bar(label, total)`` is a context manager yielding the
    progress callback (main rank only).
    """
    return run_training(opts, TeacherOptions.of_run, check_teacher_inputs, train_teacher, f"teacher {opts.pde}",
                        resume=resume, overwrite=overwrite, training_bar=training_bar)


def run_training(opts, of_run: Callable, check: Callable, train_fn: Callable, label: str, *, resume: bool,
                 overwrite: bool, training_bar: Callable | None) -> TrainResult | None:
    """The process wrapper of a training command (PDE or image teacher): stored options on resume (with the
    budget and device of ``opts``), the device context, input checks before any work, the progress bar."""
    import contextlib

    from .distributed import setup

    if resume and overwrite:
        raise InputError("resume and overwrite exclude each other")
    if resume:
        stored = of_run(opts.out)
        stored.train.steps, stored.train.minutes, stored.device = opts.train.steps, opts.train.minutes, opts.device
        opts = stored
    ctx = setup(opts.device)
    check(opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main)
    try:
        bar = training_bar(label, opts.train.steps) if ctx.is_main and training_bar else contextlib.nullcontext(None)
        with bar as update:
            result = train_fn(opts, ctx, resume=resume, overwrite=overwrite, on_progress=update)
    finally:
        ctx.close()
    return result if ctx.is_main else None
