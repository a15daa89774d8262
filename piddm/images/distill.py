"""PID training: distil an image teacher into a one-step student on the PF-ODE residual (no data, no pairs).

Per step: z ~ N(0, T² I), a grid index i ~ U{0..N-1} per sample (labels ~ U{classes} for a
class-conditional teacher), loss = d(y - t_i (y - y₂)/(t_i - t_j), D(y; t_i)) (:class:`PFODEResidual`).
The loop is the shared one of :mod:`piddm.training` (EMA, checkpoints, exact resume, torchrun);
the paper's optimiser (RAdam, constant learning rate) is the default. At each checkpoint the
EMA student's loss on a fixed validation batch is logged and a PNG grid of one-step samples written;
``student.pt`` is an ordinary model file (kind ``student``, ``training.method = "pid"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from pde_bench.conventions import InputError, check_output, provenance

from ..distributed import Context
from ..models import LoadedModel, ModelInfo, load_model, save_model
from ..noise import standard_noise
from ..student import file_hash
from ..training import TrainConfig, TrainResult, prepare_run_folder, stored_options, train
from .datasets import image_set
from .pid import DISTANCES, PFODEResidual, PIDStudent, make_distance
from .teacher import save_image_grid

__all__ = ["PIDOptions", "check_pid", "load_pid_student", "run_pid", "train_pid"]

OPTIONS = "options.json"
VAL_BATCH = 64


@dataclass
class PIDOptions:
    images: str
    teacher: str
    out: str
    points: int = 250  # N of the Karras grid
    distance: str = "pseudo-huber"  # lpips (the paper's) | pseudo-huber | l2
    lpips_net: str = "vgg"
    lpips_weights: str | None = None
    device: str = "auto"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=2000, batch=32, lr=2e-4, warmup=0, grad_clip=0.0, optimizer="radam", ema_halflife=5_000,
        checkpoint_every=250, bf16=False))  # fp32 as the paper (bf16 noise ~ the residual near sigma_min)

    def check(self) -> None:
        if self.points < 2:
            raise InputError(f"points must be >= 2, got {self.points}")
        if self.distance not in DISTANCES:
            raise InputError(f"distance must be one of {', '.join(DISTANCES)}, got {self.distance!r}")

    @classmethod
    def of_run(cls, out: Path | str) -> PIDOptions:
        return stored_options(cls, out, OPTIONS)


def check_pid(opts: PIDOptions, *, resume: bool = False, overwrite: bool = False, is_main: bool = True,
              device="cpu") -> LoadedModel:
    """Options, output folder and teacher of a PID run, before any work. Returns the teacher."""
    opts.check()
    out = Path(opts.out)
    if resume and not (out / "checkpoint.pt").exists():
        raise InputError(f"{out}: nothing to resume (no checkpoint.pt)")
    if not resume and is_main:
        check_output(out, overwrite)
    return load_model(opts.teacher, "teacher", problem=image_set(opts.images).name, device=device)


def _classes(teacher: LoadedModel) -> int:
    return int(teacher.info.params.get("classes", 0))


def train_pid(opts: PIDOptions, ctx: Context, *, resume: bool = False, overwrite: bool = False,
              on_progress: Callable | None = None) -> TrainResult:
    """Train (or resume) a PID student of ``opts.teacher`` into ``opts.out``."""
    teacher = check_pid(opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main, device=ctx.device)
    out, dev, classes = Path(opts.out), ctx.device, _classes(teacher)
    physics = PFODEResidual(teacher.denoiser, opts.points, distance=make_distance(
        opts.distance, lpips_net=opts.lpips_net, lpips_weights=opts.lpips_weights, device=dev))
    student = PIDStudent(teacher.denoiser)
    shape = (teacher.problem.channels, teacher.resolution, teacher.resolution)
    prepare_run_folder(out, ctx, asdict(opts), sum(p.numel() for p in student.parameters()), resume=resume,
                       overwrite=overwrite, name=OPTIONS)
    share = opts.train.batch // max(ctx.world, 1)

    def loss_fn(net, step):
        z = torch.randn((share, *shape), device=dev) * student.T
        i = torch.randint(0, opts.points, (share,), device=dev)
        y = torch.randint(0, classes, (share,), device=dev) if classes else None
        return physics.loss(net, z, i, y).mean()

    val_z = standard_noise(VAL_BATCH, shape, seed=0, stream="evaluation").to(dev) * student.T
    val_i = torch.arange(VAL_BATCH, device=dev) * (opts.points - 1) // (VAL_BATCH - 1)
    val_y = torch.arange(VAL_BATCH, device=dev) % classes if classes else None
    grid_eps = standard_noise(16, shape, seed=12345, stream="grid").to(dev)

    def evaluate(ema_model, step):
        with torch.no_grad():
            val = float(physics.loss(ema_model, val_z, val_i, val_y).mean())
            save_image_grid(ema_model.sample(grid_eps, None if val_y is None else val_y[:16]),
                            out / "samples" / f"step-{step:07d}.png")
        return {"val_pid_loss": round(val, 6)}

    info = ModelInfo(kind="student", problem=teacher.info.problem, params=dict(teacher.info.params),
                     resolution=teacher.resolution, backbone=teacher.info.backbone, normaliser={},
                     data=teacher.info.data,
                     training={**asdict(opts.train), "method": "pid", "points": opts.points, "distance": opts.distance,
                               "teacher": str(teacher.path), "teacher_hash": file_hash(teacher.path),
                               "teacher_training": teacher.info.training})

    def export(ema_model, extra):
        info.training = {**info.training, **extra}
        info.provenance = provenance(asdict(opts))
        save_model(out / "student.pt", ema_model.denoiser, info)

    return train(student, loss_fn, opts.train, out, ctx, evaluate=evaluate, export=export,
                 on_progress=on_progress, resume=resume)


def run_pid(opts: PIDOptions, *, resume: bool = False, overwrite: bool = False,
            training_bar: Callable | None = None) -> TrainResult | None:
    """PID training as one process or under torchrun (see :func:`piddm.teacher.run_training`)."""
    from ..teacher import run_training

    def check(o, *, resume, overwrite, is_main):
        check_pid(o, resume=resume, overwrite=overwrite, is_main=is_main)

    return run_training(opts, PIDOptions.of_run, check, train_pid, f"PID {image_set(opts.images).name}",
                        resume=resume, overwrite=overwrite, training_bar=training_bar)


def load_pid_student(path, images: str | None = None, device="cpu") -> tuple[PIDStudent, LoadedModel]:
    """A PID student file as a ready :class:`PIDStudent` (eval mode, no gradients) and its metadata."""
    loaded = load_model(path, "student", problem=images, device=device)
    if loaded.info.training.get("method") != "pid":
        raise InputError(f"{loaded.path}: not a PID image student (a PDE student? use it with --pde)")
    return PIDStudent(loaded.denoiser).to(device).eval().requires_grad_(False), loaded
