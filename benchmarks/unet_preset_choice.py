"""Which U-Net size learns most per CPU-minute? Equal wall-time training runs, compared on validation.

    python benchmarks/unet_preset_choice.py --data data/darcy-32 --minutes 6

Each candidate trains a Darcy teacher for the same wall time (batch 64, lr 5e-4, the shipped
training defaults) and is scored by the EMA model's validation EDM loss at fixed sigma values
(mean over sigma in 0.01..10, fixed noise: lower is better). The winner became the ``small``
preset. Writes benchmarks/results/unet_preset_choice.{md,json}.
"""

from __future__ import annotations

from pathlib import Path
import argparse
import tempfile

import torch
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

from piddm.distributed import setup
from piddm.networks import backbone_config, build_backbone, count_parameters
from piddm.teacher import TeacherOptions, train_teacher
from piddm.training import TrainConfig

CANDIDATES = {  # labels name the architecture, so results stay readable if presets change
    "tiny (ch16, 2 levels, 1 block)": {"preset": "small"},  # the `tiny` of the first run, now `small`
    "ch32, 3 levels, 1 block, attn 8": {"preset": "medium", "net": {"channels": 32, "blocks": 1}},
    "ch32, 3 levels, 2 blocks, attn 8": {"preset": "medium", "net": {"channels": 32}},
    "ch64, 3 levels, 1 block, attn 8": {"preset": "medium", "net": {"blocks": 1}},
}

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/darcy-32")
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=500, help="learning-rate warm-up steps")
    parser.add_argument("--only", nargs="*", help="run only candidates whose label contains one of these")
    parser.add_argument("--name", default="unet_preset_choice", help="result file name")
    args = parser.parse_args()
    ctx = setup("cpu")
    rows = []
    for label, cand in CANDIDATES.items():
        if args.only and not any(key in label for key in args.only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            opts = TeacherOptions(pde="darcy", data=args.data, out=f"{tmp}/run", preset=cand["preset"],
                                  net=cand.get("net", {}), device="cpu", grid_steps=2,
                                  train=TrainConfig(steps=10**9, minutes=args.minutes, batch=args.batch, warmup=args.warmup,
                                                    checkpoint_every=10**9, log_every=50))
            result = train_teacher(opts, ctx)
        cfg = backbone_config("unet", cand["preset"], resolution=32, periodic=False, **cand.get("net", {}))
        params = count_parameters(build_backbone(cfg))
        val = result.history[-1]
        rows.append({"candidate": label, "parameters": params, "steps": result.step,
                     "samples_per_s": result.step * args.batch / result.elapsed,
                     "val_loss_mean": val["val_loss_mean"], "val_loss_sigma_0.1": val["val_loss_sigma_0.1"],
                     "val_loss_sigma_2": val["val_loss_sigma_2"]})
        print(rows[-1], flush=True)
    text = write_table(RESULTS, args.name, f"U-Net size per CPU-minute: Darcy 32^2, {args.minutes:g} min each",
                       list(rows[0]), rows, vars(args) | {"threads": torch.get_num_threads()})
    print(text)


if __name__ == "__main__":
    main()
