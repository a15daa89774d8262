"""pde_bench's own data file: HDF5 that is also valid netCDF-4 (DESIGN.md "Data format").

One file per split. Dimensions ``sample, x, y`` (plus ``t`` for a trajectory); variables ``a``
and ``u`` (sample, x, y), ``x`` and ``y`` coordinates, ``sample`` (the coordinate: index of each
sample in its seed stream) and, for Navier-Stokes, ``trajectory`` (sample, x, y, t) with
coordinate ``t``. Attributes: problem and physical parameters, boundary conditions,
resolution, seed, stream, split, generator version, provenance (JSON), and the normalisation
statistics and residual scale computed on the training split. Readable by h5py alone and by
``xarray.open_dataset(path, engine="h5netcdf")``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5netcdf
import h5py
import numpy as np

from .conventions import InputError

__all__ = ["FORMAT", "SIGMA_DATA", "create", "is_own_format", "read_attrs", "norm_stats", "write_fields"]

FORMAT = "pde_bench/1"
SIGMA_DATA = 0.5  # the EDM convention: each channel normalised to mean 0, std 0.5
STAT_BLOCK = 256  # fixed block size for reading statistics, so every code path sums alike


def create(path: Path, *, n: int, coords: np.ndarray, attrs: dict, dtype: str,
           times: np.ndarray | None = None) -> h5netcdf.File:
    """Open a new file at ``path`` with every dimension and variable allocated (to be filled)."""
    f = h5netcdf.File(path, "w")
    res = len(coords)
    dims = {"sample": n, "x": res, "y": res}
    if times is not None:
        dims["t"] = len(times)
    f.dimensions = dims
    for name in ("x", "y"):
        v = f.create_variable(name, (name,), "f8")
        v[:] = coords
        v.attrs["units"] = "1 (unit square)"
    if times is not None:
        v = f.create_variable("t", ("t",), "f8")
        v[:] = times
    f.create_variable("sample", ("sample",), "i8")
    # contiguous, uncompressed layout: readers can memory-map the arrays (see torch_data)
    for name in ("a", "u"):
        f.create_variable(name, ("sample", "x", "y"), dtype)
    if times is not None:
        f.create_variable("trajectory", ("sample", "x", "y", "t"), dtype)
    for key, value in attrs.items():
        f.attrs[key] = _attr(value)
    return f


def _attr(value):
    if isinstance(value, (dict, list, tuple)) or value is None:
        return json.dumps(value)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return value


def is_own_format(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") in (FORMAT, FORMAT.encode())
    except OSError:
        return False


def read_attrs(path: Path) -> dict:
    """Root attributes as Python values (strings decoded)."""
    with h5py.File(path, "r") as f:
        return {k: _py(v) for k, v in f.attrs.items() if not k.startswith("_")}


def _py(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def norm_stats(path: Path) -> dict:
    """Per-channel mean and std of ``a`` and ``u`` in a file, read in fixed blocks (float64)."""
    out = {}
    with h5py.File(path, "r") as f:
        for name in ("a", "u"):
            ds = f[name]
            total, total_sq, count = 0.0, 0.0, 0
            for i in range(0, ds.shape[0], STAT_BLOCK):
                block = ds[i:i + STAT_BLOCK].astype(np.float64)
                total += block.sum()
                total_sq += np.square(block).sum()
                count += block.size
            mean = total / count
            std = float(np.sqrt(max(total_sq / count - mean**2, 0.0)))
            if not std > 0:
                raise InputError(f"{path}: channel {name!r} is constant; cannot normalise it")
            out[f"norm_mean_{name}"] = float(mean)
            out[f"norm_std_{name}"] = std
    return out


def write_fields(path: Path, a: np.ndarray, u: np.ndarray, coords: np.ndarray, attrs: dict,
                 dtype: str = "float32") -> None:
    """Write arrays (n, N, N) of a and u as one file of this format (e.g. generated samples).

    The caller makes it atomic (write to a temporary name, see conventions.atomic_output).
    """
    a, u = np.asarray(a), np.asarray(u)
    if a.ndim != 3 or a.shape != u.shape or a.shape[-1] != len(coords):
        raise InputError(f"{path}: a {a.shape} and u {u.shape} must both be (n, {len(coords)}, {len(coords)})")
    with create(Path(path), n=len(a), coords=coords, attrs={"format": FORMAT, **attrs}, dtype=dtype) as f:
        f.variables["sample"][:] = np.arange(len(a))
        f.variables["a"][:] = a.astype(dtype)
        f.variables["u"][:] = u.astype(dtype)
