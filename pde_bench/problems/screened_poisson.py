"""Shared core of the constant-coefficient problems: Laplace(u) + c u = a, u = 0 on the boundary.

Poisson is c = 0, Helmholtz c = k^2. The operator is the five-point Laplacian plus c times the
identity; one sparse LU factorisation per (N, c) solves all samples at once.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..random_fields import grf_cosine
from ..stencils import flux_matrix, laplacian
from .base import Problem, as_batch, as_pair, interior_rms


@functools.lru_cache(maxsize=8)
def _factorised(n_side: int, shift: float):
    """LU factors of the interior operator Laplace_h + shift*I for an N x N node grid."""
    ones_x, ones_y = np.ones((n_side - 1, n_side)), np.ones((n_side, n_side - 1))
    mat = flux_matrix(ones_x, ones_y, 1.0 / (n_side - 1))
    if shift:
        mat = (mat + shift * sp.identity(mat.shape[0], format="csc")).tocsc()
    return splu(mat)


class ScreenedPoisson(Problem):
    """Laplace(u) + shift * u = a with a cosine GRF; subclasses define ``shift``."""

    boundary = "dirichlet"
    zero_boundary_input = False  # Helmholtz zeroes a on the boundary, as DiffusionPDE does

    @property
    def shift(self) -> float:
        return 0.0

    def normals_shape(self, resolution):
        return (resolution, resolution)

    def inputs_from_normals(self, xi):
        """The cosine GRF of xi (zero on the boundary where ``zero_boundary_input``)."""
        a = grf_cosine(self._normals(xi), self.params["alpha"], self.params["tau"])
        if self.zero_boundary_input:
            a[..., 0, :] = a[..., -1, :] = a[..., :, 0] = a[..., :, -1] = 0.0
        return a

    def solve(self, a):
        a = as_batch(a)
        n, n_side = a.shape[0], a.shape[-1]
        rhs = a[:, 1:-1, 1:-1].reshape(n, -1).T
        u = np.zeros_like(a)
        u[:, 1:-1, 1:-1] = _factorised(n_side, self.shift).solve(rhs).T.reshape(n, n_side - 2, n_side - 2)
        return u

    def residual(self, a, u, *, check=True):
        """Laplace_h(u) + shift*u - a on interior nodes (..., N-2, N-2)."""
        a, u = as_pair(a, u, check)
        lap = laplacian(u, self.spacing(u.shape[-1]))
        if self.shift:
            lap = lap + self.shift * u[..., 1:-1, 1:-1]
        return lap - a[..., 1:-1, 1:-1]

    def residual_scale(self, a, u):
        """RMS of the right-hand side a over the interior nodes of the training set."""
        return interior_rms(a)
