"""A solve's solution file: fields, members' spread, observations, truth and per-sample metrics as netCDF-4."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pde_bench.conventions import atomic_output

__all__ = ["write_solution"]


def write_solution(path: Path, problem, result, obs, truth: dict[str, np.ndarray], metrics: dict[str, np.ndarray],
                   sample_ids: np.ndarray, attrs: dict, *, overwrite: bool = False) -> Path:
    """The solution as netCDF-4 (h5netcdf): fields (sample, x, y) in physical units, members (sample, member,
    x, y), metrics (sample,), the loss history (sample, iteration); ``attrs`` as global attributes."""
    import xarray as xr

    res = result.u.shape[-1]
    coords = {"sample": np.asarray(sample_ids), "member": np.arange(result.members),
              "x": problem.coordinates(res), "y": problem.coordinates(res)}
    dims = ("sample", "x", "y")
    data = {"a": (dims, result.a), "u": (dims, result.u), "a_std": (dims, result.a_std), "u_std": (dims, result.u_std),
            "a_best": (dims, result.a_best), "u_best": (dims, result.u_best),
            "a_members": (("sample", "member", "x", "y"), result.a_members),
            "u_members": (("sample", "member", "x", "y"), result.u_members),
            "mask_a": (dims, obs.mask[:, 0].astype(np.uint8)), "mask_u": (dims, obs.mask[:, 1].astype(np.uint8)),
            "obs_a": (dims, np.where(obs.mask[:, 0], obs.values[:, 0], np.nan)),
            "obs_u": (dims, np.where(obs.mask[:, 1], obs.values[:, 1], np.nan)),
            "loss": (("sample", "iteration"), result.loss)}
    for ch in ("a", "u"):
        if ch in truth:
            data[f"{ch}_true"] = (dims, truth[ch])
    for k, v in metrics.items():
        data[k] = (("sample",), v)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in attrs.items()})
    with atomic_output(Path(path), overwrite=overwrite) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)
