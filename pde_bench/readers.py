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
option; what a reader cannot understand -- a truncated file, missing keys, wrong dtypes (complex,
strings, compound), wrong ranks, empty or non-finite arrays -- is a one-line :class:`InputError`
naming the file and the key. Every reader returns finite float64 arrays.
"""

from __future__ import annotations

import operator
from pathlib import Path

import h5py
import numpy as np

from .conventions import InputError
from .loading import H5_ERRORS, FieldData, check_fields, check_finite, h5_keys, open_h5, read_h5, real_array
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
    stride = _check_stride(stride)
    if problem is not None and not isinstance(problem, str):
        raise InputError(f"problem must be a problem name, got {problem!r}")
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
        data.a, data.u = data.a[:, ::stride, ::stride], data.u[:, ::stride, ::stride]
        if data.trajectory is not None:
            data.trajectory = data.trajectory[:, ::stride, ::stride]
        data.notes.append(f"subsampled with stride {stride}")
    _check_pair(path, data.a, data.u)
    return data


def _check_stride(stride) -> int:
    try:
        value = operator.index(stride)
    except TypeError:
        value = None
        if isinstance(stride, float) and stride.is_integer():
            value = int(stride)
    if value is None or isinstance(stride, bool) or value < 1:
        raise InputError(f"stride must be a positive integer, got {stride!r}")
    return value


def _check_pair(path: Path, a: np.ndarray, u: np.ndarray, keys: tuple[str, str] = ("a", "u")) -> None:
    check_fields(path, a, u, keys)


def _problem(path: Path, name: str, params: dict):
    try:
        return get_problem(name, **params)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None


# -- .mat (FNO, DiffusionPDE) --------------------------------------------------------------
def _mat_variables(path: Path, wanted: list[str] | None = None) -> tuple[list[str], dict, bool]:
    """(names, arrays, v7.3?) of a MATLAB file, v5 (scipy) or v7.3 (HDF5, axes reversed back).

    v7.3: only the datasets named in ``wanted`` (when they exist) are read.
    """
    if h5py.is_hdf5(path):
        with open_h5(path, "MATLAB v7.3 (HDF5) file") as f:
            names = [k for k in h5_keys(f, path) if not k.startswith("#")]
            if wanted is None:
                return names, {}, True
            return names, {k: read_h5(f, k, path).T for k in wanted if k in names}, True
    import scipy.io

    try:
        raw = scipy.io.loadmat(path)
    except Exception as err:  # noqa: BLE001 - scipy raises many types on a truncated or foreign file
        raise InputError(f"{path}: not a readable MATLAB file ({type(err).__name__}: {err})") from None
    variables = {k: v for k, v in raw.items() if not k.startswith("__")}
    return sorted(variables), variables, False


def _mat_array(path: Path, variables: dict, key: str) -> np.ndarray:
    return real_array(path, key, variables[key])


def _read_mat(path: Path, problem: str | None, params: dict) -> FieldData:
    names, variables, v73 = _mat_variables(path)
    for a_key, u_key, name, fmt in _MAT_LAYOUTS:
        if a_key in names and u_key in names and (problem in (None, name)):
            break
    else:
        raise InputError(f"{path}: no known pair of variables; found {names} (expected "
                         "coeff/sol, a/u, thresh_a_data/thresh_p_data, f_data/phi_data or f_data/psi_data)")
    if v73:
        _, variables, _ = _mat_variables(path, [a_key, u_key, "t"])
    a = _mat_array(path, variables, a_key)
    u = _mat_array(path, variables, u_key)
    notes, traj, times = [], None, None
    if name == "navier-stokes":
        if u.ndim != 4 or a.shape != u.shape[:3] or u.shape[3] < 1:
            raise InputError(f"{path}: Navier-Stokes u has shape {u.shape}; expected (n, N, N, T) with a {a.shape} "
                             "as (n, N, N)")
        if "t" in variables:
            times = _mat_array(path, variables, "t").ravel()
            if times.size != u.shape[3]:
                raise InputError(f"{path}: t holds {times.size} times but u has {u.shape[3]} time steps")
            check_finite(path, "t", times, samples=False)
        check_finite(path, u_key, u)
        traj, u = u, u[..., -1]
        if "t_final" not in params and times is not None and len(times):
            params = {**params, "t_final": float(times[-1])}
        notes.append(f"nu = {params.get('nu', 1e-3):g} and T = {params.get('t_final', 1.0):g} assumed (the file "
                     "does not store nu; give the parameters nu and t_final if they differ)")
        notes.append("residual uses pde_bench's own scheme and time step: a foreign solver's data gives "
                     "a non-zero floor")
    _check_pair(path, a, u, (a_key, u_key))
    return FieldData(a=a, u=u, problem=_problem(path, name, params), attrs={"source_keys": [a_key, u_key]},
                     path=path, format=fmt + (" v7.3" if v73 else " v5"),
                     trajectory=traj, times=times, notes=notes)


# -- DiffusionPDE .npy ----------------------------------------------------------------------
def _read_diffusionpde_npy(path: Path, problem: str | None, params: dict) -> FieldData:
    if problem not in DIFFUSIONPDE_SCALINGS:
        raise InputError(f"{path}: a DiffusionPDE .npy does not say its problem; give problem = "
                         f"{' | '.join(DIFFUSIONPDE_SCALINGS)}, got {problem!r}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - a corrupt header raises ValueError, SyntaxError, TokenError...
        raise InputError(f"{path}: not a plain .npy array ({type(err).__name__}: {err})") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive under an .npy name
        raise InputError(f"{path}: not a plain .npy array (found {type(arr).__name__})")
    arr = real_array(path, "array", arr)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 2:
        raise InputError(f"{path}: array has shape {arr.shape}; expected (H, W, 2) or (n, H, W, 2)")
    fields = {}
    for i, name in enumerate(("a", "u")):
        scale, shift = DIFFUSIONPDE_SCALINGS[problem][name]
        check_finite(path, f"array[..., {i}] ({name})", arr[..., i])
        with np.errstate(over="ignore"):
            fields[name] = (arr[..., i] - shift) / scale
    _check_pair(path, fields["a"], fields["u"], ("array[..., 0] (a)", "array[..., 1] (u)"))
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
        found = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"{path}: expected a dict with keys 'x' and 'y' (neuraloperator Darcy); found {found}")
    fields = []
    for key in ("x", "y"):
        value = obj[key]
        if isinstance(value, torch.Tensor):
            if value.is_complex():
                raise InputError(f"{path}: {key} holds complex numbers ({value.dtype}); expected real numbers")
            try:
                value = value.detach().cpu().to(torch.float64).numpy()
            except (RuntimeError, TypeError) as err:
                raise InputError(f"{path}: {key} has dtype {value.dtype}; expected real numbers ({err})") from None
        x = real_array(path, key, value)
        fields.append(x[:, 0] if x.ndim == 4 and x.shape[1] == 1 else x)
    a, u = fields
    _check_pair(path, a, u, ("x", "y"))
    notes = ["neuraloperator's shipped y looks normalised (boundary != 0): its residual floor says "
             "little about physics"]
    return FieldData(a=a, u=u, problem=_problem(path, problem or "darcy", params), attrs={}, path=path,
                     format="neuraloperator .pt", notes=notes)


# -- PDEBench HDF5 --------------------------------------------------------------------------
def _read_pdebench(path: Path, problem: str | None, params: dict) -> FieldData:
    with open_h5(path, "HDF5 file") as f:
        keys = h5_keys(f, path)
        if not {"nu", "tensor"} <= set(keys):
            raise InputError(f"{path}: HDF5 file of unknown layout; found keys {keys} (expected pde_bench "
                             "attributes or PDEBench Darcy 'nu' and 'tensor')")
        a = real_array(path, "nu", read_h5(f, "nu", path))
        u = real_array(path, "tensor", read_h5(f, "tensor", path))
        x = real_array(path, "x-coordinate", read_h5(f, "x-coordinate", path)) if "x-coordinate" in keys else None
        y = real_array(path, "y-coordinate", read_h5(f, "y-coordinate", path)) if "y-coordinate" in keys else None
        try:
            beta = f.attrs.get("beta")
        except H5_ERRORS as err:
            raise InputError(f"{path}: attribute beta cannot be read ({err})") from None
    if u.ndim == 4 and u.shape[1] == 1:
        u = u[:, 0]
    _check_pair(path, a, u, ("nu", "tensor"))
    notes = []
    if beta is None:
        notes.append("no 'beta' attribute: forcing 1 assumed")
        beta = 1.0
    beta_arr = np.asarray(beta)
    if beta_arr.dtype.kind not in "biuf" or beta_arr.size != 1 or not np.isfinite(beta_arr.astype(np.float64)).all():
        raise InputError(f"{path}: attribute beta is {beta!r}; expected one finite number (the forcing)")
    params = {"forcing": float(beta_arr.ravel()[0]), **params}
    grid = "nodes"
    n = a.shape[-1]
    if x is None or y is None:
        grid = "unknown"
        notes.append("no x-coordinate / y-coordinate datasets: grid unknown")
    else:
        for key, c in (("x-coordinate", x), ("y-coordinate", y)):
            if c.shape != (n,):
                raise InputError(f"{path}: {key} has shape {c.shape}; expected ({n},), one coordinate per grid point")
            check_finite(path, key, c, what="coordinates", samples=False)
        if not (np.allclose(x, np.linspace(0, 1, n)) and np.allclose(y, np.linspace(0, 1, n))):
            grid = "cell-centred" if np.allclose(x, (np.arange(n) + 0.5) / n) else "other"
            notes.append(f"coordinates run {x[0]:.4g} .. {x[-1]:.4g}: not the node grid i/(N-1) (boundary "
                         "included) that the Darcy operator expects")
    return FieldData(a=a, u=u, problem=_problem(path, problem or "darcy", params), attrs={"beta": params["forcing"]},
                     path=path, format="PDEBench HDF5", grid=grid, notes=notes)
