"""``pde_bench.load``: any supported data file as one in-memory form, :class:`FieldData`.

Also the checks every reader shares (:func:`read_h5`, :func:`real_array`, :func:`check_finite`):
a malformed file -- truncated, wrong keys, wrong dtypes or ranks, empty or non-finite arrays --
is a one-line :class:`InputError` naming the file and the key, never a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from . import storage
from .conventions import InputError
from .datasets import SPLITS, problem_from_attrs, split_files
from .problems.base import Problem

__all__ = ["FieldData", "load", "resolve_split", "stored_split"]


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


# -- checks shared by every reader -------------------------------------------------------------
# What h5py raises on a truncated or corrupt file (KeyError too: "unable to open object").
H5_ERRORS = (OSError, RuntimeError, ValueError, TypeError, KeyError)


@contextlib.contextmanager
def open_h5(path: Path, what: str = "HDF5 file") -> Iterator[h5py.File]:
    """An HDF5 file opened for reading, or an InputError saying why it cannot be."""
    try:
        f = h5py.File(path, "r")
    except H5_ERRORS as err:
        raise InputError(f"{path}: not a readable {what} ({err})") from None
    with f:
        yield f


def h5_keys(f: h5py.Group, path: Path) -> list[str]:
    try:
        return sorted(f)
    except H5_ERRORS as err:  # a truncated or corrupt file
        raise InputError(f"{path}: cannot list the keys of this HDF5 file ({err})") from None


def read_h5(f: h5py.Group, key: str, path: Path) -> np.ndarray:
    """Dataset ``key`` of an open HDF5 file as a real numeric array (not yet checked for shape)."""
    try:
        obj = f[key]
    except H5_ERRORS as err:
        raise InputError(f"{path}: key {key!r} cannot be opened ({err})") from None
    if not isinstance(obj, h5py.Dataset):
        raise InputError(f"{path}: {key} is an HDF5 {type(obj).__name__.lower()}, expected a dataset (an array)")
    if obj.shape is None:
        raise InputError(f"{path}: {key} is an empty dataset (no shape); expected an array of numbers")
    real_dtype(path, key, obj.dtype)
    try:
        return np.asarray(obj[()])
    except H5_ERRORS as err:  # truncated or corrupt data
        raise InputError(f"{path}: {key} cannot be read ({err})") from None


def real_dtype(path: Path, key: str, dtype: np.dtype) -> None:
    """Reject complex, string, object and compound dtypes: data are real numbers."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        raise InputError(f"{path}: {key} holds complex numbers ({dtype}); expected real numbers")
    if kind not in "biuf" or np.dtype(dtype).shape:
        raise InputError(f"{path}: {key} has dtype {dtype}; expected real numbers (int or float)")


def real_array(path: Path, key: str, value) -> np.ndarray:
    """``value`` as a float64 array, after checking it holds real numbers."""
    if not isinstance(value, np.ndarray):
        raise InputError(f"{path}: {key} is a {type(value).__name__}; expected an array of numbers")
    real_dtype(path, key, value.dtype)
    return value.astype(np.float64)


def check_finite(path: Path, key: str, arr: np.ndarray, *, where: np.ndarray | None = None,
                 bound: float | None = None, what: str = "values", samples: bool = True) -> None:
    """Finite (and ``|v| < bound``) values of ``arr`` (at ``where``), else an error naming the first bad one.

    ``samples``: the first axis of ``arr`` is the sample axis (named so in the message).
    """
    ok = np.isfinite(arr)
    if bound is not None:
        with np.errstate(invalid="ignore"):
            ok &= np.abs(arr) < bound
    if where is not None:
        ok |= ~where
    if ok.all():
        return
    index = np.unravel_index(int(np.argmin(ok)), arr.shape)
    if samples and len(index) > 0:
        at = f"sample {index[0]}" + (f", index {tuple(int(i) for i in index[1:])}" if len(index) > 1 else "")
    else:
        at = f"index {tuple(int(i) for i in index)}"
    expected = "finite" + (f" with magnitude < {bound:g}" if bound is not None else "")
    subject = f"{path}: {key}" if key else str(path)
    raise InputError(f"{subject} has {arr[index].item()!r} at {at}; {what} must be {expected}")


def check_fields(path: Path, a: np.ndarray, u: np.ndarray, keys: tuple[str, str] = ("a", "u")) -> None:
    """a and u both (n, N, N) with n, N >= 1, on a square grid, finite."""
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise InputError(f"{path}: {keys[0]} has shape {a.shape}; expected (n, N, N) on a square grid")
    if a.shape != u.shape:
        raise InputError(f"{path}: {keys[0]} {a.shape} and {keys[1]} {u.shape} have different shapes")
    if a.size == 0:
        raise InputError(f"{path}: {keys[0]} and {keys[1]} are empty (shape {a.shape}); expected n >= 1 samples "
                         "on an N x N grid with N >= 1")
    check_finite(path, keys[0], a)
    check_finite(path, keys[1], u)


# -- splits ------------------------------------------------------------------------------------
def stored_split(path: Path) -> str | None:
    """The split a pde_bench file records in its ``split`` attribute; None for other files."""
    if not is_own_format(path):
        return None
    attrs = _own_attrs(path)
    split = attrs.get("split")
    return split if isinstance(split, str) else None


def resolve_split(path: str | Path, split: str | None = None) -> Path:
    """A data-set folder and a split name -> the split's file; a file is returned as it is.

    ``split`` None means "train" for a folder and "whatever the file holds" for a file. A
    split asked of a file is checked against the split the file records (pde_bench files record
    it in their ``split`` attribute): asking for the test split of a training file is an
    :class:`InputError` naming the split the file holds. Foreign files (PDEBench, FNO,
    DiffusionPDE, neuraloperator) record no split; they are accepted for any asked split, as
    they always were, and :func:`load` adds a note that the split could not be checked.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        split = "train" if split is None else split
        if split not in SPLITS:
            raise InputError(f"{path}: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        files = split_files(path)
        if split not in files:
            raise InputError(f"{path}: no {split} split ({path.name}-{split}.h5) in this folder")
        path = files[split]
    if split is not None:
        stored = stored_split(path)
        if split != stored and split not in SPLITS:
            raise InputError(f"{path}: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        if stored is not None and stored != split:
            raise InputError(f"{path}: this file holds the {stored!r} split, not the {split!r} split asked for; "
                             f"give the data-set folder or its {split} file")
    return path


# -- loading -----------------------------------------------------------------------------------
def load(path: str | Path, split: str | None = None, **options) -> FieldData:
    """Load a data file (or a split of a data-set folder) of any supported format.

    ``split`` picks the split of a data-set folder (default train); for a single file it is
    checked against the split the file records (see :func:`resolve_split`), None takes the
    file as it is. ``options`` are physical parameters that foreign files do not carry (e.g.
    ``nu``, ``t_final`` for FNO Navier-Stokes, ``problem`` where the format does not say).
    Any malformed file is a one-line :class:`InputError` naming the file and the key.
    """
    path = resolve_split(path, split)
    if is_own_format(path):
        if options:
            raise InputError(f"{path}: pde_bench files carry their parameters; unexpected {sorted(options)}")
        return _load_own(path)
    from .readers import read_foreign

    data = read_foreign(path, **options)
    if split is not None:
        data.notes.append(f"the file records no split: taken as the {split!r} split asked for, unchecked")
    return data


def is_own_format(path: Path) -> bool:
    """Whether ``path`` is a pde_bench file (an unreadable ``format`` attribute: not one)."""
    try:
        return storage.is_own_format(path)
    except H5_ERRORS:  # a corrupt file: whichever reader takes it says what is wrong
        return False


def _own_attrs(path: Path) -> dict:
    try:
        return storage.read_attrs(path)
    except H5_ERRORS as err:  # UnicodeDecodeError is a ValueError
        raise InputError(f"{path}: cannot read the attributes of this pde_bench file ({err})") from None


def _load_own(path: Path) -> FieldData:
    attrs = _own_attrs(path)
    name = attrs.get("problem")
    if not isinstance(name, str):
        raise InputError(f"{path}: attribute 'problem' is {name!r}; expected a problem name (pde_bench file)")
    try:
        problem = problem_from_attrs(attrs)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None
    with open_h5(path, "pde_bench file") as f:
        keys = h5_keys(f, path)
        missing = [k for k in ("a", "u") if k not in keys]
        if missing:
            raise InputError(f"{path}: pde_bench file without {' and '.join(missing)} (found keys {keys})")
        a, u = read_h5(f, "a", path), read_h5(f, "u", path)
        traj = read_h5(f, "trajectory", path) if "trajectory" in keys else None
        times = read_h5(f, "t", path) if "t" in keys else None
    check_fields(path, a, u)
    if traj is not None:
        if traj.ndim != 4 or traj.shape[:3] != a.shape or traj.shape[3] < 1:
            raise InputError(f"{path}: trajectory has shape {traj.shape}; expected {(*a.shape, 'T')} with T >= 1")
        check_finite(path, "trajectory", traj)
    if times is not None:
        expected = (traj.shape[3],) if traj is not None else None
        if times.ndim != 1 or (expected is not None and times.shape != expected):
            raise InputError(f"{path}: t has shape {times.shape}; expected one time per trajectory step "
                             f"{expected or '(T,)'}")
        check_finite(path, "t", times, samples=False)
    return FieldData(a=a, u=u, problem=problem, attrs=attrs, path=path,
                     format=storage.FORMAT, trajectory=traj, times=times)


def stored_stats(attrs: dict, path: Path) -> dict:
    """Normalisation statistics of a file's attributes, or a clear error when missing."""
    keys = ("norm_mean_a", "norm_std_a", "norm_mean_u", "norm_std_u", "residual_scale")
    missing = [k for k in keys if k not in attrs]
    if missing:
        raise InputError(f"{path}: no normalisation statistics ({', '.join(missing)} missing); "
                         "generate the data set with `piddm data generate` or merge its shards")
    stats = {}
    for k in keys:
        try:
            stats[k] = float(np.asarray(attrs[k], dtype=np.float64).reshape(()))
        except (TypeError, ValueError):
            raise InputError(f"{path}: attribute {k} is {attrs[k]!r}; expected one number") from None
        if not np.isfinite(stats[k]) or (k.startswith(("norm_std", "residual")) and stats[k] <= 0):
            raise InputError(f"{path}: attribute {k} is {stats[k]!r}; expected a finite "
                             f"{'positive ' if k.startswith(('norm_std', 'residual')) else ''}number")
    return stats
