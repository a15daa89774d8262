"""Training the supervised neural operator (:mod:`piddm.operator`) on a data set's training split.

Plain supervised learning through the shared training loop (:func:`piddm.training.train`: AdamW,
EMA, checkpoints, exact ``resume``, a wall-time budget): each step takes a batch of training
samples, draws fresh masks for them from the training-mask stream, and minimises the mean
squared error of both standardised fields over all pixels. The default budget is the wall time
of a shipped reference teacher (45 minutes on the 2 CPU cores that trained it), so the baseline
gets the training time the generative model got. At each checkpoint rank 0 records the
validation MSE (fixed masks) in ``val.csv`` and exports ``operator.pt`` (the EMA weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from pde_bench import get_problem
from pde_bench.conventions import InputError, check_output, provenance
from pde_bench.datasets import problem_from_attrs
from pde_bench.loading import resolve_split
from pde_bench.torch_data import FieldDataset

from .distributed import Context
from .networks import count_parameters
from .operator import (DEFAULT_FRACTIONS, OBSERVED, OperatorInfo, build_operator, draw_masks, mask_generator,
                       network_config, operator_inputs, save_operator)
from .training import TrainConfig, TrainResult, batch_indices, prepare_run_folder, stored_options, train

__all__ = ["DEFAULT_MINUTES", "OperatorOptions", "parse_fractions", "run_operator", "train_operator",
           "training_config"]

DEFAULT_MINUTES = 45.0  # the wall time of the shipped reference teachers (piddm/reference/*/teacher.json)
OPTIONS = "options.json"


def training_config(**overrides) -> TrainConfig:
    """The operator's training settings with ``overrides`` (None values ignored). ``steps`` is a cap: on CPU the
    45 minutes stop first. fp32 on CUDA too: the FFTs of the padded grid are no bf16-friendly sizes."""
    base = dict(steps=100_000, minutes=DEFAULT_MINUTES, batch=32, lr=1e-3, warmup=100, ema_halflife=10_000,
                checkpoint_every=200, bf16=False)
    return TrainConfig(**{**base, **{k: v for k, v in overrides.items() if v is not None}})


@dataclass
class OperatorOptions:
    pde: str
    task: str  # forward | inverse | reconstruction
    data: str
    out: str
    fractions: list = field(default_factory=lambda: list(DEFAULT_FRACTIONS))  # observed fractions, each in (0, 1]
    device: str = "auto"
    val_samples: int = 256
    net: dict = field(default_factory=dict)  # overrides of piddm.operator.NETWORK (modes, width, layers)
    train: TrainConfig = field(default_factory=training_config)

    def check(self) -> None:
        if self.task not in OBSERVED:
            raise InputError(f"operator task must be one of {', '.join(OBSERVED)}, got {self.task!r}")
        if not self.fractions or not all(isinstance(f, (int, float)) and 0 < f <= 1 for f in self.fractions):
            raise InputError(f"operator fractions must be numbers in (0, 1], got {self.fractions!r}")
        if self.val_samples < 0:
            raise InputError(f"val_samples must be >= 0, got {self.val_samples}")
        self.train.check()

    @classmethod
    def of_run(cls, out: Path | str) -> OperatorOptions:
        return stored_options(cls, out, OPTIONS)


def parse_fractions(text: str | None) -> list[float]:
    """``"1,3,10,30"`` (percentages in (0, 100]) -> [0.01, 0.03, 0.1, 0.3]; None -> the default fractions."""
    if text is None:
        return list(DEFAULT_FRACTIONS)
    try:
        pct = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"fractions {text!r}: expected comma-separated percentages such as 1,3,10,30") from None
    if not pct or not all(math.isfinite(p) and 0 < p <= 100 for p in pct):
        raise InputError(f"fractions {text!r}: every percentage must lie in (0, 100]")
    return [p / 100 for p in pct]


def _same_run(saved: OperatorOptions, opts: OperatorOptions) -> OperatorOptions:
    """The stored options of a run being resumed, when they are of the problem and task asked for."""
    if (saved.pde, saved.task) != (opts.pde, opts.task):
        raise InputError(f"{opts.out}: was trained as {saved.pde} {saved.task}, not {opts.pde} {opts.task}; resume "
                         "with the same problem and task")
    return saved


def check_operator_inputs(opts: OperatorOptions, *, resume: bool = False, overwrite: bool = False,
                          is_main: bool = True):
    """Validate a run before any work: options, output folder, resume state, data. Returns (train, val)."""
    opts.check()
    out = Path(opts.out)
    if resume:
        if not (out / "checkpoint.pt").exists():
            raise InputError(f"{out}: nothing to resume (no checkpoint.pt)")
        _same_run(OperatorOptions.of_run(out), opts)
    elif is_main:
        check_output(out, overwrite)
    data = FieldDataset(resolve_split(opts.data, "train"), "train")
    name = data.attrs.get("problem")
    if name != get_problem(opts.pde).name:
        raise InputError(f"{data.path}: data of problem {name!r}, but problem {opts.pde!r} was asked for")
    try:
        val = FieldDataset(opts.data, "val", normaliser=data.normaliser)
    except InputError:
        val = None  # a data set without a validation split: no validation curve
    return data, val


def train_operator(opts: OperatorOptions, ctx: Context, *, resume: bool = False, overwrite: bool = False,
                   on_progress: Callable | None = None) -> TrainResult:
    """Train (or resume) an operator into ``opts.out``; rank 0 writes, every rank trains."""
    out = Path(opts.out)
    data, val = check_operator_inputs(opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main)
    problem = problem_from_attrs(data.attrs)
    cfg_net = network_config(problem.boundary == "periodic", **opts.net)
    torch.manual_seed(opts.train.seed)  # identical initial weights on every rank
    net = build_operator(cfg_net)
    norm = data.normaliser
    info = OperatorInfo(problem=problem.name, params=dict(problem.params), resolution=data.resolution, task=opts.task,
                        fractions=list(opts.fractions), network=cfg_net,
                        normaliser={"mean_a": norm.mean_a, "std_a": norm.std_a, "mean_u": norm.mean_u,
                                    "std_u": norm.std_u},
                        data={"path": str(Path(opts.data)), "train_file": str(data.path), "n_train": len(data),
                              "seed": data.attrs.get("seed"), "generator_version": data.attrs.get("generator_version")},
                        training={**asdict(opts.train), "parameters": count_parameters(net)})
    prepare_run_folder(out, ctx, asdict(opts), count_parameters(net), resume=resume, overwrite=overwrite,
                       name=OPTIONS)

    share, dev, res = opts.train.batch // max(ctx.world, 1), ctx.device, data.resolution

    def standardised(dataset, idx) -> torch.Tensor:
        return dataset.batch(idx) / norm.sigma_data  # the data set's normalised channels have std sigma_data

    def loss_fn(net, step):
        z = standardised(data, batch_indices(step, opts.train.batch, len(data), opts.train.seed, ctx.rank, ctx.world))
        mask = draw_masks(share, res, opts.task, opts.fractions, mask_generator(0, opts.train.seed, step, ctx.rank))
        z, mask = z.to(dev), mask.to(dev)
        return (net(operator_inputs(z, mask)) - z).pow(2).mean()

    val_z = val_mask = None
    if val is not None and opts.val_samples:
        val_z = standardised(val, torch.arange(min(opts.val_samples, len(val)))).to(dev)
        val_mask = draw_masks(len(val_z), res, opts.task, opts.fractions, mask_generator(1, opts.train.seed)).to(dev)

    @torch.no_grad()
    def evaluate(ema_model, step):
        if val_z is None:
            return {}
        err = (ema_model(operator_inputs(val_z, val_mask)) - val_z).pow(2)
        return {"val_mse": round(float(err.mean()), 6), "val_mse_a": round(float(err[:, 0].mean()), 6),
                "val_mse_u": round(float(err[:, 1].mean()), 6)}

    def export(ema_model, extra):
        info.training = {**info.training, **extra, "n_train": len(data)}
        info.provenance = provenance(asdict(opts))
        save_operator(out / "operator.pt", ema_model, info)

    return train(net, loss_fn, opts.train, out, ctx, evaluate=evaluate, export=export, on_progress=on_progress,
                 resume=resume)


def _time_bar(update: Callable | None, cfg: TrainConfig) -> Callable | None:
    """A training-bar callback whose total is the step the time budget is expected to stop at (so its ETA is
    the time left), when a budget in minutes is set."""
    if update is None or cfg.minutes is None:
        return update

    def timed(step: int, total: int, info: dict) -> None:
        left = max(cfg.minutes * 60 - info["elapsed"], 0.0)
        update(step, min(total, step + round(info["it_s"] * left)), info)

    return timed


def run_operator(opts: OperatorOptions, *, resume: bool = False, overwrite: bool = False,
                 training_bar: Callable | None = None) -> TrainResult | None:
    """Train (or resume) an operator as one process or under torchrun; the result on the main rank, else None.

    Resuming continues with the run's stored options; only the budget (steps, minutes) and the device of
    ``opts`` apply. ``training_bar(label, total)`` is a context manager yielding the progress callback.
    """
    import contextlib

    from .distributed import setup

    if resume and overwrite:
        raise InputError("resume and overwrite exclude each other")
    if resume:
        stored = _same_run(OperatorOptions.of_run(opts.out), opts)
        stored.train.steps, stored.train.minutes, stored.device = opts.train.steps, opts.train.minutes, opts.device
        opts = stored
    ctx = setup(opts.device)
    check_operator_inputs(opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main)
    try:
        bar = training_bar(f"operator {opts.pde} {opts.task}", opts.train.steps) if ctx.is_main and training_bar \
            else contextlib.nullcontext(None)
        with bar as update:
            result = train_operator(opts, ctx, resume=resume, overwrite=overwrite,
                                    on_progress=_time_bar(update, opts.train))
    finally:
        ctx.close()
    return result if ctx.is_main else None
