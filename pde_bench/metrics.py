"""Metrics on residual fields (DESIGN.md rule 3)."""

from __future__ import annotations

import torch

__all__ = ["rms", "normalised_residual"]


def rms(field: torch.Tensor, dims: int = 2) -> torch.Tensor:
    """Root mean square over the last ``dims`` axes (per sample)."""
    return field.pow(2).mean(dim=tuple(range(-dims, 0))).sqrt()


def normalised_residual(residual: torch.Tensor, scale: float, dims: int = 2) -> torch.Tensor:
    """Per-sample RMS of a residual field divided by the data set's fixed scale."""
    if not scale > 0:
        raise ValueError(f"residual scale must be positive, got {scale!r}")
    return rms(residual, dims) / scale
