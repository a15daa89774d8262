"""How the PID student's Fréchet distance falls with training, and how many steps the ≤ 2× target would need.

Reads the validation reports that ``bash benchmarks/image_pid.sh curve`` copies to
``benchmarks/results/images/pid_curve/steps-<K>.json`` (one student trained on, scored at K steps) and
writes ``pid_curve.md`` / ``.json`` beside them: FD per step count with its ratio to the teacher's Heun-18
(paired bootstrap interval), and a power law FD − floor = c · K^(−b) fitted by least squares in log–log
coordinates to the last ``--fit-last`` points, extrapolated to FD = 2 × the teacher's. An extrapolation,
not a measurement: the report says so.

    python benchmarks/pid_curve.py [--fit-last 3]
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
        fd = {r["method"]: r["metrics"]["fd"] for r in d["rows"]}
        ratio = next(v for v in d["verdicts"] if v["method"] == "pid" and v["baseline"] == "teacher"
                     and v["metric"] == "fd" and v["lo"] == v["lo"])
        points.append({"steps": int(path.stem.split("-")[1]), "samples": d["options"]["samples"],
                       "batch": d["options"]["batch"], "fd_pid": fd["pid"], "fd_teacher": fd["teacher"],
                       "fd_floor": d["floor"]["fd"], "ratio": ratio["estimate"], "lo": ratio["lo"], "hi": ratio["hi"],
                       "commit": d["provenance"].get("git_commit")})
    return points


def fit_power_law(points: list[dict], last: int) -> dict:
    """log(FD - floor) = log c - b log K on the last ``last`` points; the K where FD = 2 × teacher's FD."""
    use = points[-last:]
    k = np.log([p["steps"] for p in use])
    y = np.log([p["fd_pid"] - p["fd_floor"] for p in use])
    slope, intercept = np.polyfit(k, y, 1)
    target = 2 * use[-1]["fd_teacher"] - use[-1]["fd_floor"]
    steps = math.exp((math.log(target) - intercept) / slope) if slope < 0 else float("inf")
    return {"points": [p["steps"] for p in use], "exponent": -slope, "c": math.exp(intercept),
            "steps_for_2x": steps}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=FOLDER)
    ap.add_argument("--fit-last", type=int, default=3)
    args = ap.parse_args(argv)
    points = load_points(args.folder)
    if len(points) < 2:
        print(f"{args.folder}: need at least two steps-*.json reports, found {len(points)}", file=sys.stderr)
        return 1
    fits = {n: fit_power_law(points, n) for n in sorted({2, min(args.fit_last, len(points)), len(points)})}
    lines = ["# PID on Fashion-MNIST: validation FD against training steps", "",
             f"One student (shipped teacher and classifier, lr {json.loads((args.folder / f'steps-{points[0]['steps']}.json').read_text())['options']['lr']}, "
             f"batch {points[0]['batch']}) trained on and scored on the validation split after each step count, "
             f"{points[0]['samples']} samples per row (classifier-feature FD, **not FID**). Command: `bash "
             "benchmarks/image_pid.sh curve`, then `python benchmarks/pid_curve.py`.", "",
             "| steps | student samples seen | FD PID | FD teacher Heun-18 | PID / teacher [95 %] | floor |",
             "|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['steps']} | {p['steps'] * p['batch']:,} | {p['fd_pid']:.1f} | {p['fd_teacher']:.2f} | "
                     f"{p['ratio']:.2f} [{p['lo']:.2f}, {p['hi']:.2f}] | {p['fd_floor']:.3f} |")
    lines += ["", "Power law FD − floor = c · K^(−b), least squares in log–log, extrapolated to FD = 2 × the "
              "teacher's (an extrapolation, not a measurement; the curve may flatten before it):", "",
              "| points fitted (steps) | exponent b | steps for FD ≤ 2× teacher |", "|---|---|---|"]
    for fit in fits.values():
        k = fit["steps_for_2x"]
        lines.append(f"| {', '.join(map(str, fit['points']))} | {fit['exponent']:.3f} | "
                     f"{'never (no fall)' if not math.isfinite(k) else f'{k:,.0f}'} |")
    (args.folder.parent / "pid_curve.md").write_text("\n".join(lines) + "\n")
    (args.folder.parent / "pid_curve.json").write_text(json.dumps({"points": points, "fits": list(fits.values())},
                                                                  indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
