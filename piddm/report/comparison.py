"""One comparison schema for every experiment: rows keyed by method id, floors, verdicts, costs, provenance.

A :class:`Comparison` is what an experiment (:mod:`piddm.compare`) returns and what every
report is written from: ``report.md`` (the table, the verdicts with their intervals, the one-off
costs, notes, how it was made), ``metrics.json`` (the same numbers, machine-readable) and
``options.json`` (the options that made it). Rows are keyed by the registry id of their method
(``method``) and shown by their display ``label``; nothing matches rows by label strings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import atomic_write_json, atomic_write_text

__all__ = ["Column", "Comparison", "Cost", "Row", "Verdict"]


@dataclass(frozen=True)
class Column:
    """A table column: the metric key, its header, and how to show it (``pct``: x100 with 2 decimals;
    ``g``: 3 significant digits; ``int``; ``s``: seconds with 2 decimals; ``ms``)."""

    key: str
    header: str
    fmt: str = "g"
    spread: bool = True  # show "mean ± std over samples" when the row has a spread for the key


@dataclass
class Row:
    """One method's numbers: means (``metrics``), std over samples (``spread``), costs per sample."""

    method: str  # registry id (e.g. piddm, physics, teacher, student-lam0, piddm-1, piddm-ref)
    label: str  # display label
    metrics: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)  # nfe, grad_evals, s_per_sample / ms_per_sample, batch
    notes: dict = field(default_factory=dict)  # e.g. the nominal coverage beside a coverage

    def value(self, key: str):
        if key in self.metrics:
            return self.metrics[key]
        return self.cost.get(key)


@dataclass
class Verdict:
    """A ratio between two rows with its 95 % interval (DESIGN rule 6).

    ``kind`` ``ratio``: ours / base; ``reduction``: 1 - ours / base. ``target`` (optional) is a
    bound to meet (``le``: <= target; ``ge``: >=). It is met when the whole interval meets it (or,
    without an interval, the estimate), missed when none of it does, and "not shown" when the
    interval reaches across it (:attr:`status`; counts as not met). The interval is the caller's:
    a paired bootstrap for per-sample metrics, a jackknife for MMSE / SMSE ratios.
    """

    name: str
    method: str
    baseline: str
    metric: str
    kind: str
    estimate: float
    lo: float
    hi: float
    target: float | None = None
    better: str = "le"

    @property
    def status(self) -> str:
        """"" (no target); "met" (the whole interval meets the target); "MISSED" (none of it does); "not
        shown" (the interval reaches across the target, whichever side the estimate is on); without an
        interval, "met (no interval)" or "MISSED" by the estimate."""
        if self.target is None or not math.isfinite(self.estimate):
            return ""

        def meets(v: float) -> bool:
            return v <= self.target if self.better == "le" else v >= self.target

        near, far = (self.lo, self.hi) if self.better == "le" else (self.hi, self.lo)
        if not (math.isfinite(near) and math.isfinite(far)):
            return "met (no interval)" if meets(self.estimate) else "MISSED"
        if meets(far):
            return "met"
        return "not shown" if meets(near) else "MISSED"

    @property
    def met(self) -> bool | None:
        """True when :attr:`status` is met (with or without an interval); None without a target."""
        return None if not self.status else self.status.startswith("met")

    def text(self) -> str:
        pct = self.kind == "reduction"
        f = (lambda v: f"{100 * v:.0f} %") if pct else (lambda v: f"{v:.3g}")
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return f"{f(self.estimate)} (no interval)"
        return f"{f(self.estimate)} [{f(self.lo)}, {f(self.hi)}]"


@dataclass
class Cost:
    """A one-off cost of a comparison (teacher training, pairs, student training), in seconds (None: not recorded)."""

    item: str
    seconds: float | None
    note: str = ""


@dataclass
class Comparison:
    kind: str  # "distill" | "solve"
    title: str
    columns: list[Column]
    rows: list[Row]
    floor: dict | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    costs: list[Cost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # before the table
    after: list[str] = field(default_factory=list)  # after the verdicts
    options: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def row(self, method: str) -> Row:
        for r in self.rows:
            if r.method == method:
                return r
        raise KeyError(f"no row for method {method!r} (rows: {', '.join(r.method for r in self.rows)})")

    # -- markdown -------------------------------------------------------------------------
    def table(self) -> str:
        head = ["method", *(c.header for c in self.columns)]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join([r.label, *(_cell(r, c) for c in self.columns)]) + " |")
        if self.floor:
            floor = Row("floor", self.floor.get("label", "floor"), metrics=self.floor)
            lines.append("| " + " | ".join([floor.label, *(_cell(floor, c) if c.key in self.floor else ""
                                                            for c in self.columns)]) + " |")
        return "\n".join(lines)

    def verdict_table(self) -> str:
        if not self.verdicts:
            return ""
        targets = any(v.target is not None for v in self.verdicts)
        head = ["verdict", "estimate [95 % interval]", *(["target", "status"] if targets else [])]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for v in self.verdicts:
            cells = [v.name, v.text()]
            if targets:
                cells += ["" if v.target is None else f"{'≤' if v.better == 'le' else '≥'} {v.target:g}",
                          v.status]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def cost_line(self) -> str:
        if not self.costs:
            return ""
        parts = [f"{c.item} {_minutes(c.seconds)}" + (f" ({c.note})" if c.note else "") for c in self.costs]
        return "One-off costs: " + "; ".join(parts) + "."

    def markdown(self) -> str:
        parts = [f"# {self.title}", ""]
        parts += [*self.notes, ""] if self.notes else []
        parts += [self.table(), ""]
        for block in (self.verdict_table(), self.cost_line()):
            if block:
                parts += [block, ""]
        parts += [*self.after, ""] if self.after else []
        prov = self.provenance
        if prov:
            parts += [f"Command: `{prov.get('command', '')}`  ",
                      f"Commit: {prov.get('git_commit', '')}; created {prov.get('created', '')}", ""]
        return "\n".join(parts)

    # -- files ----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"kind": self.kind, "title": self.title,
                "rows": [asdict(r) for r in self.rows], "floor": self.floor,
                "verdicts": [{**asdict(v), "met": v.met, "status": v.status} for v in self.verdicts],
                "costs": [asdict(c) for c in self.costs], "notes": self.notes, "after": self.after,
                "options": self.options, "provenance": self.provenance}

    def write(self, folder: Path) -> dict[str, Path]:
        """``report.md``, ``metrics.json`` and ``options.json`` in ``folder`` (each written atomically)."""
        folder = Path(folder)
        paths = {"report": folder / "report.md", "metrics": folder / "metrics.json",
                 "options": folder / "options.json"}
        atomic_write_text(paths["report"], self.markdown())
        atomic_write_json(paths["metrics"], self.to_json())
        atomic_write_json(paths["options"], self.options)
        return paths


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _fmt(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if fmt == "pct":
        return f"{100 * v:.2f}"
    if fmt == "int":
        return str(int(round(v)))
    if fmt == "s":
        return f"{v:.2f}"
    if fmt == "ms":
        return f"{v:.3g}"
    return f"{v:.3g}"


def _cell(row: Row, col: Column) -> str:
    v = row.value(col.key)
    text = _fmt(v, col.fmt)
    s = row.spread.get(col.key)
    if col.spread and text != "-" and s is not None and math.isfinite(s):
        text += f" ± {_fmt(s, col.fmt) if col.fmt == 'pct' else f'{s:.2g}'}"
    note = row.notes.get(col.key)
    return f"{text} ({note})" if note and text != "-" else text
