"""Torch access to data files: normalised (a, u) channels, memory-mapped where possible."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from . import storage
from .loading import resolve_split, stored_stats

__all__ = ["Normaliser", "FieldDataset"]


@dataclass(frozen=True)
class Normaliser:
    """Affine map of each channel to mean 0 and std ``sigma_data`` (0.5, the EDM convention)."""

    mean_a: float
    std_a: float
    mean_u: float
    std_u: float
    sigma_data: float = storage.SIGMA_DATA

    @classmethod
    def from_attrs(cls, attrs: dict, path: Path | str = "data") -> "Normaliser":
        s = stored_stats(attrs, Path(path))
        return cls(s["norm_mean_a"], s["norm_std_a"], s["norm_mean_u"], s["norm_std_u"])

    def _vectors(self, like: torch.Tensor):
        mean = torch.tensor([self.mean_a, self.mean_u], dtype=like.dtype, device=like.device)
        std = torch.tensor([self.std_a, self.std_u], dtype=like.dtype, device=like.device)
        return mean[:, None, None], std[:, None, None]

    def normalise(self, a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Physical (..., N, N) fields -> normalised channels (..., 2, N, N)."""
        x = torch.stack([a, u], dim=-3)
        mean, std = self._vectors(x)
        return (x - mean) / std * self.sigma_data

    def to_physical(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised channels (..., 2, N, N) -> physical (a, u), differentiably."""
        mean, std = self._vectors(x)
        y = x / self.sigma_data * std + mean
        return y[..., 0, :, :], y[..., 1, :, :]


class FieldDataset(torch.utils.data.Dataset):
    """Samples of a pde_bench file as normalised float32 tensors (2, N, N): channels (a, u).

    Arrays are memory-mapped (the files are contiguous and uncompressed), so a large file is
    never loaded whole; the normalisation is the training split's (stored in every split file).
    """

    def __init__(self, path: str | Path, split: str = "train", normaliser: Normaliser | None = None):
        self.path = resolve_split(path, split)
        self.attrs = storage.read_attrs(self.path)
        self.normaliser = normaliser or Normaliser.from_attrs(self.attrs, self.path)
        self._arrays = None
        with h5py.File(self.path, "r") as f:
            self._len = f["a"].shape[0]
            self.resolution = f["a"].shape[-1]

    def _open(self):
        arrays = []
        with h5py.File(self.path, "r") as f:
            for name in ("a", "u"):
                ds = f[name]
                offset = ds.id.get_offset()
                if offset is None:  # chunked or compressed: fall back to h5py reads
                    arrays = None
                    break
                arrays.append(np.memmap(self.path, mode="r", dtype=ds.dtype, offset=offset, shape=ds.shape))
        if arrays is None:
            f = h5py.File(self.path, "r")
            arrays = [f["a"], f["u"]]
        self._arrays = arrays

    def __len__(self) -> int:
        return self._len

    def batch(self, indices) -> torch.Tensor:
        """Normalised samples at ``indices`` (any order) as one (B, 2, N, N) float32 tensor."""
        if self._arrays is None:
            self._open()
        uniq, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
        a, u = (np.asarray(arr[uniq], dtype=np.float32)[inverse] for arr in self._arrays)
        return self.normaliser.normalise(torch.from_numpy(a), torch.from_numpy(u))

    def __getitem__(self, index):
        if self._arrays is None:
            self._open()  # per process: safe with DataLoader workers
        a, u = (torch.from_numpy(np.array(arr[index], dtype=np.float32)) for arr in self._arrays)
        return self.normaliser.normalise(a, u)
