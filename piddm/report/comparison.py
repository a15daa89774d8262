"""Quality reports: ``metrics.json``, ``report.md`` and a PNG panel of samples and residual maps.

``metrics.json`` is ``{"rows": [...], "floor": {...}, "provenance": {...}}``; every row has the
keys of :data:`ROW_KEYS` (the schema that the distill report and later comparison reports
share). The markdown puts each row beside the yardsticks: the ground-truth residual floor, the
finite-sample MMSE/SMSE floor, and ratios to a baseline row (residual and speed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pde_bench.problems.base import Problem

from ..files import atomic_write_json, atomic_write_text
from ..plots import save_field_grid

__all__ = ["ROW_KEYS", "markdown_table", "residual_maps", "save_panel", "write_metrics", "write_report"]

ROW_KEYS = ("method", "nfe", "grad_evals", "ms_per_sample", "batch", "residual", "residual_median", "bc",
            "mmse", "smse")


def _g(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown_table(rows: list[dict], floor: dict | None = None, baseline: str | None = None) -> str:
    """Rows as a markdown table; with ``baseline`` (a method name), residual and speed ratios to it."""
    base = next((r for r in rows if r["method"] == baseline), None)
    head = ["method", "NFE", "grad evals", "ms/sample", "residual", "median", "bc", "MMSE", "SMSE"]
    if base:
        head += [f"residual / {baseline}", f"speed-up vs {baseline}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["method"], _g(r["nfe"]), _g(r["grad_evals"]), _g(r["ms_per_sample"]), _g(r["residual"]),
                 _g(r["residual_median"]), _g(r["bc"]), _g(r["mmse"]), _g(r["smse"])]
        if base:
            cells += [_g(r["residual"] / base["residual"]), f"{base['ms_per_sample'] / r['ms_per_sample']:.1f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    if floor:
        cells = ["floor (ground truth; real vs real)", "", "", "", _g(floor["residual"]),
                 _g(floor["residual_median"]), _g(floor["bc"]), _g(floor["mmse"]), _g(floor["smse"])]
        if base:
            cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_metrics(path: Path, rows: list[dict], floor: dict, provenance: dict) -> None:
    """``metrics.json`` (atomic). Rows are checked against the shared schema."""
    for r in rows:
        missing = [k for k in ROW_KEYS if k not in r]
        if missing:
            raise ValueError(f"row {r.get('method')!r} lacks {missing}")
    clean = [{k: r[k] for k in ROW_KEYS} for r in rows]
    atomic_write_json(Path(path), {"rows": clean, "floor": floor, "provenance": provenance})


def write_report(path: Path, title: str, rows: list[dict], floor: dict, *, baseline: str | None = None,
                 notes: list[str] = (), after: list[str] = (), provenance: dict | None = None) -> str:
    """``report.md`` (atomic): title, notes, the table, notes after it, how it was made. Returns the markdown."""
    parts = [f"# {title}", ""]
    parts += [*notes, ""] if notes else []
    parts += [markdown_table(rows, floor, baseline), ""]
    parts += [*after, ""] if after else []
    if provenance:
        parts += [f"Command: `{provenance.get('command', '')}`  ",
                  f"Commit: {provenance.get('git_commit', '')}; created {provenance.get('created', '')}", ""]
    text = "\n".join(parts)
    atomic_write_text(Path(path), text)
    return text


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
