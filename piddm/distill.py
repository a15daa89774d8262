"""PIDDM distillation: train the one-step student on teacher pairs plus the PDE residual.

Loss per sample: ||G(eps) - x0(eps)||^2 (mean over pixels, normalised units) + lam(t) R(G(eps)),
R the squared normalised residual with the boundary term (:class:`PhysicsLoss`) evaluated on
the student's own clean output -- a real sample, not a posterior mean, so there is no Jensen
gap. lam ramps up linearly over ``lam_warmup`` steps. A fraction of the pairs is replaced by
fresh teacher solves every ``refresh_every`` steps. Training itself is the shared loop of
:mod:`piddm.training` (EMA, checkpoints, exact resume, torchrun).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from pde_bench.conventions import InputError, check_output, provenance

from .distributed import Context
from .files import atomic_write_json
from .models import LoadedModel, ModelInfo, load_model, save_model
from .physics import INPUT_MODES, PhysicsLoss, anneal_temperature
from .student import Student, file_hash, make_pairs, read_pairs, write_pairs
from .training import TrainConfig, TrainResult, batch_indices, train
from .training import stored_options as stored_run_options

__all__ = ["DistillOptions", "distill", "stored_options", "teacher_pairs"]

OPTIONS = "options.json"
PAIRS = "pairs.h5"
VAL_PAIRS = 64
VAL_SEED_OFFSET = 1_000_003  # validation pairs come from their own noise stream


@dataclass
class DistillOptions:
    pde: str
    teacher: str
    out: str
    pairs: int = 2048
    pair_steps: int = 10  # Heun steps N_s of the teacher solve behind each pair
    refresh_every: int = 0  # steps between pair refreshes (0: never)
    refresh_fraction: float = 0.1
    lam: float = 0.1
    lam_warmup: int = 200
    inputs: str = "soft"  # what R sees of a: soft | hard (thresholded, straight-through) | fixed (no gradient)
    # | anneal (a sigmoid threshold sharpened over the steps)
    boundary_weight: float = 1.0  # weight of the boundary term inside R
    seed: int = 0
    device: str = "auto"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=500, lr=1e-4, warmup=50,
                                                                    ema_halflife=5_000))

    def check(self) -> None:
        if self.pairs < 1 or self.pair_steps < 1:
            raise InputError(f"pairs and pair_steps must be >= 1, got {self.pairs}, {self.pair_steps}")
        if not self.lam >= 0:
            raise InputError(f"lam must be >= 0, got {self.lam}")
        if self.inputs not in INPUT_MODES:
            raise InputError(f"inputs must be one of {', '.join(INPUT_MODES)}, got {self.inputs!r}")
        if not self.boundary_weight >= 0:
            raise InputError(f"boundary_weight must be >= 0, got {self.boundary_weight}")
        if self.refresh_every < 0 or not 0 < self.refresh_fraction <= 1:
            raise InputError("refresh_every must be >= 0 and refresh_fraction in (0, 1]")

    @classmethod
    def from_dict(cls, d: dict) -> DistillOptions:
        return cls(**{**d, "train": TrainConfig(**d["train"])})


def teacher_pairs(opts: DistillOptions, teacher: LoadedModel, device=None, on_progress=None):
    """The (eps, x0) pairs that ``opts`` asks for: noise seeds (seed, 0..pairs-1), Heun-N_s solves."""
    return make_pairs(teacher.denoiser, opts.pairs, teacher.resolution, steps=opts.pair_steps, seed=opts.seed,
                      device=device, on_progress=on_progress)


def distill(opts: DistillOptions, ctx: Context, *, resume: bool = False, overwrite: bool = False,
            on_progress: Callable | None = None, on_pairs: Callable[[int], None] | None = None,
            pairs: tuple[torch.Tensor, torch.Tensor] | None = None, pairs_s: float | None = None) -> TrainResult:
    """Build or reuse the pairs, then train the student into ``opts.out``.

    ``pairs`` (eps, x0), when given, are the teacher solves made by :func:`teacher_pairs` for the
    same options (several students share one set); otherwise the run's cached ``pairs.h5`` or
    fresh solves are used. ``pairs_s`` (the seconds the pairs took) is recorded in the student
    file as a one-off cost; resuming keeps the recorded one.
    """
    opts.check()
    out = Path(opts.out)
    if resume and not (out / "checkpoint.pt").exists():
        raise InputError(f"{out}: nothing to resume (no checkpoint.pt)")
    if not resume and ctx.is_main:
        check_output(out, overwrite)
    teacher = load_model(opts.teacher, "teacher", problem=opts.pde, device=ctx.device)
    physics = PhysicsLoss.for_model(teacher, inputs=opts.inputs, boundary_weight=opts.boundary_weight)
    measured = PhysicsLoss.for_model(teacher, inputs="fixed")  # validation reports what the tables report
    res = teacher.resolution
    t_hash = file_hash(teacher.path)
    if ctx.is_main:
        if overwrite and out.exists() and not resume:
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            atomic_write_json(out / OPTIONS, {"options": asdict(opts), "teacher_hash": t_hash,
                                              "world_size": ctx.world, "provenance": provenance(asdict(opts))})
    ctx.barrier()

    expect = {"teacher_hash": t_hash, "pair_steps": opts.pair_steps, "n": opts.pairs, "seed": opts.seed}
    cached = read_pairs(out / PAIRS, expect)
    if cached is None:  # every rank solves the same seeds: identical pairs without communication
        if pairs is not None:
            eps, x0 = pairs
            if eps.shape != (opts.pairs, 2, res, res) or x0.shape != eps.shape:
                raise ValueError(f"pairs of shape {tuple(eps.shape)} given, ({opts.pairs}, 2, {res}, {res}) expected")
        else:
            eps, x0 = teacher_pairs(opts, teacher, ctx.device, on_pairs if ctx.is_main else None)
        refreshed = 0
        if ctx.is_main:
            write_pairs(out / PAIRS, eps, x0, {**expect, "refreshed": 0})
    else:
        eps, x0, attrs = cached
        refreshed = int(attrs.get("refreshed", 0))
    ctx.barrier()
    val_eps, val_x0 = make_pairs(teacher.denoiser, VAL_PAIRS, res, steps=opts.pair_steps,
                                 seed=opts.seed + VAL_SEED_OFFSET, device=ctx.device)
    state = {"eps": eps, "x0": x0, "refreshed": refreshed}
    n_refresh = max(1, int(round(opts.refresh_fraction * opts.pairs)))

    def refresh(step: int) -> None:
        """Replace the next block of pairs by fresh teacher solves (new noise seeds)."""
        k = state["refreshed"]
        start = (k * n_refresh) % opts.pairs
        idx = (start + torch.arange(n_refresh)) % opts.pairs
        with torch.autocast(ctx.device.type, enabled=False):  # pairs in full precision
            new_eps, new_x0 = make_pairs(teacher.denoiser, n_refresh, res, steps=opts.pair_steps, seed=opts.seed,
                                         start=opts.pairs + k * n_refresh, device=ctx.device)
        state["eps"][idx], state["x0"][idx] = new_eps, new_x0
        state["refreshed"] = k + 1

    student = Student(teacher.denoiser)
    dev = ctx.device

    def lam_at(step: int) -> float:
        return opts.lam * min(1.0, (step + 1) / opts.lam_warmup) if opts.lam_warmup else opts.lam

    def loss_fn(net, step):
        if opts.refresh_every and step and step % opts.refresh_every == 0 and \
                state["refreshed"] < step // opts.refresh_every:
            refresh(step)
        idx = batch_indices(step, opts.train.batch, opts.pairs, opts.seed, ctx.rank, ctx.world)
        e, target = state["eps"][idx].to(dev), state["x0"][idx].to(dev)
        g = net(e)
        mse = (g.float() - target).pow(2).flatten(1).mean(1)
        loss = mse
        if opts.lam:
            if opts.inputs == "anneal":
                physics.temperature = anneal_temperature(step, opts.train.steps)
            loss = loss + lam_at(step) * physics(g.double()).float()
        return loss.mean()

    def evaluate(ema_model, step):
        with torch.no_grad():
            g = ema_model(val_eps.to(dev))
            mse = (g.float() - val_x0.to(dev)).pow(2).mean().item()
            pde, bc = measured.terms(g.double())
        return {"val_mse": round(mse, 7), "val_residual_sq": float(f"{pde.mean().item():.6g}"),
                "val_bc_sq": float(f"{bc.mean().item():.6g}"), "lam": lam_at(step - 1)}

    info = ModelInfo(kind="student", problem=teacher.problem.name, params=dict(teacher.problem.params),
                     resolution=res, backbone=teacher.info.backbone, normaliser=asdict(teacher.normaliser),
                     data=teacher.info.data,
                     training={**asdict(opts.train), "pairs": opts.pairs, "pair_steps": opts.pair_steps,
                               "lam": opts.lam, "lam_warmup": opts.lam_warmup, "inputs": opts.inputs,
                               "boundary_weight": opts.boundary_weight,
                               "refresh_every": opts.refresh_every, "refresh_fraction": opts.refresh_fraction,
                               "teacher": str(teacher.path), "teacher_hash": t_hash,
                               "teacher_training": teacher.info.training})

    if pairs_s is None and (out / "student.pt").exists():
        pairs_s = load_model(out / "student.pt", "student").info.training.get("pairs_s")
    if pairs_s is not None:
        info.training["pairs_s"] = round(float(pairs_s), 3)

    def export(ema_model, extra):
        info.training = {**info.training, **extra}
        info.provenance = provenance(asdict(opts))
        save_model(out / "student.pt", ema_model.denoiser, info)
        write_pairs(out / PAIRS, state["eps"], state["x0"], {**expect, "refreshed": state["refreshed"]})

    return train(student, loss_fn, opts.train, out, ctx, evaluate=evaluate, export=export,
                 on_progress=on_progress, resume=resume)


def stored_options(out: Path) -> DistillOptions:
    return stored_run_options(DistillOptions, out, OPTIONS)

