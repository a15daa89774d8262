"""The one-step student G(eps) and its distillation pairs.

G(eps) = c_out(sigma_max) F(c_in(sigma_max) sigma_max eps; c_noise(sigma_max)): the teacher's
network at sigma_max *without* EDM's skip term. With the skip, D(sigma_max eps; sigma_max)
would add c_skip sigma_max eps = 3.1e-3 eps of white noise to every output, which alone gives
a visible residual at 32^2 (a second difference of white noise is large); without it the output
is all network. Initialised from the teacher's EMA weights, so training starts from the
teacher's own one-step guess (its posterior mean at sigma_max, close to the data mean).

Pairs (eps, x0): x0 is the teacher's deterministic Heun solution from sigma_max eps.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from .edm import Denoiser, EDMSchedule
from .noise import standard_noise
from .sampling import generate

__all__ = ["Student", "file_hash", "make_pairs", "read_pairs", "sample_student", "write_pairs"]

SIGMA_MAX = EDMSchedule().sigma_max


class Student(nn.Module):
    """One network call from standard-normal noise eps (B, 2, N, N) to a normalised field."""

    def __init__(self, denoiser: Denoiser, sigma_max: float = SIGMA_MAX):
        super().__init__()
        self.denoiser = copy.deepcopy(denoiser).train().requires_grad_(True)
        self.sigma_max = float(sigma_max)

    def forward(self, eps: torch.Tensor) -> torch.Tensor:
        sigma = torch.full((eps.shape[0],), self.sigma_max, device=eps.device)
        return self.denoiser.raw(eps * self.sigma_max, sigma)


def file_hash(path: Path) -> str:
    """SHA-256 of a file (first 16 hex digits): ties cached pairs to the teacher that made them."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


@torch.no_grad()
def make_pairs(denoiser: Denoiser, n: int, resolution: int, *, steps: int, seed: int, start: int = 0,
               batch: int = 128, device=None, on_progress=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pairs (eps, x0), eps of sample i from noise seed (seed, start + i); float32 on CPU."""
    device = device or next(denoiser.parameters()).device
    eps_all, x0_all = [], []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        eps = standard_noise(m, (2, resolution, resolution), seed=seed, start=start + i)
        x0 = generate(denoiser, eps.to(device), steps=steps).x.cpu()
        eps_all.append(eps)
        x0_all.append(x0)
        if on_progress:
            on_progress(m)
    return torch.cat(eps_all), torch.cat(x0_all)


def write_pairs(path: Path, eps: torch.Tensor, x0: torch.Tensor, attrs: dict) -> None:
    """Cache pairs as HDF5 (``eps``, ``x0`` (n, 2, N, N) float32 and the teacher hash / steps)."""
    from pde_bench.conventions import atomic_output

    with atomic_output(path, overwrite=True) as tmp, h5py.File(tmp, "w") as f:
        f["eps"] = eps.numpy().astype(np.float32)
        f["x0"] = x0.numpy().astype(np.float32)
        for k, v in attrs.items():
            f.attrs[k] = v


def read_pairs(path: Path, expect: dict) -> tuple[torch.Tensor, torch.Tensor, dict] | None:
    """Cached (eps, x0, attrs) if ``path`` exists and its attributes match ``expect`` (else None)."""
    if not Path(path).exists():
        return None
    with h5py.File(path, "r") as f:
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in f.attrs.items()}
        if any(k not in attrs or (np.asarray(attrs[k]) != np.asarray(v)).any() for k, v in expect.items()):
            return None
        return torch.from_numpy(f["eps"][...]), torch.from_numpy(f["x0"][...]), attrs


def sample_student(student: Student, normaliser, n: int, resolution: int, *, seed: int = 0, batch: int = 128, device=None,
                   refine: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   on_progress: Callable[[int], None] | None = None, stream: str = "evaluation",
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` one-step samples (sample i from noise (stream, seed, i)) as physical float64 (a_raw, u).

    ``refine``, if given, maps a batch of noise to the final normalised output instead of one
    student call (PIDDM-ref); gradients are enabled only inside it. As for the teacher, a_raw is
    the continuous a: apply ``finalize_inputs`` before reporting.
    """
    device = device or next(student.parameters()).device
    res = resolution
    a_all, u_all = [], []
    for start in range(0, n, batch):
        m = min(batch, n - start)
        eps = standard_noise(m, (2, res, res), seed=seed, start=start, stream=stream).to(device)
        if refine is None:
            with torch.no_grad():
                x = student(eps)
        else:
            x = refine(eps)
        a, u = normaliser.to_physical(x.detach().double().cpu())
        a_all.append(a.numpy())
        u_all.append(u.numpy())
        if on_progress:
            on_progress(m)
    return np.concatenate(a_all), np.concatenate(u_all)
