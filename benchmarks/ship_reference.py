"""Copy a trained teacher or student into ``piddm/reference/<pde>/`` with its provenance JSON.

    python benchmarks/ship_reference.py teacher runs/helmholtz-teacher \
        --command "piddm data generate ... && piddm train-teacher ..." \
        --quality benchmarks/results/teacher_quality_helmholtz.json
    python benchmarks/ship_reference.py student runs/helmholtz-distill/piddm \
        --command "piddm distill --pde helmholtz --teacher ..." --quality runs/helmholtz-distill/metrics.json

The JSON beside the model (``<kind>.json``) holds what a user needs to trust or redo it: the
command as it was run, the commit, hardware, data, training options, steps, wall time,
validation figures, and the quality table (``rows`` of a teacher_quality or distill report).
The model file is copied byte for byte; an existing reference is replaced only with
``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from piddm.files import atomic_write_json
from piddm.models import load_model
from piddm.models import REFERENCE_DIR

def provenance_json(model, command: str, quality: dict | None) -> dict:
    info = model.info
    prov = info.provenance or {}
    training = dict(info.training)
    out = {"kind": info.kind, "problem": info.problem, "resolution": info.resolution, "backbone": info.backbone,
           "command": command, "git_commit": prov.get("git_commit"), "hardware": prov.get("hardware"),
           "data": info.data, "steps": training.get("step"), "samples_seen": training.get("samples"),
           "wall_time_s": training.get("elapsed_s"),
           "training": training,
           "validation": training.get("val")}
    if quality is not None:
        qprov = quality.get("provenance", {})
        out["quality"] = {"rows": quality["rows"], "floor": quality.get("floor"), "command": qprov.get("command"),
                          "git_commit": qprov.get("git_commit")}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["teacher", "student", "classifier"])
    p.add_argument("run", type=Path, help="run folder or model file")
    p.add_argument("--command", required=True, help="the command(s) that made the model, as run")
    p.add_argument("--quality", type=Path, default=None, help="JSON with 'rows' (teacher_quality or distill report)")
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args()
    if args.kind == "classifier":  # an image set's feature classifier (piddm train-classifier)
        from piddm.images.features import load_classifier

        _, meta = load_classifier(args.run)
        source, dest = (args.run / "classifier.pt" if args.run.is_dir() else args.run), REFERENCE_DIR / meta["images"]
        record = {"kind": "classifier", "images": meta["images"], "command": args.command,
                  **{k: meta[k] for k in ("val_accuracy", "test_accuracy", "n_train", "train_s", "options", "provenance")}}
    else:
        model = load_model(args.run, args.kind)
        source, dest = model.path, REFERENCE_DIR / model.info.problem
        quality = json.loads(args.quality.read_text()) if args.quality else None
        record = provenance_json(model, args.command, quality)
    target = dest / f"{args.kind}.pt"
    if target.exists() and not args.overwrite:
        raise SystemExit(f"{target} exists; pass --overwrite to replace it")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".pt.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    atomic_write_json(dest / f"{args.kind}.json", record)
    print(f"{args.kind:8s} {target}\nprovenance {dest / (args.kind + '.json')}")


if __name__ == "__main__":
    main()
