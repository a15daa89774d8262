"""CPU throughput options for teacher training, measured before spending hours on a run.

    python benchmarks/training_throughput.py --preset small --resolution 32 --threads 1 2 --batch 32 64 128 \
        --compile-batches 64

One training step is the teacher's loss, backward and AdamW (no gradient clipping or EMA update) on a
(B, 2, N, N) batch of random data (the cost does not depend on the values). Each configuration (threads x
batch x memory format x torch.compile) is timed as the median of ``--repeats`` windows of ``--steps``
steps after a warm-up (compilation happens in the warm-up and is reported apart as its one-off cost;
each compiled configuration compiles its own new module). Rows report training samples per second and the speed-up
over the first row (eager and contiguous when --channels-last and --compile are off or both). Within a
round the configurations run in turn, so slow drifts of a neighbour's load reach every row; windows
differ in length (steps x batch), so short bursts do not. Writes benchmarks/results/training_throughput.{md,json}.
"""

from __future__ import annotations

from pathlib import Path
import argparse
import itertools
import statistics
import sys
import time

import torch

from piddm.edm import edm_loss, sample_sigmas
from piddm.networks import count_parameters
from piddm.report.tables import write_table

sys.path.insert(0, str(Path(__file__).parent))
from teacher_speed import preset_denoiser

RESULTS = Path(__file__).parent / "results"


def make_step(preset: str, resolution: int, batch: int, channels_last: bool, compiled: bool, seed: int = 0):
    """A closure that runs one teacher training step, and the model it trains."""
    torch.manual_seed(seed)
    model = preset_denoiser(preset, resolution)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 2, resolution, resolution).contiguous(memory_format=memory)
    net = torch.compile(model) if compiled else model  # a new module: compiled under this configuration's threads

    def step():
        loss = edm_loss(net, x, sample_sigmas(batch), torch.randn_like(x)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step, model


def _window(step, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def measure(configs: list[dict], preset: str, resolution: int, steps: int, repeats: int) -> list[dict]:
    """Samples/s of each configuration: warm-up (timed as the one-off cost), then ``repeats`` rounds that
    time every configuration once per round, in turn."""
    prepared = []
    for c in configs:
        torch.set_num_threads(c["threads"])
        step, model = make_step(preset, resolution, c["batch"], c["channels_last"], c["compile"])
        t0 = time.perf_counter()
        step()
        step()
        prepared.append((c, step, time.perf_counter() - t0, count_parameters(model)))
        print(f"ready: {c} (warm-up {prepared[-1][2]:.1f} s)", flush=True)
    windows = [[] for _ in configs]
    for r in range(repeats):
        for i, (c, step, _, _) in enumerate(prepared):
            torch.set_num_threads(c["threads"])
            windows[i].append(_window(step, steps))
        print(f"round {r + 1}/{repeats} done", flush=True)
    rows = []
    for (c, _, warm, params), w in zip(prepared, windows):
        rate = [c["batch"] * steps / t for t in w]
        rows.append({**c, "parameters": params, "samples_per_s": statistics.median(rate),
                     "min_samples_per_s": min(rate), "max_samples_per_s": max(rate), "warmup_s": warm})
    base = rows[0]["samples_per_s"]
    for row in rows:
        row["speedup"] = row["samples_per_s"] / base
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--channels-last", choices=["off", "on", "both"], default="both")
    parser.add_argument("--compile", choices=["off", "on", "both"], default="both")
    parser.add_argument("--compile-batches", type=int, nargs="*", default=None,
                        help="compile only at these batch sizes (compiling costs minutes per configuration)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed window")
    parser.add_argument("--repeats", type=int, default=5, help="timed windows per configuration")
    parser.add_argument("--name", default="training_throughput")
    args = parser.parse_args()
    flags = {"off": [False], "on": [True], "both": [False, True]}
    configs = [{"threads": t, "batch": b, "channels_last": cl, "compile": co}
               for t, b, cl, co in itertools.product(args.threads, args.batch, flags[args.channels_last],
                                                      flags[args.compile])
               if not (co and args.compile_batches is not None and b not in args.compile_batches)]
    rows = measure(configs, args.preset, args.resolution, args.steps, args.repeats)
    title = f"Teacher training throughput on CPU: unet/{args.preset} at {args.resolution}²"
    text = write_table(RESULTS, args.name, title, list(rows[0]), rows, vars(args))
    print(text)


if __name__ == "__main__":
    main()
