"""Gaussian random fields used to draw PDE inputs (FNO / DiffusionPDE generators).

Each sample draws its own standard normals from a generator seeded by (seed, stream, index),
so any subset of a data set can be regenerated alone and splits use disjoint streams.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft

__all__ = ["sample_rng", "standard_normals", "grf_cosine", "grf_periodic"]


def sample_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator of sample ``index`` of stream ``stream`` of a data set with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream), int(index)]))


def standard_normals(shape: tuple[int, ...], n: int, seed: int, start: int = 0,
                     stream: int = 0) -> np.ndarray:
    """(n, *shape) standard normals, sample i drawn from ``sample_rng(seed, start + i, stream)``."""
    out = np.empty((n, *shape))
    for i in range(n):
        out[i] = sample_rng(seed, start + i, stream).standard_normal(shape)
    return out


def grf_cosine(xi: np.ndarray, alpha: float = 2.0, tau: float = 3.0) -> np.ndarray:
    """Gaussian random field on an N x N grid from standard normals ``xi`` (..., N, N).

    As FNO's ``GRF.m`` (used by DiffusionPDE for Darcy, Poisson and Helmholtz): KL
    coefficients ``N * tau^(alpha-1) * (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha/2) * xi`` on the
    orthonormal cosine (DCT-II) basis, the constant mode removed, mapped to the grid by the
    inverse orthonormal DCT-II. Equivalent to a draw from N(0, (-Laplace + tau^2)^(-alpha))
    with Neumann boundaries, up to the constant factor tau^(alpha-1).
    """
    n = xi.shape[-1]
    if xi.shape[-2] != n:
        raise ValueError(f"grf_cosine needs square normals, got shape {xi.shape}")
    k = np.arange(n)
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    coef = tau ** (alpha - 1.0) * (math.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2.0)
    coeffs = n * coef * xi
    coeffs[..., 0, 0] = 0.0
    return sfft.idctn(coeffs, type=2, norm="ortho", axes=(-2, -1))


def grf_periodic(xi: np.ndarray, alpha: float = 2.5, tau: float = 7.0,
                 sigma: float | None = None) -> np.ndarray:
    """Periodic Gaussian random field on an N x N torus from normals ``xi`` (..., 2, N, N).

    As FNO's ``GaussianRF(2, N, alpha, tau)`` (the Navier-Stokes initial vorticity): complex
    Fourier coefficients ``(xi_re + i xi_im) * N^2 sqrt(2) sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2)``
    with integer wave numbers k, the constant mode removed, real part of the inverse FFT.
    ``sigma`` defaults to ``tau^(0.5 (2 alpha - 2))``.
    """
    n = xi.shape[-1]
    if xi.shape[-3:] != (2, n, n):
        raise ValueError(f"grf_periodic needs normals shaped (..., 2, N, N), got {xi.shape}")
    if sigma is None:
        sigma = tau ** (0.5 * (2.0 * alpha - 2.0))
    m = np.fft.fftfreq(n, d=1.0 / n)
    k1, k2 = np.meshgrid(m, m, indexing="ij")
    sqrt_eig = n**2 * math.sqrt(2.0) * sigma * (4 * math.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2.0)
    sqrt_eig[0, 0] = 0.0
    coeffs = sqrt_eig * (xi[..., 0, :, :] + 1j * xi[..., 1, :, :])
    return np.fft.ifft2(coeffs, axes=(-2, -1)).real
