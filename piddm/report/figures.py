"""Figures of a comparison: residual maps, the distill panel of samples, the per-sample solve panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import atomic_output
from pde_bench.problems.base import Problem

from ..plots import save_field_grid

__all__ = ["residual_maps", "save_error_vs_time", "save_methods_grid", "save_panel", "save_sample_panel"]


def residual_maps(problem: Problem, a: np.ndarray, u: np.ndarray, scale: float) -> np.ndarray:
    """log10 of |PDE residual| / scale per pixel, a (already finalised) and u physical (n, N, N)."""
    with torch.no_grad():
        r = problem.residual(torch.as_tensor(np.asarray(a, np.float64)), torch.as_tensor(np.asarray(u, np.float64)),
                             check=False)
    return np.log10(np.abs(r.numpy()) / scale + 1e-12)


def save_panel(path: Path, problem: Problem, fields: dict[str, tuple[np.ndarray, np.ndarray]], scale: float,
               title: str, columns: int = 6) -> Path:
    """Rows ``<method> a``, ``<method> u``, ``<method> log10|r|`` per method (a finalised here)."""
    rows = {}
    for name, (a, u) in fields.items():
        a = problem.finalize_inputs(torch.as_tensor(np.asarray(a[:columns], np.float64))).numpy()
        u = np.asarray(u[:columns], np.float64)
        rows[f"{name}\na"] = a
        rows[f"{name}\nu"] = u
        rows[f"{name}\nlog10|r|"] = residual_maps(problem, a, u, scale)
    maps = [k for k in rows if k.endswith("|r|")]
    hi = max(float(np.max(rows[k])) for k in maps)
    lo = max(min(float(np.min(rows[k])) for k in maps), hi - 6.0)  # six decades: the floor shows as flat
    return save_field_grid(rows, path, title=title, columns=columns, cmaps=dict.fromkeys(maps, "magma"),
                           limits=dict.fromkeys(maps, (lo, hi)))


def save_sample_panel(path: Path, i: int, problem: Problem, result, obs,
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


def save_methods_grid(path: Path, problem: Problem, truth: dict[str, np.ndarray],
                      results: dict[str, tuple[np.ndarray, np.ndarray]], scale: float, title: str,
                      columns: int = 4) -> Path:
    """Methods × samples: the truth and every method's (a, u) with its residual map (rows), first samples (columns)."""
    fields = {"truth": (truth["a"], truth["u"])} if "a" in truth and "u" in truth else {}
    fields.update(results)
    return save_panel(path, problem, fields, scale, title, columns=columns)


def save_error_vs_time(path: Path, points: list[tuple[str, float, float, float]], ylabel: str, title: str) -> Path:
    """Mean error against seconds per sample (log axis), one labelled point per method with its standard error.

    ``points``: (label, seconds per sample, mean error, standard error of the mean).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.6), layout="constrained")
    ranked = sorted(points, key=lambda p: (p[1], p[2]))
    for j, (label, sec, err, se) in enumerate(ranked):  # neighbours' labels alternate above and below
        ax.errorbar([max(sec, 1e-4)], [err], yerr=[se], fmt="o", capsize=3)
        ax.annotate(label, (max(sec, 1e-4), err), textcoords="offset points", xytext=(6, 6 if j % 2 else -12),
                    fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per sample (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    with atomic_output(Path(path), overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)
