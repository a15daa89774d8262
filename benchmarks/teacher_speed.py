"""Teacher speed on this machine: training samples/s per preset and Heun-18 ms per sample.

    python benchmarks/teacher_speed.py --resolutions 32 64 --presets tiny small medium

One training step = EDM loss forward + backward + AdamW at the stated batch (random data: the
cost does not depend on the values). Sampling = Heun-18 (35 network calls) at batch 64 under
no_grad. Medians of a few repetitions after a warm-up. Writes benchmarks/results/teacher_speed.{md,json}.
"""

from __future__ import annotations

from pathlib import Path
import argparse
import statistics
import time

import torch
from piddm.report.tables import write_table

RESULTS = Path(__file__).parent / "results"

from piddm.edm import Denoiser, edm_loss, sample_sigmas
from piddm.networks import backbone_config, build_backbone, count_parameters
from piddm.sampling import generate


def preset_denoiser(preset: str, resolution: int) -> Denoiser:
    """The teacher's EDM denoiser for a preset name, ``"small"`` or ``"backbone/small"`` (U-Net by default)."""
    backbone, _, name = preset.rpartition("/")
    return Denoiser(build_backbone(backbone_config(backbone or "unet", name, resolution=resolution, periodic=False)))


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "medium"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", action="store_true", help="print the op profile of one step of each preset")
    args = parser.parse_args()
    dev = torch.device(args.device)
    rows = []
    for res in args.resolutions:
        for preset in args.presets:
            model = preset_denoiser(preset, res).to(dev)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            x = torch.randn(args.batch, 2, res, res, device=dev)

            def step():
                loss = edm_loss(model, x, sample_sigmas(args.batch, device=dev), torch.randn_like(x)).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                if dev.type == "cuda":
                    torch.cuda.synchronize()

            t_step = _median_time(step, args.repeats)
            if args.profile:
                with torch.profiler.profile() as prof:
                    step()
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
            model.eval()

            def sample():
                generate(model, torch.randn(64, 2, res, res, device=dev), steps=18)
                if dev.type == "cuda":
                    torch.cuda.synchronize()

            t_sample = _median_time(sample, max(1, args.repeats // 2))
            label = preset if "/" in preset else f"unet/{preset}"
            rows.append({"preset": label, "resolution": res, "parameters": count_parameters(model),
                         "train_batch": args.batch, "train_samples_per_s": args.batch / t_step,
                         "heun18_ms_per_sample": 1000 * t_sample / 64})
            print(rows[-1], flush=True)
    text = write_table(RESULTS, "teacher_speed", f"Teacher speed ({args.device})", list(rows[0]), rows,
                       vars(args) | {"threads": torch.get_num_threads()})
    print(text)


if __name__ == "__main__":
    main()
