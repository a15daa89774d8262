"""``pde_bench.load``: any supported data file as one in-memory form, :class:`FieldData`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from . import storage
from .conventions import InputError
from .datasets import SPLITS, problem_from_attrs, split_files
from .problems.base import Problem

__all__ = ["FieldData", "load", "resolve_split"]


@dataclass
class FieldData:
    """Inputs ``a`` and solutions ``u`` (n, N, N) in physical units, with what is known of them.

    ``problem`` is the problem (with parameters) the data belong to; ``grid`` says whether the
    arrays sit on the nodes our residual operator expects (``"nodes"``) or on another grid
    (then residual floors are not meaningful); ``notes`` lists what a reader could not
    understand or had to assume.
    """

    a: np.ndarray
    u: np.ndarray
    problem: Problem
    attrs: dict
    path: Path
    format: str
    trajectory: np.ndarray | None = None
    times: np.ndarray | None = None
    grid: str = "nodes"
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.a)


def resolve_split(path: str | Path, split: str = "train") -> Path:
    """A data-set folder and a split name -> the split's file; a file is returned as it is."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        files = split_files(path)
        if split not in files:
            raise InputError(f"{path}: no {split} split ({path.name}-{split}.h5) in this folder")
        return files[split]
    return path


def load(path: str | Path, split: str = "train", **options) -> FieldData:
    """Load a data file (or a split of a data-set folder) of any supported format.

    ``options`` are physical parameters that foreign files do not carry (e.g. ``nu``,
    ``t_final`` for FNO Navier-Stokes, ``problem`` where the format does not say).
    """
    path = resolve_split(path, split)
    if storage.is_own_format(path):
        if options:
            raise InputError(f"{path}: pde_bench files carry their parameters; unexpected {sorted(options)}")
        return _load_own(path)
    from .readers import read_foreign

    return read_foreign(path, **options)


def _load_own(path: Path) -> FieldData:
    attrs = storage.read_attrs(path)
    with h5py.File(path, "r") as f:
        a, u = f["a"][...], f["u"][...]
        traj = f["trajectory"][...] if "trajectory" in f else None
        times = f["t"][...] if "t" in f else None
    if a.ndim != 3 or a.shape != u.shape:
        raise InputError(f"{path}: variables a {a.shape} and u {u.shape} must both be (n, N, N)")
    return FieldData(a=a, u=u, problem=problem_from_attrs(attrs), attrs=attrs, path=path,
                     format=storage.FORMAT, trajectory=traj, times=times)


def stored_stats(attrs: dict, path: Path) -> dict:
    """Normalisation statistics of a file's attributes, or a clear error when missing."""
    keys = ("norm_mean_a", "norm_std_a", "norm_mean_u", "norm_std_u", "residual_scale")
    missing = [k for k in keys if k not in attrs]
    if missing:
        raise InputError(f"{path}: no normalisation statistics ({', '.join(missing)} missing); "
                         "generate the data set with `piddm data generate` or merge its shards")
    return {k: float(np.asarray(attrs[k])) for k in keys}
