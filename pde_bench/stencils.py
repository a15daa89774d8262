"""Five-point finite-difference operators on the Dirichlet node grid, in two forms.

The torch functions are the differentiable residual stencils; :func:`flux_matrix` assembles the
very same operator as a sparse matrix for the solvers, so ground truth produced by a solver has
a residual at the floating-point floor. Fields are (..., N, N) on nodes x_i = i/(N-1), first
axis x; operators act on the (N-2) x (N-2) interior nodes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["harmonic_faces", "flux_divergence", "laplacian", "flux_matrix"]


def harmonic_faces(a):
    """Harmonic means of nodal ``a`` on the x-faces (N-1, N) and y-faces (N, N-1).

    Works on numpy arrays and torch tensors alike.
    """
    ax = 2.0 * a[..., 1:, :] * a[..., :-1, :] / (a[..., 1:, :] + a[..., :-1, :])
    ay = 2.0 * a[..., :, 1:] * a[..., :, :-1] / (a[..., :, 1:] + a[..., :, :-1])
    return ax, ay


def flux_divergence(a: torch.Tensor, u: torch.Tensor, h: float) -> torch.Tensor:
    """div(a grad u) on interior nodes: five-point flux form with harmonic face averages of a."""
    ax, ay = harmonic_faces(a)
    fx = ax * (u[..., 1:, :] - u[..., :-1, :])
    fy = ay * (u[..., :, 1:] - u[..., :, :-1])
    div = (fx[..., 1:, 1:-1] - fx[..., :-1, 1:-1]) + (fy[..., 1:-1, 1:] - fy[..., 1:-1, :-1])
    return div / h**2


def laplacian(u: torch.Tensor, h: float) -> torch.Tensor:
    """Five-point Laplacian on interior nodes (differences first, for float32 accuracy)."""
    c = u[..., 1:-1, 1:-1]
    dxx = (u[..., 2:, 1:-1] - c) - (c - u[..., :-2, 1:-1])
    dyy = (u[..., 1:-1, 2:] - c) - (c - u[..., 1:-1, :-2])
    return (dxx + dyy) / h**2


def flux_matrix(ax: np.ndarray, ay: np.ndarray, h: float) -> sp.csc_matrix:
    """Sparse matrix of u -> div(a grad u) on the interior unknowns, with u = 0 on the boundary.

    ``ax`` (N-1, N) and ``ay`` (N, N-1) are face coefficients; unknown (i, j), 1 <= i, j <= N-2,
    has index (i-1)(N-2) + (j-1). With ax = ay = 1 this is the five-point Laplacian.
    """
    n = ax.shape[-1]
    m = n - 2
    idx = np.arange(m * m).reshape(m, m)
    east = ax[1:, 1:-1]    # face (i+1/2, j) for interior i, j: (m, m)
    west = ax[:-1, 1:-1]   # face (i-1/2, j)
    north = ay[1:-1, 1:]   # face (i, j+1/2)
    south = ay[1:-1, :-1]  # face (i, j-1/2)
    rows = [idx.ravel()]
    cols = [idx.ravel()]
    vals = [-(east + west + north + south).ravel()]
    for coef, shift in ((east, (1, 0)), (west, (-1, 0)), (north, (0, 1)), (south, (0, -1))):
        di, dj = shift
        src = idx[max(0, -di):m - max(0, di), max(0, -dj):m - max(0, dj)]
        dst = idx[max(0, di):m + min(0, di), max(0, dj):m + min(0, dj)]
        c = coef[max(0, -di):m - max(0, di), max(0, -dj):m - max(0, dj)]
        rows.append(src.ravel())
        cols.append(dst.ravel())
        vals.append(c.ravel())
    mat = sp.coo_matrix(
        (np.concatenate(vals) / h**2, (np.concatenate(rows), np.concatenate(cols))),
        shape=(m * m, m * m),
    )
    return mat.tocsc()
