"""Exponential moving average of weights with EDM's half-life in samples and ramp-up."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Keeps ``self.model``, an averaged copy of a network (the one that is sampled).

    After each optimiser step call ``update(model, samples_seen, batch)``: the decay is
    0.5 ** (batch / half-life), where the half-life (in samples) is capped at
    ``rampup * samples_seen`` early on so the average forgets the random start quickly.
    """

    def __init__(self, model: nn.Module, halflife: float = 50_000, rampup: float | None = 0.05):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.halflife = float(halflife)
        self.rampup = rampup

    def beta(self, samples_seen: int, batch: int) -> float:
        halflife = self.halflife
        if self.rampup is not None:
            halflife = min(halflife, samples_seen * self.rampup)
        return 0.5 ** (batch / max(halflife, 1e-8))

    @torch.no_grad()
    def update(self, model: nn.Module, samples_seen: int, batch: int) -> None:
        beta = self.beta(samples_seen, batch)
        for p_ema, p in zip(self.model.parameters(), model.parameters()):
            p_ema.lerp_(p.detach(), 1 - beta)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)
