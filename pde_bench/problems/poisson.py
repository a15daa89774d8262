"""Poisson: Laplace(u) = a on the unit square, u = 0 on the boundary, a a cosine GRF(2, 3)."""

from __future__ import annotations

from .base import register
from .screened_poisson import ScreenedPoisson


@register
class Poisson(ScreenedPoisson):
    name = "poisson"
    equation = "Laplace(u) = a in (0,1)^2, u = 0 on the boundary"
    defaults = {"alpha": 2.0, "tau": 3.0}
