"""The supervised neural operator: an FNO from partial observations of (a, u) to both fields.

The learned baseline DiffusionPDE compares against, trained per (problem, task) on the training
split (:mod:`piddm.operator_training`). Its input is four channels -- a's observed values (0 off
the mask), a's mask, u's observed values, u's mask -- and its output the two fields; values in
and out are standardised per channel with the training split's mean and std (the statistics
every split file stores, the same as the teacher's normaliser). A task fixes which channels are
observed (forward: a, inverse: u, reconstruction: both at one fraction); the observed fraction
of each sample is one of the task's ``fractions``, so one model serves a whole fraction sweep.

Training masks come from their own random stream (:data:`TRAIN_MASK_STREAM`), apart from the
evaluation masks (:data:`piddm.solve.observation.MASK_STREAM`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pde_bench.conventions import InputError

from .files import atomic_torch_save, load_tensor_state, tensor_state

__all__ = ["DEFAULT_FRACTIONS", "NETWORK", "OBSERVED", "TRAIN_MASK_STREAM", "LoadedOperator", "OperatorInfo",
           "build_operator", "default_path", "draw_masks", "load_operator", "mask_generator",
           "network_config", "operator_inputs", "save_operator"]

FORMAT = "piddm-model/1"
KIND = "operator"
OBSERVED = {"forward": (0,), "inverse": (1,), "reconstruction": (0, 1)}  # channels observed by each task
DEFAULT_FRACTIONS = (0.01, 0.03, 0.10, 0.30)  # the fraction sweep of the comparisons: one model serves it
NETWORK = {"modes": 12, "width": 32, "layers": 4}  # Li et al.'s 2D FNO (neuraloperator's defaults for it)
TRAIN_MASK_STREAM = 0x6F706D6B  # "opmk": training masks, never the evaluation masks' stream


@dataclass
class OperatorInfo:
    """What an operator file says about itself besides its weights."""

    problem: str
    params: dict
    resolution: int
    task: str
    fractions: list
    normaliser: dict  # per channel mean / std of the training split (physical units)
    network: dict
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)


@dataclass
class LoadedOperator:
    net: nn.Module
    info: OperatorInfo
    path: Path

    def standardiser(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel (mean, std) tensors (2, 1, 1) of the training split."""
        n = self.info.normaliser
        mean = torch.tensor([n["mean_a"], n["mean_u"]], dtype=like.dtype, device=like.device)[:, None, None]
        std = torch.tensor([n["std_a"], n["std_u"]], dtype=like.dtype, device=like.device)[:, None, None]
        return mean, std


def network_config(periodic: bool, **overrides) -> dict:
    """The FNO config: :data:`NETWORK` with overrides; non-periodic problems pad the domain (FFT wrap-around)."""
    cfg = {**NETWORK, **overrides}
    cfg.setdefault("domain_padding", None if periodic else 0.25)
    return cfg


def build_operator(config: dict) -> nn.Module:
    """A fresh FNO with 4 input channels (values and masks of a and u) and 2 outputs (a, u)."""
    from neuralop.models import FNO  # heavy import, only when an operator is built

    return FNO(n_modes=(config["modes"], config["modes"]), in_channels=4, out_channels=2,
               hidden_channels=config["width"], n_layers=config["layers"], domain_padding=config["domain_padding"])


def operator_inputs(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Standardised fields z (B, 2, N, N) seen through masks (B, 2, N, N) -> the inputs (B, 4, N, N):
    [a observed (0 off the mask), mask_a, u observed, mask_u]."""
    m = mask.to(z.dtype)
    seen = torch.where(mask, z, torch.zeros_like(z))
    return torch.stack([seen[:, 0], m[:, 0], seen[:, 1], m[:, 1]], dim=1)


def draw_masks(batch: int, resolution: int, task: str, fractions, generator: torch.Generator) -> torch.Tensor:
    """Training masks (batch, 2, N, N) bool: per sample a fraction drawn from ``fractions``, that share of
    the pixels (at least one, as :class:`piddm.solve.observation.ObserveSpec` counts) of each channel the
    task observes, drawn independently per channel."""
    total = resolution * resolution
    frac = torch.as_tensor(list(fractions), dtype=torch.float64)
    pick = frac[torch.randint(len(frac), (batch,), generator=generator)]
    k = (pick * total).round().clamp(1, total).long()
    mask = torch.zeros(batch, 2, total, dtype=torch.bool)
    for c in OBSERVED[task]:
        rank = torch.rand(batch, total, generator=generator).argsort(1).argsort(1)
        mask[:, c] = rank < k[:, None]
    return mask.reshape(batch, 2, resolution, resolution)


def mask_generator(*key: int) -> torch.Generator:
    """A torch generator for masks keyed by integers, seeded from numpy's ``SeedSequence([TRAIN_MASK_STREAM, *key])``
    (training: key (0, seed, step, rank); validation: (1, seed))."""
    state = np.random.SeedSequence([TRAIN_MASK_STREAM, *map(int, key)]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def default_path(problem: str, task: str) -> Path:
    """Where ``piddm train-operator`` puts a (problem, task) operator by default."""
    return Path("runs") / f"{problem}-operator-{task}" / "operator.pt"


def save_operator(path: Path, net: nn.Module, info: OperatorInfo) -> None:
    atomic_torch_save({"format": FORMAT, "kind": KIND, **asdict(info), "state": tensor_state(net)}, Path(path))


def load_operator(path: Path | str, device: torch.device | str = "cpu") -> LoadedOperator:
    """An operator file (or a run folder holding ``operator.pt``), ready to call (eval mode, no gradients)."""
    from .models import resolve_model_path

    path = resolve_model_path(path, KIND)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
        raise InputError(f"{path}: not a readable model file ({type(err).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(f"{path}: not a piddm model file (format {FORMAT!r} expected)")
    if blob.get("kind") != KIND:
        raise InputError(f"{path}: is a {blob.get('kind')} file, an {KIND} was expected")
    info = OperatorInfo(**{k: blob[k] for k in OperatorInfo.__dataclass_fields__})
    net = build_operator(info.network)
    try:
        load_tensor_state(net, blob["state"])
    except RuntimeError as err:
        raise InputError(f"{path}: weights do not fit the FNO it names ({str(err).splitlines()[0]})") from None
    return LoadedOperator(net.to(device).eval().requires_grad_(False), info, path)
