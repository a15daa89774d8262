"""Darcy flow: -div(a grad u) = f on the unit square, u = 0 on the boundary.

a is two-valued (``a_high`` where a cosine GRF is >= 0, else ``a_low``), f is constant (1).
Solver and residual share one operator: the five-point flux form with harmonic face averages
of the nodal a, solved by a sparse direct solve per sample.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import splu

from ..conventions import InputError
from ..random_fields import grf_cosine
from ..stencils import flux_divergence, flux_matrix, harmonic_faces
from .base import Problem, as_batch, as_pair, register


@register
class Darcy(Problem):
    name = "darcy"
    boundary = "dirichlet"
    equation = "-div(a grad u) = f in (0,1)^2, u = 0 on the boundary"
    defaults = {"a_high": 12.0, "a_low": 3.0, "alpha": 2.0, "tau": 3.0, "forcing": 1.0,
                "a_floor": 1e-2}

    def _check_params(self) -> None:
        p = self.params
        if not (p["a_high"] > 0 and p["a_low"] > 0 and p["a_floor"] > 0):
            raise InputError(f"darcy: a_high, a_low and a_floor must be positive, got {p}")

    @property
    def threshold(self) -> float:
        """Value that splits a generated or predicted a into its two levels."""
        return 0.5 * (self.params["a_high"] + self.params["a_low"])

    def binarize(self, a):
        """Threshold a (numpy or torch) to {a_low, a_high}, as every report does."""
        hi, lo = self.params["a_high"], self.params["a_low"]
        if isinstance(a, torch.Tensor):
            return torch.where(a >= self.threshold, torch.full_like(a, hi), torch.full_like(a, lo))
        return np.where(np.asarray(a) >= self.threshold, hi, lo)

    def finalize_inputs(self, a):
        return self.binarize(a)

    def relax_inputs(self, a, temperature: float):
        """a_low + (a_high - a_low) sigmoid((a - threshold) / (temperature (a_high - a_low))): the threshold
        smoothed over a width of ``temperature`` level gaps; :meth:`binarize` as temperature -> 0."""
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        hi, lo = self.params["a_high"], self.params["a_low"]
        return lo + (hi - lo) * torch.sigmoid((a - self.threshold) / (temperature * (hi - lo)))

    def normals_shape(self, resolution):
        return (resolution, resolution)

    def inputs_from_normals(self, xi):
        """``a_high`` where the cosine GRF of xi is >= 0, else ``a_low``."""
        p = self.params
        return np.where(self.level_field(xi) >= 0.0, p["a_high"], p["a_low"])

    def level_field(self, xi):
        """The cosine GRF of xi, whose sign sets a."""
        return grf_cosine(self._normals(xi), self.params["alpha"], self.params["tau"])

    def level_signs(self, a):
        return np.where(np.asarray(a, dtype=np.float64) >= self.threshold, 1.0, -1.0)

    def solve(self, a):
        a = as_batch(a)
        if (a <= 0).any():
            raise InputError(f"darcy: a must be positive to solve, got min {a.min():.3g}")
        n_side = a.shape[-1]
        h = self.spacing(n_side)
        rhs = np.full((n_side - 2) ** 2, -self.params["forcing"])  # div(a grad u) = -f
        u = np.zeros_like(a)
        for i, ai in enumerate(a):
            mat = flux_matrix(*harmonic_faces(ai), h)
            u[i, 1:-1, 1:-1] = splu(mat).solve(rhs).reshape(n_side - 2, n_side - 2)
        return u

    def residual(self, a, u, *, check=True, forcing=None):
        """-div(a grad u) - f on interior nodes (..., N-2, N-2); a clamped to ``a_floor``.

        ``forcing`` (a number or a (..., N, N) field) replaces the constant f, e.g. for
        manufactured solutions.
        """
        a, u = as_pair(a, u, check)
        h = self.spacing(u.shape[-1])
        f = self.params["forcing"] if forcing is None else _interior(forcing, u)
        return -flux_divergence(a.clamp_min(self.params["a_floor"]), u, h) - f

    def residual_scale(self, a, u):
        """RMS of the right-hand side f: |f| for the constant forcing."""
        return abs(float(self.params["forcing"]))


def _interior(f, like: torch.Tensor):
    f = torch.as_tensor(f, dtype=like.dtype, device=like.device)
    return f[..., 1:-1, 1:-1] if f.ndim >= 2 else f
