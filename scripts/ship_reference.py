"""Copy a trained model into the package as a shipped reference, with its provenance file.

    python scripts/ship_reference.py --run runs/darcy-teacher --kind teacher \
        --command "piddm train-teacher ..." --quality benchmarks/results/teacher_quality_darcy.json

Writes piddm/reference/<pde>/<kind>.pt (the model file as trained: EMA weights and metadata)
and <kind>.json: the training command, commit, data seed, steps, wall time, options and the
quality figures of the benchmark JSON. For maintainers; users pass their own models by path.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from piddm.model_file import load_model
from piddm.reference import REFERENCE_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run folder holding <kind>.pt")
    parser.add_argument("--kind", default="teacher")
    parser.add_argument("--command", required=True, help="the command that trained it")
    parser.add_argument("--quality", help="benchmark JSON with the quality figures")
    args = parser.parse_args()
    model = load_model(args.run, args.kind)
    dest = REFERENCE_DIR / model.problem.name
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model.path, dest / f"{args.kind}.pt")
    options = json.loads((Path(args.run) / "options.json").read_text())
    info = {"kind": args.kind, "problem": model.problem.name, "resolution": model.resolution,
            "backbone": model.info.backbone, "command": args.command,
            "git_commit": options["provenance"].get("git_commit"),
            "hardware": options["provenance"].get("hardware"), "data": model.info.data,
            "steps": model.info.training.get("step"), "samples_seen": model.info.training.get("samples"),
            "wall_time_s": model.info.training.get("elapsed_s"), "training": model.info.training,
            "validation": model.info.training.get("val")}
    if args.quality:
        quality = json.loads(Path(args.quality).read_text())
        info["quality"] = {"rows": quality["rows"], "command": quality["provenance"]["command"],
                           "git_commit": quality["provenance"]["git_commit"]}
    (dest / f"{args.kind}.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    print(f"shipped {dest / (args.kind + '.pt')} ({(dest / (args.kind + '.pt')).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
