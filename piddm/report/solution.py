"""What a solve reports: per-sample metrics, the solution file (xarray -> netCDF), panels, summary rows.

Per sample: ``err_a`` (relative L2 of a; Darcy: the error rate of the thresholded a, as
DiffusionPDE reports it), ``err_u`` (relative L2 of u), ``residual`` (normalised, a finalised),
``bc`` (boundary RMS relative to the data's RMS of u), ``coverage_a`` / ``coverage_u`` (the
fraction of unobserved pixels whose true value lies within prediction +- 2 std; NaN for a
method without an ensemble). Errors and coverage need the true fields; without them only the
physics columns are filled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import atomic_output
from pde_bench.problems.base import Problem

from ..solve.observation import Observation
from ..evaluate.metrics import physics_errors
from ..solve.noise_search import SolveResult

__all__ = [
    "METRICS",
    "sample_metrics",
    "save_sample_panel",
    "solve_table",
    "summary_row",
    "wanted_fields",
    "write_solution",
]

METRICS = ("err_a", "err_u", "residual", "bc", "coverage_a", "coverage_u")


def wanted_fields(task: str) -> tuple[str, ...]:
    """The fields a task asks for: forward -> u, inverse -> a, otherwise both."""
    return {"forward": ("u",), "inverse": ("a",)}.get(task, ("a", "u"))


def discrete_inputs(problem: Problem) -> bool:
    """Whether the problem finalises its input to discrete levels (Darcy's thresholded a)."""
    return type(problem).finalize_inputs is not Problem.finalize_inputs


def _rel_l2(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    n = len(true)
    return np.linalg.norm((pred - true).reshape(n, -1), axis=1) / np.linalg.norm(true.reshape(n, -1), axis=1).clip(1e-30)


def _coverage(pred, std, true, observed) -> np.ndarray:
    inside = np.abs(true - pred) <= 2 * std
    free = ~observed
    return np.where(free.any((1, 2)), (inside & free).sum((1, 2)) / free.sum((1, 2)).clip(1), np.nan)


def sample_metrics(problem: Problem, result: SolveResult, obs: Observation, truth: dict[str, np.ndarray],
                   scale: float, u_rms: float, ensemble: bool = True) -> dict[str, np.ndarray]:
    """Per-sample metrics (n,) of a solve (its a already finalised); see the module docstring."""
    n = len(result.u)
    phys = physics_errors(problem, result.a, result.u, scale, u_rms)
    out = {"residual": phys["residual_per_sample"], "bc": phys["bc_per_sample"]}
    nan = np.full(n, np.nan)
    for c, ch in enumerate(("a", "u")):
        true = truth.get(ch)
        pred, std = (result.a, result.a_std) if ch == "a" else (result.u, result.u_std)
        if true is None:
            out[f"err_{ch}"], out[f"coverage_{ch}"] = nan, nan
            continue
        if ch == "a" and discrete_inputs(problem):  # a two-valued input: error rate
            true_fin = np.asarray(problem.finalize_inputs(torch.as_tensor(true))).astype(np.float64)
            out["err_a"] = (pred != true_fin).mean((1, 2))
        else:
            out[f"err_{ch}"] = _rel_l2(pred, true)
        out[f"coverage_{ch}"] = _coverage(pred, std, true, obs.mask[:, c]) if ensemble else nan
    return {k: np.asarray(out[k], dtype=np.float64) for k in METRICS}


def summary_row(method: str, task: str, metrics: dict[str, np.ndarray], result: SolveResult, *,
                samples: int, batch: int) -> dict:
    """One row of the summary table: means and stds over samples, costs per sample."""
    row = {"method": method, "task": task, "wanted": "+".join(wanted_fields(task)), "samples": samples,
           "nfe": result.nfe, "grad_evals": result.grad_evals, "s_per_sample": result.seconds_per_sample,
           "batch": batch}
    for k in METRICS:
        v = metrics[k]
        ok = np.isfinite(v)
        row[k] = float(v[ok].mean()) if ok.any() else None
        row[f"{k}_std"] = float(v[ok].std()) if ok.any() else None
    return row


def write_solution(path: Path, problem: Problem, result: SolveResult, obs: Observation,
                   truth: dict[str, np.ndarray], metrics: dict[str, np.ndarray], sample_ids: np.ndarray,
                   attrs: dict, *, overwrite: bool = False) -> Path:
    """The solution as netCDF-4 (h5netcdf): fields (sample, x, y) in physical units, metrics (sample,)."""
    import xarray as xr

    res = result.u.shape[-1]
    coords = {"sample": np.asarray(sample_ids), "x": problem.coordinates(res), "y": problem.coordinates(res)}
    dims = ("sample", "x", "y")
    data = {"a": (dims, result.a), "u": (dims, result.u), "a_std": (dims, result.a_std), "u_std": (dims, result.u_std),
            "a_best": (dims, result.a_best), "u_best": (dims, result.u_best),
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


def save_sample_panel(path: Path, i: int, problem: Problem, result: SolveResult, obs: Observation,
                      truth: dict[str, np.ndarray], title: str) -> Path:
    """One sample: per channel truth, prediction, |error|, std and the observed points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ("truth", "prediction", "|error|", "std", "observed")
    fig, axes = plt.subplots(2, len(cols), figsize=(11, 4.6), layout="constrained", squeeze=False)
    for c, ch in enumerate(("a", "u")):
        pred = (result.a if ch == "a" else result.u)[i]
        std = (result.a_std if ch == "a" else result.u_std)[i]
        true = truth.get(ch)
        true_i = None if true is None else true[i]
        lo, hi = float(np.min(pred)), float(np.max(pred))
        if true_i is not None:
            lo, hi = min(lo, float(true_i.min())), max(hi, float(true_i.max()))
        mask = obs.mask[i, c]
        shown = [(true_i, "viridis", (lo, hi)), (pred, "viridis", (lo, hi)),
                 (None if true_i is None else np.abs(pred - true_i), "magma", None), (std, "magma", None),
                 (np.where(mask, obs.values[i, c], np.nan), "viridis", (lo, hi))]
        for j, (field, cmap, lim) in enumerate(shown):
            ax = axes[c, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(cols[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(ch)
            if field is None:
                ax.text(0.5, 0.5, "unknown", ha="center", va="center", transform=ax.transAxes)
                continue
            kw = {} if lim is None else {"vmin": lim[0], "vmax": lim[1]}
            if j == 4:
                ax.set_facecolor("0.85")
                ax.set_xlabel(f"{int(mask.sum())} points", fontsize=8)
            im = ax.imshow(field.T, origin="lower", cmap=cmap, **kw)
            fig.colorbar(im, ax=ax, shrink=0.75)
    fig.suptitle(title, fontsize=9)
    with atomic_output(Path(path), overwrite=True) as tmp:
        fig.savefig(tmp, dpi=72, format="png")
    plt.close(fig)
    return Path(path)


def _pm(row: dict, key: str, pct: bool = False) -> str:
    v, s = row.get(key), row.get(f"{key}_std")
    if v is None:
        return "-"
    if pct:
        return f"{100 * v:.2f} ± {100 * s:.2f}"
    return f"{v:.3g} ± {s:.2g}"


def solve_table(rows: list[dict]) -> str:
    """Summary rows as markdown: errors in % (mean ± std over samples), coverage, residual, costs."""
    head = ["method", "task", "wanted", "err a %", "err u %", "residual", "bc", "coverage a", "coverage u",
            "NFE", "grad evals", "s/sample"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cov = [("-" if r.get(k) is None else f"{r[k]:.2f}") for k in ("coverage_a", "coverage_u")]
        cells = [r["method"], r["task"], r["wanted"], _pm(r, "err_a", True), _pm(r, "err_u", True),
                 _pm(r, "residual"), "-" if r.get("bc") is None else f"{r['bc']:.2g}", *cov,
                 str(r["nfe"]), str(r["grad_evals"]), f"{r['s_per_sample']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
