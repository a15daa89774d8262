"""Tune the guided teacher samplers of ``piddm compare --task generate`` (DiffusionPDE's PDE term, ECI's
boundary ring) on *validation*.

Six candidates per method, as the solve tuning gives every method (benchmarks/guidance_tuning.py). Each
candidate draws samples 0:N of the evaluation noise on the validation split beside the teacher's Heun-18
(same noise, so the two are paired) and is scored by the rule ``piddm distill`` uses for its λ
(benchmarks/results/distill_tuning.md): among candidates whose MMSE and SMSE stay within 1.5× the
teacher's, the lowest mean residual wins; if none does, the one nearest to that bound (the smallest
max(MMSE ratio, SMSE ratio)). Rows go to a JSON-lines log as they finish (the same command run again
skips the candidates already logged, so a stopped run resumes); ``--table`` writes the markdown and prints
the winners for ``piddm.defaults.GENERATION``.

Sample counts: MMSE and SMSE of 16 samples are mostly finite-sample noise (ECI's MMSE ratios to
the teacher for its four stable candidates ranged 0.55-4.2 at 16 and 0.44-1.09 at 64), so the
cheap method, ECI, is scored on 64 validation samples (its 16-sample rows are kept, tagged ``n16``
by hand after the 64-sample run) and DiffusionPDE, whose ratios stayed within 0.98-1.03 at every
ζ_pde, on 16.

    python benchmarks/generation_tuning.py --pde darcy --methods dpde --n 16 --log runs/generation-tuning/darcy.jsonl
    python benchmarks/generation_tuning.py --pde darcy --methods eci --n 64 --log runs/generation-tuning/darcy-eci.jsonl
    python benchmarks/generation_tuning.py --table runs/generation-tuning/darcy*.jsonl --name generation_tuning_darcy

``--grid '{"dpde": [{"zeta_pde": 1}, ...]}'`` replaces a method's candidates; ``--fixed '{"steps": 200}'``
is added to every candidate and ``--tag scan`` marks the rows as a scan (reported, never chosen).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BOUND = 1.5  # MMSE and SMSE within 1.5x the teacher's: the distill rule (piddm.defaults.DISTILL_BY_PROBLEM)
# DiffusionPDE's scale from a coarse scan (tag scan200: N = 200 steps, 8 samples, ζ_pde 3e-4 .. 1, in the Darcy
# log and table): the residual fell from the teacher's 2.29 to 0.68 at ζ_pde = 0.03 and rose past it (9.5 at 1).
# At N = 2000 the PDE term acts on ten times as many steps, so the grid is centred a decade lower.
GRID = {
    "dpde": [{"zeta_pde": zp} for zp in (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)],
    "eci": [{"steps": n, "mix": m, "resample": r} for n, m, r in
            ((50, 1, 5), (200, 1, 5), (200, 1, 0), (200, 5, 0), (800, 1, 5), (800, 5, 0))],
}
# Per-problem grids where the residual's scale differs. Poisson (scan200 rows of its log: N = 200, 8 samples):
# the residual fell from 0.237 (ζ_pde 0.001; the teacher's Heun-18: 0.622) to 0.086 at 0.1 and grew about
# linearly past it (0.86 at 1, 9.3 at 10). The grid spans that optimum and two decades below it, since at
# N = 2000 the PDE term acts ten times as often (Darcy's N = 2000 optimum, 0.01-0.03, sat at or just below
# its N = 200 one, 0.03).
GRID_BY_PROBLEM = {"poisson": {"dpde": [{"zeta_pde": zp} for zp in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)]}}


def grid_for(problem: str) -> dict:
    """The candidate lists of ``problem``: the shared GRID with its own lists on top."""
    return {**GRID, **GRID_BY_PROBLEM.get(problem, {})}


def tune(args) -> None:
    from pde_bench import get_problem
    from piddm.compare.generate import GenerateOptions, run

    problem = get_problem(args.pde).name
    grid = {**grid_for(problem), **json.loads(args.grid)} if args.grid else grid_for(problem)
    fixed = json.loads(args.fixed or "{}")
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    logged = {_key(r["problem"], r["method"], r.get("tag", ""), r["settings"], r["samples"]) for r in _rows(log)}
    for method in args.methods:
        for i, cand in enumerate(grid[method]):
            cand = {**cand, **fixed}
            if _key(problem, method, args.tag, json.dumps(cand, sort_keys=True), args.n) in logged:
                print(f"{method:5s} {cand}: in the log already", file=sys.stderr, flush=True)
                continue
            out = log.parent / f"{args.pde}-{method}{args.tag}-{i}"
            t0 = time.perf_counter()
            comparison, _ = run(GenerateOptions(pde=args.pde, out=str(out), samples=args.n, split="val",
                                                methods=["teacher", method], settings={method: cand},
                                                batch=args.batch, overwrite=True))
            rows = {r.method: r for r in comparison.rows}
            mine, teacher = rows[method], rows["teacher"]
            row = {"problem": comparison.options["pde"], "method": method, "tag": args.tag,
                   "settings": json.dumps(cand, sort_keys=True), "samples": args.n,
                   "residual": mine.metrics["residual"], "teacher_residual": teacher.metrics["residual"],
                   "amplitude_u": mine.metrics["amplitude_u"],
                   "mmse_ratio": mine.metrics["mmse"] / teacher.metrics["mmse"],
                   "smse_ratio": mine.metrics["smse"] / teacher.metrics["smse"],
                   "spectrum_error": mine.metrics["spectrum_error"], "nfe": mine.cost["nfe"],
                   "grad_evals": mine.cost["grad_evals"], "s_per_sample": mine.cost["ms_per_sample"] / 1e3,
                   "wall_s": time.perf_counter() - t0}
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{method:5s} {cand} residual {row['residual']:.3f} (teacher {row['teacher_residual']:.3f}) "
                  f"MMSE x{row['mmse_ratio']:.2f} SMSE x{row['smse_ratio']:.2f} ({row['s_per_sample']:.1f} s/sample)",
                  file=sys.stderr, flush=True)


def _rows(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def _key(problem: str, method: str, tag: str, settings: str, n: int) -> tuple:
    """A candidate's identity in the log (settings as the sorted JSON the log stores)."""
    return problem, method, tag, json.dumps(json.loads(settings), sort_keys=True), n


def choose(rows: list[dict]) -> dict:
    """The rule: lowest residual among rows with MMSE and SMSE within BOUND x the teacher's, else the nearest."""
    feasible = [r for r in rows if max(r["mmse_ratio"], r["smse_ratio"]) <= BOUND]
    if feasible:
        return min(feasible, key=lambda r: r["residual"])
    return min(rows, key=lambda r: max(r["mmse_ratio"], r["smse_ratio"]))


def table(args) -> None:
    from piddm.report.tables import write_table

    rows = [r for p in args.table for r in _rows(Path(p))]
    groups: dict[tuple, list] = {}
    for r in rows:
        if not r.get("tag"):  # scans are reported, never chosen from
            groups.setdefault((r["problem"], r["method"]), []).append(r)
    for key, group in groups.items():  # one rule over one sample count: other counts must carry a tag
        if len({r["samples"] for r in group}) > 1:
            raise SystemExit(f"{key}: untagged rows with different sample counts; tag all but one set (--tag)")
    best = {key: choose(group) for key, group in groups.items()}
    for r in rows:
        r["chosen"] = "yes" if best.get((r["problem"], r["method"])) is r else ""
    cols = ["problem", "method", "tag", "settings", "samples", "residual", "teacher_residual", "amplitude_u",
            "mmse_ratio", "smse_ratio", "spectrum_error", "nfe", "grad_evals", "s_per_sample", "chosen"]
    print(write_table(RESULTS, args.name, "Guided teacher samplers for generation, tuned on validation (lowest "
                      f"residual with MMSE and SMSE within {BOUND}x the teacher's Heun-18)", cols, rows,
                      {"logs": args.table, "grid": GRID, "grid_by_problem": GRID_BY_PROBLEM, "bound": BOUND}))
    for (pde, method), r in sorted(best.items()):
        print(f"{method} ({pde}): {r['settings']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", default="darcy")
    p.add_argument("--methods", nargs="+", default=["eci", "dpde"])
    p.add_argument("--n", type=int, default=16, help="validation samples")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--log", default="runs/generation-tuning/log.jsonl")
    p.add_argument("--grid", default=None, help="JSON: replacement candidate lists per method")
    p.add_argument("--fixed", default=None, help="JSON: settings added to every candidate (e.g. a scan's steps)")
    p.add_argument("--tag", default="", help="a label for scan rows (tagged rows are never chosen)")
    p.add_argument("--table", nargs="+", default=None, help="JSON-lines logs to tabulate instead of tuning")
    p.add_argument("--name", default="generation_tuning")
    args = p.parse_args()
    table(args) if args.table else tune(args)


if __name__ == "__main__":
    main()
