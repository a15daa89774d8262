"""Error versus fraction observed, every method: one plot and one table per (problem, task).

Reads the comparison folders that ``benchmarks/baselines.sh`` writes (``runs/baselines/<pde>-<task>-<pct>/
metrics.json``), takes each row's mean error of the wanted field (forward: u, inverse: a,
reconstruction: a + u) and its std over samples, and draws error against the observed percentage
on log axes, one line per method, the Bayes limit dashed.

    python benchmarks/baselines_sweep.py --pde darcy --task forward
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"
WANTED = {"forward": ("err_u",), "inverse": ("err_a",), "reconstruction": ("err_a", "err_u")}


def collect(root: Path, pde: str, task: str) -> dict[float, dict]:
    """{percent: metrics.json} of every finished run of (pde, task)."""
    out = {}
    for folder in sorted(root.glob(f"{pde}-{task}-*")):
        m = re.fullmatch(rf"{re.escape(pde)}-{task}-([0-9.]+)", folder.name)
        if m and (folder / "metrics.json").exists():
            out[float(m.group(1))] = json.loads((folder / "metrics.json").read_text())
    return out


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", required=True)
    p.add_argument("--task", required=True, choices=list(WANTED))
    p.add_argument("--runs", type=Path, default=Path("runs/baselines"))
    args = p.parse_args()
    runs = collect(args.runs, args.pde, args.task)
    if not runs:
        raise SystemExit(f"error: no finished runs {args.runs}/{args.pde}-{args.task}-<pct>/metrics.json")
    keys = WANTED[args.task]
    series: dict[str, dict] = {}
    rows = []
    for pct, comp in sorted(runs.items()):
        for r in comp["rows"]:
            err = sum(r["metrics"].get(k, np.nan) for k in keys)
            s = series.setdefault(r["method"], {"label": r["label"], "pct": [], "err": []})
            s["pct"].append(pct)
            s["err"].append(err)
            rows.append({"percent observed": pct, "method": r["label"], "err %": 100 * err,
                         "err / Bayes limit": r["metrics"].get("over_bound", ""),
                         "s/sample": r["cost"]["s_per_sample"], "samples": comp["options"].get("test", "")})
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, s in series.items():
        style = {"linestyle": "--", "color": "black"} if name == "bayes" else {}
        ax.plot(s["pct"], 100 * np.asarray(s["err"]), marker="o", label=s["label"], **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pixels observed (%)")
    ax.set_ylabel(f"error of {' + '.join(k[4:] for k in keys)} (%)")
    ax.set_title(f"{args.pde} {args.task}: error versus fraction observed")
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = f"baselines_sweep_{args.pde}_{args.task}"
    fig.savefig(RESULTS / f"{name}.png", dpi=120)
    print(write_table(RESULTS, name, f"{args.pde} {args.task}: error versus fraction observed (test split)",
                      ["percent observed", "method", "err %", "err / Bayes limit", "s/sample", "samples"], rows,
                      {"runs": str(args.runs), "pde": args.pde, "task": args.task}))


if __name__ == "__main__":
    main()
