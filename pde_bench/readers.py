"""Readers for the data formats users already hold, mapped onto :class:`FieldData`.

* PDEBench 2-D Darcy HDF5: ``nu`` (n, nx, ny) = a, ``tensor`` (n, 1, nx, ny) = u,
  ``x-coordinate``, ``y-coordinate``, root attribute ``beta`` (the constant forcing).
* FNO ``.mat`` Darcy (``coeff``, ``sol``) and Navier-Stokes (``a``, ``u`` with a trailing time
  axis, ``t``), MATLAB v5 (scipy.io) or v7.3 (HDF5, every axis stored reversed).
* DiffusionPDE ``.mat`` (``thresh_a_data``/``thresh_p_data`` Darcy, ``f_data``/``phi_data``
  Poisson, ``f_data``/``psi_data`` Helmholtz; ``a``/``u`` Navier-Stokes as FNO) and its
  per-sample ``.npy`` (H, W, 2) training files, whose network-space scalings are undone.
* neuraloperator ``.pt`` Darcy files: a dict with ``x`` (a) and ``y`` (u).

What a format does not carry (Navier-Stokes nu and T, the problem of a ``.npy``) is given as an
option; what a reader cannot understand is a one-line :class:`InputError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .conventions import InputError
from .loading import FieldData
from .problems import get_problem

__all__ = ["read_foreign", "DIFFUSIONPDE_SCALINGS"]

# stored = scale * physical + shift, per DiffusionPDE's training files (REFERENCES.md 3.1)
DIFFUSIONPDE_SCALINGS = {
    "darcy": {"a": (0.2, -1.5), "u": (115.0, -0.9)},
    "poisson": {"a": (1 / 2.15, 0.0), "u": (36.5, 0.0)},
    "helmholtz": {"a": (1 / 2.15, 0.0), "u": (1 / 0.028, 0.0)},
}
_MAT_LAYOUTS = [  # (a key, u key, problem, format name)
    ("thresh_a_data", "thresh_p_data", "darcy", "DiffusionPDE .mat"),
    ("f_data", "phi_data", "poisson", "DiffusionPDE .mat"),
    ("f_data", "psi_data", "helmholtz", "DiffusionPDE .mat"),
    ("coeff", "sol", "darcy", "FNO .mat"),
    ("a", "u", "navier-stokes", "FNO .mat"),
]


def read_foreign(path: Path, problem: str | None = None, stride: int = 1, **params) -> FieldData:
    """Read a foreign data file; ``problem`` where the format does not say, ``params`` for
    physical parameters it does not carry, ``stride`` to subsample (FNO's ``[::r, ::r]``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = _read_diffusionpde_npy(path, problem, params)
    elif suffix == ".pt":
        data = _read_neuraloperator_pt(path, problem, params)
    elif suffix == ".mat":
        data = _read_mat(path, problem, params)
    elif h5py.is_hdf5(path):
        data = _read_pdebench(path, problem, params)
    else:
        raise InputError(f"{path}: unrecognised data file (expected pde_bench/PDEBench .h5, FNO or "
                         "DiffusionPDE .mat, DiffusionPDE .npy, neuraloperator .pt)")
    if stride != 1:
        if int(stride) != stride or stride < 1:
            raise InputError(f"stride must be a positive integer, got {stride!r}")
        data.a, data.u = data.a[:, ::stride, ::stride], data.u[:, ::stride, ::stride]
        data.notes.append(f"subsampled with stride {stride}")
    _check_pair(path, data.a, data.u)
    return data


def _check_pair(path: Path, a: np.ndarray, u: np.ndarray) -> None:
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise InputError(f"{path}: a has shape {a.shape}; expected (n, N, N) on a square grid")
    if a.shape != u.shape:
        raise InputError(f"{path}: a {a.shape} and u {u.shape} have different shapes")


def _problem(path: Path, name: str, params: dict):
    try:
        return get_problem(name, **params)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None


# -- .mat (FNO, DiffusionPDE) --------------------------------------------------------------
def _mat_variables(path: Path) -> dict:
    """Variables of a MATLAB file, v5 (scipy) or v7.3 (HDF5, axes reversed back)."""
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k][...]).T for k in f if not k.startswith("#")
                    and isinstance(f[k], h5py.Dataset)}
    import scipy.io

    try:
        raw = scipy.io.loadmat(path)
    except (ValueError, OSError, NotImplementedError) as err:
        raise InputError(f"{path}: not a readable MATLAB file ({err})") from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def _read_mat(path: Path, problem: str | None, params: dict) -> FieldData:
    variables = _mat_variables(path)
    for a_key, u_key, name, fmt in _MAT_LAYOUTS:
        if a_key in variables and u_key in variables and (problem in (None, name)):
            break
    else:
        raise InputError(f"{path}: no known pair of variables; found {sorted(variables)} (expected "
                         "coeff/sol, a/u, thresh_a_data/thresh_p_data, f_data/phi_data or f_data/psi_data)")
    a = np.asarray(variables[a_key], dtype=np.float64)
    u = np.asarray(variables[u_key], dtype=np.float64)
    notes, traj, times = [], None, None
    if name == "navier-stokes":
        if u.ndim != 4 or a.shape != u.shape[:3]:
            raise InputError(f"{path}: Navier-Stokes u has shape {u.shape}; expected (n, N, N, T) with a {a.shape} "
                             "as (n, N, N)")
        if "t" in variables:
            times = np.asarray(variables["t"], dtype=np.float64).ravel()
        traj, u = u, u[..., -1]
        if "t_final" not in params and times is not None and len(times):
            params = {**params, "t_final": float(times[-1])}
        notes.append(f"nu = {params.get('nu', 1e-3):g} and T = {params.get('t_final', 1.0):g} assumed (the file "
                     "does not store nu; pass --param nu=... --param t_final=... if they differ)")
        notes.append("residual uses pde_bench's own scheme and time step: a foreign solver's data gives "
                     "a non-zero floor")
    return FieldData(a=a, u=u, problem=_problem(path, name, params), attrs={"source_keys": [a_key, u_key]},
                     path=path, format=fmt + (" v7.3" if h5py.is_hdf5(path) else " v5"),
                     trajectory=traj, times=times, notes=notes)


# -- DiffusionPDE .npy ----------------------------------------------------------------------
def _read_diffusionpde_npy(path: Path, problem: str | None, params: dict) -> FieldData:
    if problem not in DIFFUSIONPDE_SCALINGS:
        raise InputError(f"{path}: a DiffusionPDE .npy does not say its problem; pass --problem "
                         f"{' | '.join(DIFFUSIONPDE_SCALINGS)}")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise InputError(f"{path}: not a plain .npy array ({err})") from None
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 2:
        raise InputError(f"{path}: array has shape {arr.shape}; expected (H, W, 2) or (n, H, W, 2)")
    fields = {}
    for i, name in enumerate(("a", "u")):
        scale, shift = DIFFUSIONPDE_SCALINGS[problem][name]
        fields[name] = (arr[..., i].astype(np.float64) - shift) / scale
    return FieldData(a=fields["a"], u=fields["u"], problem=_problem(path, problem, params), attrs={},
                     path=path, format="DiffusionPDE .npy",
                     notes=[f"network-space scalings of DiffusionPDE ({problem}) undone"])


# -- neuraloperator .pt ---------------------------------------------------------------------
def _read_neuraloperator_pt(path: Path, problem: str | None, params: dict) -> FieldData:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise InputError(f"{path}: not a readable torch file ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict) or not {"x", "y"} <= set(obj):
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"{path}: expected a dict with keys 'x' and 'y' (neuraloperator Darcy); found {found}")
    a, u = (np.asarray(torch.as_tensor(obj[k]).to(torch.float64).numpy()) for k in ("x", "y"))
    a, u = (x[:, 0] if x.ndim == 4 and x.shape[1] == 1 else x for x in (a, u))
    notes = ["neuraloperator's shipped y looks normalised (boundary != 0): its residual floor says "
             "little about physics"]
    return FieldData(a=a, u=u, problem=_problem(path, problem or "darcy", params), attrs={}, path=path,
                     format="neuraloperator .pt", notes=notes)


# -- PDEBench HDF5 --------------------------------------------------------------------------
def _read_pdebench(path: Path, problem: str | None, params: dict) -> FieldData:
    with h5py.File(path, "r") as f:
        keys = sorted(f)
        if not {"nu", "tensor"} <= set(keys):
            raise InputError(f"{path}: HDF5 file of unknown layout; found keys {keys} (expected pde_bench "
                             "attributes or PDEBench Darcy 'nu' and 'tensor')")
        a = np.asarray(f["nu"][...], dtype=np.float64)
        u = np.asarray(f["tensor"][...], dtype=np.float64)
        x = np.asarray(f["x-coordinate"][...], dtype=np.float64) if "x-coordinate" in f else None
        y = np.asarray(f["y-coordinate"][...], dtype=np.float64) if "y-coordinate" in f else None
        beta = f.attrs.get("beta")
    if u.ndim == 4 and u.shape[1] == 1:
        u = u[:, 0]
    notes = []
    if beta is None:
        notes.append("no 'beta' attribute: forcing 1 assumed")
        beta = 1.0
    params = {"forcing": float(np.asarray(beta).ravel()[0]), **params}
    grid = "nodes"
    n = a.shape[-1]
    if x is None or y is None:
        grid = "unknown"
        notes.append("no x-coordinate / y-coordinate datasets: grid unknown")
    elif not (np.allclose(x, np.linspace(0, 1, n)) and np.allclose(y, np.linspace(0, 1, n))):
        grid = "cell-centred" if np.allclose(x, (np.arange(n) + 0.5) / n) else "other"
        notes.append(f"coordinates run {x[0]:.4g} .. {x[-1]:.4g}: not the node grid i/(N-1) (boundary included) "
                     "that the Darcy operator expects")
    return FieldData(a=a, u=u, problem=_problem(path, problem or "darcy", params), attrs={"beta": params["forcing"]},
                     path=path, format="PDEBench HDF5", grid=grid, notes=notes)
