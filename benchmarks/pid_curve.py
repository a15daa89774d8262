"""How the PID student's Fréchet distance falls with training, and how many steps the ≤ 2× target would need.

Reads the validation reports that ``bash benchmarks/image_pid.sh curve`` copies to
``benchmarks/results/images/pid_curve/steps-<K>.json`` (one student trained on, scored at K steps; the step
recorded in each report is checked against K) and writes ``pid_curve.md`` / ``.json`` beside them: FD per
step count with its ratio to the teacher's Heun-18 (paired bootstrap interval), and the step count at which
FD(K) = a + c · K^(−b), fitted by least squares of log(FD − a) on log K over all points, would reach 2 × the
teacher's FD, for three assumed asymptotes a (the real-image floor, the teacher's FD, 1.5 × the teacher's
FD): how far the answer moves with the one thing the points cannot pin down. An extrapolation from one
training run whose points share their noise and teacher rows: no interval is claimed.

    python benchmarks/pid_curve.py
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

FOLDER = Path("benchmarks/results/images/pid_curve")


def load_points(folder: Path) -> list[dict]:
    points = []
    for path in sorted(folder.glob("steps-*.json"), key=lambda p: int(p.stem.split("-")[1])):
        d = json.loads(path.read_text())
        k = int(path.stem.split("-")[1])
        rows = {r["method"]: r for r in d["rows"]}
        step = rows["pid"].get("notes", {}).get("training_step")
        if step != k:
            raise SystemExit(f"{path}: the student scored there was trained {step} steps, not {k}")
        ratio = next(v for v in d["verdicts"] if v["method"] == "pid" and v["baseline"] == "teacher"
                     and v["metric"] == "fd" and v["lo"] == v["lo"])
        points.append({"steps": k, "samples": d["options"]["samples"], "batch": d["options"]["batch"],
                       "lr": rows["pid"]["notes"].get("training_lr"), "images": d["options"]["images"],
                       "metric": "FID" if d["options"].get("inception") else "FD (classifier features, not FID)",
                       "fd_pid": rows["pid"]["metrics"]["fd"],
                       "fd_teacher": rows["teacher"]["metrics"]["fd"], "fd_heun2": rows.get("teacher-heun-2", {})
                       .get("metrics", {}).get("fd"), "fd_floor": d["floor"]["fd"], "ratio": ratio["estimate"],
                       "lo": ratio["lo"], "hi": ratio["hi"], "commit": d["provenance"].get("git_commit")})
    return points


def steps_to_reach(points: list[dict], asymptote: float, target: float) -> dict:
    """Fit log(FD - a) = log c - b log K over the points; the K where FD = target (inf if never)."""
    gaps = [p["fd_pid"] - asymptote for p in points]
    if min(gaps) <= 0:
        return {"asymptote": asymptote, "exponent": float("nan"), "steps": float("nan"),
                "why": "a point lies at or below this asymptote"}
    slope, intercept = np.polyfit(np.log([p["steps"] for p in points]), np.log(gaps), 1)
    if target <= asymptote or slope >= 0:
        return {"asymptote": asymptote, "exponent": -slope, "steps": float("inf"),
                "why": "never: the target lies at or below the asymptote" if target <= asymptote else "no fall"}
    return {"asymptote": asymptote, "exponent": -slope,
            "steps": math.exp((math.log(target - asymptote) - intercept) / slope), "why": ""}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=FOLDER)
    args = ap.parse_args(argv)
    points = load_points(args.folder)
    if len(points) < 3:
        print(f"{args.folder}: need at least three steps-*.json reports, found {len(points)}", file=sys.stderr)
        return 1
    last, first = points[-1], points[0]
    target = 2 * last["fd_teacher"]
    fits = [steps_to_reach(points, a, target) for a in (last["fd_floor"], last["fd_teacher"], 1.5 * last["fd_teacher"])]
    lines = [f"# PID on {first['images']}: validation {first['metric']} against training steps", "",
             f"One student (lr {first['lr']}, batch {first['batch']}) trained on and scored on the validation split "
             f"after each step count, {first['samples']} samples per row, the same noise and the same teacher rows "
             "for every point. Command: `bash benchmarks/image_pid.sh curve`, then `python benchmarks/pid_curve.py`.",
             "", "| steps | student samples seen | FD PID | FD teacher Heun-18 | FD teacher Heun-2 | PID / Heun-18 "
             "[95 %] | floor |", "|---|---|---|---|---|---|---|"]
    for p in points:
        heun2 = "" if p["fd_heun2"] is None else f"{p['fd_heun2']:.1f}"
        lines.append(f"| {p['steps']} | {p['steps'] * p['batch']:,} | {p['fd_pid']:.1f} | {p['fd_teacher']:.2f} | "
                     f"{heun2} | {p['ratio']:.2f} [{p['lo']:.2f}, {p['hi']:.2f}] | {p['fd_floor']:.3f} |")
    lines += ["", f"Steps for FD ≤ 2 × the teacher's ({target:.1f}) if FD(K) = a + c · K^(−b), fitted on all "
              f"{len(points)} points for each assumed asymptote a (an extrapolation from one run, no interval; the "
              "curve may flatten sooner):", "", "| asymptote a | exponent b | steps for ≤ 2× | × the last point's |",
              "|---|---|---|---|"]
    for f in fits:
        k = f["steps"]
        when = f["why"] if not math.isfinite(k) else f"{k:,.0f}"
        times = f"{k / last['steps']:.0f}×" if math.isfinite(k) else ""
        lines.append(f"| {f['asymptote']:.2f} | {f['exponent']:.3f} | {when} | {times} |")
    (args.folder.parent / "pid_curve.md").write_text("\n".join(lines) + "\n")
    (args.folder.parent / "pid_curve.json").write_text(json.dumps({"points": points, "target": target,
                                                                  "fits": fits}, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
