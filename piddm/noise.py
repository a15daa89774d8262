"""Reproducible standard-normal noise in named streams: sample i of a stream is the same in any batch.

Every random use has its own stream (DESIGN rule 7; docs/seeds.md), so no two uses can draw
the same noise whatever seeds a user picks:

- ``pairs``: distillation pairs, sample i of seed s from the generator seeded s * (2^31 - 1) + i
  (the original formula, kept so cached pairs and the shipped students reproduce); validation
  pairs use seed s + 1,000,003 of this stream.
- ``evaluation``: the samples a distill comparison scores (every method draws sample i from the
  same noise, so rows are paired sample by sample).
- ``solve``: the K starts of the noise search; start k of test sample i is index K * i + k.
- ``grid``: the fixed noise of a teacher's progress images.
- ``resample``: the fresh prior noise of ECI-sampling's passes: pass c of member row r (K * i + k)
  is index r * RESAMPLE_STRIDE + c.

The streams other than ``pairs`` seed each row from ``numpy.random.SeedSequence([stream, seed,
index])``, disjoint from the pairs' formula and from each other.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["RESAMPLE_STRIDE", "STREAMS", "standard_noise"]

STREAMS = {"pairs": 0, "evaluation": 1, "solve": 2, "grid": 3, "resample": 4}
RESAMPLE_STRIDE = 1_000_003  # indices of one row's resampled noise: r * stride + pass (passes < stride)


def _row_seed(stream: str, seed: int, index: int) -> int:
    if stream == "pairs":
        return (int(seed) * 2_147_483_647 + index) % (2**63 - 1)
    state = np.random.SeedSequence([STREAMS[stream], int(seed) % 2**63, int(index)]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def standard_noise(n: int, shape: tuple[int, ...], seed: int = 0, start: int = 0, *,
                   stream: str = "pairs") -> torch.Tensor:
    """(n, *shape) float32 normals; row j is drawn from its own generator seeded by (stream, seed, start + j).

    Batch size and order never change a sample, so results can be compared sample by sample
    across methods, batch sizes and resumed runs.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown noise stream {stream!r}; expected one of {', '.join(STREAMS)}")
    out = torch.empty((n, *shape))
    gen = torch.Generator()
    for j in range(n):
        gen.manual_seed(_row_seed(stream, seed, start + j))
        out[j] = torch.randn(shape, generator=gen)
    return out
