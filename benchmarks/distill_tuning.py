"""Choose the distillation defaults by measurement on the *validation* split.

For each teacher step count N_s it times the pairs and scores the teacher's Heun-N_s samples;
for each (N_s, lambda) it distils a student with the same budget and scores PIDDM-1. Rows go to
``<out>/tuning.jsonl`` (one JSON object per line, appended) so separate invocations build one
table; ``--table`` prints it as markdown.

    python benchmarks/distill_tuning.py --pair-steps 18 10 --lam 0 1 --steps 600
    python benchmarks/distill_tuning.py --teacher-steps 18       # score the teacher alone
    python benchmarks/distill_tuning.py --table runs/tune/tuning.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pde_bench.conventions import provenance
from piddm.distill import DistillOptions, distill
from piddm.models import load_student
from piddm.distributed import setup
from piddm.evaluate.scoring import ReferenceSets, evaluate_fields, floors, teacher_row
from piddm.models import load_model
from piddm.models import reference_model
from piddm.student import file_hash, make_pairs, read_pairs, sample_student, write_pairs
from piddm.training import TrainConfig

COLUMNS = ["what", "pair_steps", "lam", "inputs", "boundary_weight", "steps", "train_s", "pair_s", "residual", "residual_median", "bc",
           "mmse", "smse", "ms_per_sample"]


def _log_every(k: int):
    def log(step, total, info):
        if step % k == 0:
            print(f"  step {step}/{total} loss {info['loss']:.4g} {info['elapsed']:.0f} s", flush=True)

    return log


def table(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        if r.get("lam") is not None:  # rows written before the inputs option was named
            r.setdefault("inputs", "hard" if r.get("hard_inputs") else "soft")
            r.setdefault("boundary_weight", 1.0)
            r["what"] = "student"
        cells = []
        for c in COLUMNS:
            v = r.get(c, "")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", default="darcy")
    p.add_argument("--teacher", default=None, help="teacher.pt [the shipped reference]")
    p.add_argument("--data", default="data/darcy-32")
    p.add_argument("--out", default="runs/tune")
    p.add_argument("--pairs", type=int, default=2048)
    p.add_argument("--pair-steps", type=int, nargs="+", default=[18])
    p.add_argument("--lam", type=float, nargs="+", default=[0.0, 1.0])
    p.add_argument("--lam-warmup", type=int, default=200)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--n", type=int, default=256, help="validation samples scored")
    p.add_argument("--inputs", default="soft", help="soft | hard | fixed | anneal: what the residual sees of a")
    p.add_argument("--boundary-weight", type=float, default=1.0)
    p.add_argument("--tag", default="")
    p.add_argument("--teacher-steps", type=int, nargs="*", default=[],
                   help="also score the teacher's Heun-N samples on the validation split (no pairs, no students)")
    p.add_argument("--table", type=Path, default=None, help="print the markdown table of a tuning.jsonl")
    args = p.parse_args()
    if args.table:
        print(table(args.table))
        return

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "tuning.jsonl"
    ctx = setup("cpu")
    teacher_path = args.teacher or str(reference_model(args.pde, "teacher"))
    teacher = load_model(teacher_path, "teacher", problem=args.pde)
    ref = ReferenceSets(args.data, args.n, teacher, split="val")
    base = {"tag": args.tag, "pairs": args.pairs, "data": args.data, "split": "val", "n": args.n}

    def emit(row: dict) -> None:
        row = {**base, **row}
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    if not log.exists() or not log.read_text().strip():
        emit({"what": "floor", **floors(ref)})
    for ns in args.teacher_steps:
        row = teacher_row(teacher, ref, steps=ns, batch=128)
        emit({"what": f"teacher Heun-{ns}", "pair_steps": ns,
              **{k: row[k] for k in ("residual", "residual_median", "bc", "mmse", "smse", "ms_per_sample")}})
    if args.teacher_steps:
        return
    t_hash = file_hash(Path(teacher_path))
    for ns in args.pair_steps:
        pair_file = out / f"pairs-{ns}-{args.pairs}.h5"
        pair_s = None
        if not pair_file.exists():
            t0 = time.perf_counter()
            eps, x0 = make_pairs(teacher.denoiser, args.pairs, teacher.resolution, steps=ns, seed=0)
            pair_s = time.perf_counter() - t0
            write_pairs(pair_file, eps, x0, {"teacher_hash": t_hash, "pair_steps": ns, "n": args.pairs,
                                             "seed": 0, "refreshed": 0})
            row = teacher_row(teacher, ref, steps=ns, batch=128)
            emit({"what": f"teacher Heun-{ns}", "pair_steps": ns, "pair_s": round(pair_s, 1),
                  **{k: row[k] for k in ("residual", "residual_median", "bc", "mmse", "smse", "ms_per_sample")}})
        for lam in args.lam:
            run = out / f"ns{ns}-lam{lam:g}-{args.inputs}-s{args.steps}{args.tag}"
            eps, x0, _ = read_pairs(pair_file, {"pair_steps": ns, "n": args.pairs})
            opts = DistillOptions(pde=args.pde, teacher=teacher_path, out=str(run), pairs=args.pairs,
                                  pair_steps=ns, lam=lam, lam_warmup=args.lam_warmup, device="cpu",
                                  inputs=args.inputs, boundary_weight=args.boundary_weight,
                                  train=TrainConfig(steps=args.steps, minutes=args.minutes, batch=args.batch,
                                                    lr=args.lr, warmup=50, ema_halflife=5_000,
                                                    checkpoint_every=10**9, log_every=50))
            result = distill(opts, ctx, overwrite=True, pairs=(eps, x0), on_progress=_log_every(100))
            student, loaded = load_student(run / "student.pt")
            t0 = time.perf_counter()
            a, u = sample_student(student, loaded.normaliser, args.n, loaded.resolution, seed=1, batch=128)
            sec = time.perf_counter() - t0
            row = evaluate_fields("PIDDM-1", a, u, ref, nfe=1, seconds=sec, batch=128)
            emit({"what": f"student lam={lam:g} {args.inputs}", "pair_steps": ns,
                  "lam": lam, "inputs": args.inputs, "boundary_weight": args.boundary_weight, "steps": result.step, "lr": args.lr,
                  "train_s": round(result.elapsed, 1),
                  "val_last": result.history[-1] if result.history else None,
                  **{k: row[k] for k in ("residual", "residual_median", "bc", "mmse", "smse", "ms_per_sample")},
                  "provenance": provenance(vars(args) | {"table": None})})


if __name__ == "__main__":
    main()
