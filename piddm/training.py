"""One training loop for every network of the toolkit (teacher, student), one process or DDP.

The loop owns what all trainings share: AdamW with linear warm-up, gradient clipping, EMA,
bf16 autocast on CUDA, a step or wall-time budget, the loss curve (``loss.csv``), periodic
atomic checkpoints (``checkpoint.pt``) and exact resumption. What differs -- the loss, the
evaluation at checkpoints, the exported model file -- comes in as callables.

Exact resumption needs no RNG bookkeeping: every step re-seeds torch from (seed, step, rank)
and the data order is a pure function of (seed, epoch) (:func:`batch_indices`), so a run
stopped and resumed at step k computes bit-for-bit what an uninterrupted run computes.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from pde_bench.conventions import InputError

from .distributed import Context
from .ema import EMA
from .files import atomic_torch_save, load_tensor_state, tensor_state

__all__ = ["TrainConfig", "TrainResult", "batch_indices", "load_checkpoint", "prepare_run_folder", "step_seed",
           "stored_options", "train"]

CHECKPOINT = "checkpoint.pt"
OPTIMIZERS = ("adamw", "radam")
LOSS_CSV = "loss.csv"
EVAL_CSV = "val.csv"


@dataclass
class TrainConfig:
    steps: int = 20_000
    minutes: float | None = None  # wall-time budget (stops at whichever of steps/minutes comes first)
    batch: int = 64  # global batch (split over ranks)
    lr: float = 5e-4
    warmup: int = 200  # steps of linear learning-rate ramp-up
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_halflife: float = 50_000  # samples
    ema_rampup: float | None = 0.05
    seed: int = 0
    checkpoint_every: int = 1000
    log_every: int = 10
    bf16: bool = True  # autocast on CUDA only
    optimizer: str = "adamw"  # adamw | radam (PID's choice)

    def check(self) -> None:
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise InputError(f"minutes must be positive, got {self.minutes}")
        if self.batch < 1:
            raise InputError(f"batch must be >= 1, got {self.batch}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"lr must be a positive number, got {self.lr}")
        if self.checkpoint_every < 1 or self.log_every < 1 or self.warmup < 0:
            raise InputError("checkpoint_every and log_every must be >= 1, warmup >= 0")
        if self.ema_halflife <= 0:
            raise InputError(f"ema_halflife must be positive, got {self.ema_halflife}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")


@dataclass
class TrainResult:
    model: nn.Module
    ema: nn.Module
    step: int
    elapsed: float
    stopped_by: str
    history: list = field(default_factory=list)


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The torch seed of one step on one rank (a fixed mix, distinct for every triple)."""
    return (seed * 1_000_003 + step * 7919 + rank * 104_729) % (2**63 - 1)


_PERM_CACHE: dict = {}


def batch_indices(step: int, batch: int, n: int, seed: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """Indices of this rank's share of global batch ``step``: epochs are seeded permutations.

    Position p = step * batch + j of the sample stream is element p mod n of epoch p // n's
    permutation; rank r takes the r-th contiguous share of the global batch.
    """
    if batch % world:
        raise InputError(f"the batch ({batch}) must be divisible by the number of processes ({world})")
    share = batch // world
    pos = step * batch + rank * share + torch.arange(share)
    out = torch.empty(share, dtype=torch.long)
    for epoch in pos.div(n, rounding_mode="floor").unique().tolist():
        key = (n, seed, epoch)
        if key not in _PERM_CACHE:
            _PERM_CACHE.clear()
            _PERM_CACHE[key] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 65_537 + epoch))
        sel = pos.div(n, rounding_mode="floor") == epoch
        out[sel] = _PERM_CACHE[key][pos[sel] % n]
    return out


def prepare_run_folder(out: Path, ctx, options: dict, parameters: int, *, resume: bool, overwrite: bool,
                       name: str = "options.json") -> None:
    """The run folder of a training command (main rank): replaced with ``overwrite``, made, and on a fresh
    start given its options file (options, parameter count, world size, provenance); then all ranks meet."""
    import shutil

    from pde_bench.conventions import provenance

    from .files import atomic_write_json

    if ctx.is_main:
        if overwrite and out.exists() and not resume:
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            atomic_write_json(out / name, {"options": options, "parameters": parameters, "world_size": ctx.world,
                                           "provenance": provenance(options)})
    ctx.barrier()


def stored_options(cls, out: Path | str, name: str = "options.json"):
    """The options ``cls`` (a dataclass with a ``train: TrainConfig`` field) stored in a run folder by
    :func:`prepare_run_folder`; a one-line error when there is nothing to resume."""
    import json

    path = Path(out) / name
    if not path.exists():
        raise InputError(f"{out}: nothing to resume (no {name})")
    d = json.loads(path.read_text())["options"]
    return cls(**{**d, "train": TrainConfig(**d["train"])})


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no checkpoint to resume from") from None
    except Exception as err:  # noqa: BLE001 - a damaged file, reported as such
        raise InputError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None


def _lr(cfg: TrainConfig, step: int) -> float:
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else cfg.lr


def _append_csv(path: Path, header: list[str], rows: list[list]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(header)
        w.writerows(rows)


def _truncate_csv(path: Path, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (written after the checkpoint being resumed)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= last_step]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)


def train(model: nn.Module, loss_fn: Callable[[nn.Module, int], torch.Tensor], cfg: TrainConfig,
          run_dir: Path, ctx: Context, *, evaluate: Callable[[nn.Module, int], dict] | None = None,
          export: Callable[[nn.Module, dict], None] | None = None,
          on_progress: Callable[[int, int, dict], None] | None = None,
          resume: bool = False) -> TrainResult:
    """Train ``model`` by minimising ``loss_fn(net, step)`` (this rank's mean loss for that step).

    ``net`` is the (DDP-wrapped when distributed) model; torch is seeded per (seed, step, rank)
    before each call. At each checkpoint rank 0 calls ``evaluate(ema_model, step)`` (metrics go
    to ``val.csv``), saves ``checkpoint.pt`` and calls ``export(ema_model, info)`` to write the
    model file users load. Returns the trained model and its EMA.
    """
    cfg.check()
    run_dir = Path(run_dir)
    model = model.to(ctx.device)
    ema = EMA(model, cfg.ema_halflife, cfg.ema_rampup)
    optim = torch.optim.RAdam if cfg.optimizer == "radam" else torch.optim.AdamW
    opt = optim(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=cfg.weight_decay)
    start, elapsed_before = 0, 0.0
    if resume:
        state = load_checkpoint(run_dir / CHECKPOINT)
        load_tensor_state(model, state["model"])
        load_tensor_state(ema.model, state["ema"])
        opt.load_state_dict(state["optimizer"])
        start, elapsed_before = state["step"], state["elapsed"]
        if ctx.is_main:
            _truncate_csv(run_dir / LOSS_CSV, start)
            _truncate_csv(run_dir / EVAL_CSV, start)
    net = model
    if ctx.distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    autocast = ctx.device.type == "cuda" and cfg.bf16

    history, pending, t0 = [], [], time.perf_counter()
    loss_sum, loss_count, last_log = 0.0, 0, (start, time.perf_counter())
    step, stopped_by = start, "steps"

    def checkpoint(step: int, elapsed: float) -> None:
        model.eval()
        metrics = evaluate(ema.model, step) if (evaluate and ctx.is_main) else {}
        model.train()
        if ctx.is_main:
            _append_csv(run_dir / LOSS_CSV, ["step", "samples", "loss", "lr", "elapsed_s"], pending)
            if metrics:
                _append_csv(run_dir / EVAL_CSV, ["step", *metrics], [[step, *metrics.values()]])
                history.append({"step": step, **metrics})
            atomic_torch_save({"model": tensor_state(model), "ema": tensor_state(ema.model),
                               "optimizer": opt.state_dict(), "step": step, "elapsed": elapsed,
                               "config": asdict(cfg)}, run_dir / CHECKPOINT)
            if export is not None:
                export(ema.model, {"step": step, "samples": step * cfg.batch, "elapsed_s": round(elapsed, 1),
                                   **({"val": metrics} if metrics else {})})
        pending.clear()
        ctx.barrier()

    model.train()
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        torch.manual_seed(step_seed(cfg.seed, step, ctx.rank))
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(net, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        ema.update(model, step * cfg.batch, cfg.batch)
        loss_sum, loss_count = loss_sum + float(loss.detach()), loss_count + 1

        elapsed = elapsed_before + time.perf_counter() - t0
        if step % cfg.log_every == 0 or step == cfg.steps:
            mean = torch.tensor([loss_sum / loss_count], device=ctx.device)
            if ctx.distributed:
                torch.distributed.all_reduce(mean)
                mean /= ctx.world
            rate = (step - last_log[0]) / max(time.perf_counter() - last_log[1], 1e-9)
            last_log = (step, time.perf_counter())
            pending.append([step, step * cfg.batch, f"{mean.item():.6g}", f"{_lr(cfg, step - 1):.4g}",
                            f"{elapsed:.2f}"])
            if on_progress and ctx.is_main:
                on_progress(step, cfg.steps, {"loss": mean.item(), "it_s": rate,
                                              "samples_s": rate * cfg.batch, "elapsed": elapsed})
            loss_sum, loss_count = 0.0, 0
        out_of_time = cfg.minutes is not None and elapsed >= cfg.minutes * 60
        if cfg.minutes is not None:
            out_of_time = ctx.any_flag(out_of_time)
        if out_of_time:
            stopped_by = "minutes"
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
            checkpoint(step, elapsed)
        if out_of_time:
            break
    if start == cfg.steps and ctx.is_main and export is not None:
        export(ema.model, {"step": step, "samples": step * cfg.batch, "elapsed_s": round(elapsed_before, 1)})
    return TrainResult(model, ema.model, step, elapsed_before + time.perf_counter() - t0, stopped_by, history)
