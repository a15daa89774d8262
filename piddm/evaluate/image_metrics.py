"""Sample-quality metrics of image generators on feature vectors (pure numpy functions).

- :func:`frechet_distance`: ‖μ₁ - μ₂‖² + tr(Σ₁ + Σ₂ - 2 (Σ₁Σ₂)^½) between Gaussian fits of two feature
  sets (FID when the features are Inception's; here a label says whose features they are).
- :func:`precision_recall`: improved precision and recall (Kynkäänniemi et al., NeurIPS 2019): each
  set's manifold is the union of balls reaching each point's k-th nearest neighbour in its own set;
  precision = share of generated points inside the real manifold, recall = share of real points
  inside the generated one.
- :func:`frechet_ratio_interval`: a bootstrap interval of FD(A)/FD(B) for two generators scored
  against the same real features, resampling the generated samples by shared index (paired: sample
  i of both methods comes from the same noise).
"""

from __future__ import annotations

import numpy as np

__all__ = ["frechet_distance", "frechet_ratio_interval", "gaussian_fit", "precision_recall"]


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be (n >= 2, d), got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _real_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, covariance, covariance^½) of a reference set: the square root once, by a symmetric eigensolve."""
    mu, cov = gaussian_fit(features)
    w, v = np.linalg.eigh(cov)
    return mu, cov, (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _fd_to(real: tuple[np.ndarray, np.ndarray, np.ndarray], features: np.ndarray) -> float:
    """FD of ``features`` to a reference set's :func:`_real_stats`.

    tr (Σ Σ_r)^½ is the sum of the square roots of the eigenvalues of Σ Σ_r, which equal those of the
    symmetric R Σ R (R = Σ_r^½) = MᵀM with M = X R / √(n - 1) (X the centred features): one symmetric
    eigensolve of the smaller of MᵀM (d × d) and MMᵀ (n × n), exact and fast for n < d."""
    mu_r, cov_r, root = real
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2 or f.shape[1] != len(mu_r):
        raise ValueError(f"features must be (n >= 2, {len(mu_r)}), got shape {f.shape}")
    mu = f.mean(0)
    x = f - mu
    m = x @ root / np.sqrt(len(f) - 1)
    gram = m @ m.T if len(f) < m.shape[1] else m.T @ m
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0, None)).sum()
    return float(((mu - mu_r) ** 2).sum() + (x * x).sum() / (len(f) - 1) + np.trace(cov_r) - 2 * tr_sqrt)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of feature sets ``a`` (n, d) and ``b`` (m, d)."""
    return _fd_to(_real_stats(b), a)


def _kth_radius(x: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        d = _sqdist(x[i:i + chunk], x)
        out[i:i + chunk] = np.sqrt(np.partition(d, k, axis=1)[:, k])  # index 0 is the point itself
    return out


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 2048) -> np.ndarray:
    hit = np.zeros(len(points), dtype=bool)
    for i in range(0, len(points), chunk):
        d = np.sqrt(_sqdist(points[i:i + chunk], centres))
        hit[i:i + chunk] = (d <= radii[None, :]).any(1)
    return hit


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of ``fake`` against ``real`` feature sets, k-NN manifolds (k = 3 as the paper)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k = {k} needs more than {k} points per set")
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    return float(_inside(fake, real, r_real).mean()), float(_inside(real, fake, r_fake).mean())


def frechet_ratio_interval(a: np.ndarray, b: np.ndarray, real: np.ndarray, *, resamples: int = 200,
                           seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(FD(a)/FD(b), lo, hi): percentile bootstrap over generated samples, a and b resampled by the same indices."""
    if len(a) != len(b):
        raise ValueError(f"paired feature sets must have the same length, got {len(a)} and {len(b)}")
    ref = _real_stats(real)
    est = _fd_to(ref, a) / _fd_to(ref, b)
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(resamples):
        idx = rng.integers(0, len(a), len(a))
        ratios.append(_fd_to(ref, a[idx]) / _fd_to(ref, b[idx]))
    lo, hi = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return float(est), float(lo), float(hi)
