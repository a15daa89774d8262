"""A plain-text description of a data file: what ``piddm data inspect`` prints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .loading import FieldData, load
from .metrics import normalised_residual

__all__ = ["residual_floor", "describe_file"]


def residual_floor(data: FieldData, samples: int = 64) -> dict:
    """Normalised residual (float64) of the first ``samples`` ground-truth pairs, and its scale.

    The scale is the one stored with the data set (DESIGN.md rule 3) when there is one, else
    the residual scale of the file's own arrays (said so in ``scale_source``).
    """
    prob = data.problem
    n = min(samples, len(data))
    a = torch.as_tensor(np.asarray(data.a[:n], dtype=np.float64))
    u = torch.as_tensor(np.asarray(data.u[:n], dtype=np.float64))
    if "residual_scale" in data.attrs:
        scale, source = float(data.attrs["residual_scale"]), "stored with the data set"
    else:
        scale, source = float(prob.residual_scale(data.a, data.u)), "computed from this file"
    nr = normalised_residual(prob.residual(a, u), scale)
    out = {"samples": n, "scale": scale, "scale_source": source,
           "mean": float(nr.mean()), "median": float(nr.median()), "max": float(nr.max())}
    if prob.boundary == "dirichlet":
        out["bc_rms"] = float(prob.boundary_residual(u).pow(2).mean().sqrt())
    return out


def describe_file(path: str | Path, samples: int = 64, **options) -> str:
    data = load(path, **options)
    attrs = data.attrs
    n, res = data.a.shape[0], data.a.shape[-1]
    lines = [f"{data.path}",
             f"  format      {data.format}",
             f"  problem     {data.problem.name}  ({data.problem.equation})",
             f"  parameters  {', '.join(f'{k}={v:g}' for k, v in data.problem.params.items())}",
             f"  split       {attrs.get('split', 'unknown')}   seed {attrs.get('seed', 'unknown')}",
             f"  samples     {n}   grid {res}x{res} ({data.grid})   dtype {data.a.dtype}"]
    if data.trajectory is not None:
        times = "not stored" if data.times is None else np.round(data.times, 6).tolist()
        lines.append(f"  trajectory  {data.trajectory.shape}  times {times}")
    for name, arr in (("a", data.a), ("u", data.u)):
        lines.append(f"  {name:11s} min {arr.min():.4g}  max {arr.max():.4g}  mean {arr.mean():.4g}  "
                     f"std {arr.std():.4g}")
    if "norm_mean_a" in attrs:
        lines.append(f"  normalise   a: mean {attrs['norm_mean_a']:.4g} std {attrs['norm_std_a']:.4g}; "
                     f"u: mean {attrs['norm_mean_u']:.4g} std {attrs['norm_std_u']:.4g} -> std "
                     f"{attrs.get('sigma_data', 0.5)} (from {attrs.get('statistics_from', '?')})")
    for note in data.notes:
        lines.append(f"  note        {note}")
    if data.grid != "nodes":
        lines.append("  residual    not measured: the arrays are not on the node grid our operator uses")
    else:
        fl = residual_floor(data, samples)
        whose = "generated-sample" if attrs.get("split") == "samples" else "ground-truth"
        text = (f"  residual    {whose} normalised residual over {fl['samples']} samples: mean "
                f"{fl['mean']:.3e}, median {fl['median']:.3e}, max {fl['max']:.3e} (scale {fl['scale']:.4g}, "
                f"{fl['scale_source']})")
        if "bc_rms" in fl:
            text += f"; boundary RMS {fl['bc_rms']:.3e}"
        lines.append(text)
    return "\n".join(lines)
