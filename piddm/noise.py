"""Reproducible standard-normal noise: sample i of stream ``seed`` is the same in any batch."""

from __future__ import annotations

import torch

__all__ = ["standard_noise"]


def standard_noise(n: int, shape: tuple[int, ...], seed: int = 0, start: int = 0) -> torch.Tensor:
    """(n, *shape) float32 normals; row j is drawn from its own generator seeded (seed, start + j).

    Batch size and order never change a sample, so results can be compared sample by sample
    across methods, batch sizes and resumed runs.
    """
    out = torch.empty((n, *shape))
    gen = torch.Generator()
    for j in range(n):
        gen.manual_seed((int(seed) * 2_147_483_647 + start + j) % (2**63 - 1))
        out[j] = torch.randn(shape, generator=gen)
    return out
