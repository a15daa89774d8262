"""Helmholtz: Laplace(u) + k^2 u = a on the unit square, u = 0 on the boundary.

a is a cosine GRF(2, 3) with its boundary values set to 0 (as DiffusionPDE does).
"""

from __future__ import annotations

from ..conventions import InputError
from .base import register
from .screened_poisson import ScreenedPoisson


@register
class Helmholtz(ScreenedPoisson):
    name = "helmholtz"
    equation = "Laplace(u) + k^2 u = a in (0,1)^2, u = 0 on the boundary"
    defaults = {"k": 1.0, "alpha": 2.0, "tau": 3.0}
    zero_boundary_input = True

    def _check_params(self) -> None:
        # k^2 = 2 pi^2 is the first Dirichlet eigenvalue of -Laplace: the problem becomes singular
        # near it; larger k is allowed but the user owns the resolution it needs.
        if self.params["k"] < 0:
            raise InputError(f"helmholtz: wave number k must be >= 0, got {self.params['k']}")

    @property
    def shift(self) -> float:
        return float(self.params["k"]) ** 2
