"""Partial observations of the joint field (a, u): a mask and observed values per channel.

Forward (a observed, u wanted), inverse (u observed, a wanted) and reconstruction (some of
both) differ only in the masks. Masks come from specs (``a:3%``, ``u:500``, ``a:all``) drawn
per sample from (mask seed, channel, sample index), so sample i gets the same mask in any
batch or subset, or from an observation file (``mask_a``, ``obs_a``, ``mask_u``, ``obs_u``,
each (n, N, N); any subset of the four).

A bad observation file -- missing or unreadable keys, groups instead of arrays, non-numeric,
complex or empty arrays, shapes that differ or are not (n, N, N) on a square grid, masks that
are not 0/1, observed values or true fields that are not finite or beyond :data:`MAX_ABS` -- is
a one-line :class:`InputError` raised before any work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pde_bench.conventions import InputError
from pde_bench.loading import check_finite, h5_keys, open_h5, read_h5

__all__ = ["CHANNELS", "MAX_ABS", "Observation", "ObserveSpec", "check_noise", "parse_observe", "read_observation",
           "write_observation"]

CHANNELS = ("a", "u")
FILE_KEYS = ("mask_a", "obs_a", "mask_u", "obs_u")
# Random streams of their own (docs/seeds.md): a leading tag keeps masks and observation noise apart from
# the data generators' streams (pde_bench.random_fields.sample_rng seeds [seed, stream, index]).
MASK_STREAM = 0x6D61736B  # "mask"
NOISE_STREAM = 0x6E6F6973  # "nois"
TRUTH_KEYS = ("a_true", "u_true")
# Largest magnitude accepted for observed values and true fields (physical units). The solve works
# in float32 (max 3.4e38) on normalised values and sums their squares: 1e12 leaves ample headroom
# for both, and lies far beyond any field of these problems.
MAX_ABS = 1e12


@dataclass(frozen=True)
class ObserveSpec:
    """How many pixels of one channel are observed: a fraction, a count, or all of them."""

    channel: str
    fraction: float | None = None  # in (0, 1]
    count: int | None = None

    def pixels(self, resolution: int) -> int:
        total = resolution * resolution
        if self.count is not None:
            if self.count > total:
                raise InputError(f"observe spec {self.channel}:{self.count}: more points than the "
                                 f"{resolution}x{resolution} grid holds ({total})")
            return self.count
        return max(1, round(self.fraction * total))

    def __str__(self) -> str:
        if self.count is not None:
            return f"{self.channel}:{self.count}"
        return f"{self.channel}:all" if self.fraction == 1 else f"{self.channel}:{100 * self.fraction:g}%"


def parse_observe(text: str) -> ObserveSpec:
    """``a:3%`` (a percentage in (0, 100]), ``u:500`` (a count >= 1) or ``a:all``."""
    m = re.fullmatch(r"\s*([au])\s*:\s*(all|[0-9.eE+-]+%|[0-9]+)\s*", text)
    if not m:
        raise InputError(f"observe spec {text!r}: expected CHANNEL:AMOUNT with channel a or u and amount "
                         "a percentage (3%), a count of points (500) or 'all'")
    channel, amount = m.group(1), m.group(2)
    if amount == "all":
        return ObserveSpec(channel, fraction=1.0)
    if amount.endswith("%"):
        try:
            pct = float(amount[:-1])
        except ValueError:
            raise InputError(f"observe spec {text!r}: {amount!r} is not a percentage") from None
        if not 0 < pct <= 100:
            raise InputError(f"observe spec {text!r}: the fraction must lie in (0, 100%], got {pct:g}%")
        return ObserveSpec(channel, fraction=pct / 100)
    count = int(amount)
    if count < 1:
        raise InputError(f"observe spec {text!r}: the count of points must be >= 1")
    return ObserveSpec(channel, count=count)


def _mask(spec: ObserveSpec, resolution: int, seed: int, sample: int) -> np.ndarray:
    k = spec.pixels(resolution)
    total = resolution * resolution
    mask = np.zeros(total, dtype=bool)
    if k == total:
        mask[:] = True
    else:
        rng = np.random.default_rng([MASK_STREAM, int(seed), CHANNELS.index(spec.channel), int(sample)])
        mask[rng.choice(total, size=k, replace=False)] = True
    return mask.reshape(resolution, resolution)


@dataclass
class Observation:
    """Masks (n, 2, N, N) bool and observed values (n, 2, N, N) float64 in physical units.

    Values where the mask is False are 0 and never read. ``noise`` is the observation noise
    std (physical units, per channel; 0 = noise-free, imposed exactly).
    """

    mask: np.ndarray
    values: np.ndarray
    noise: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        self.mask = np.asarray(self.mask, dtype=bool)
        self.values = np.where(self.mask, np.asarray(self.values, dtype=np.float64), 0.0)
        if self.mask.ndim != 4 or self.mask.shape[1] != 2 or self.mask.shape != self.values.shape:
            raise ValueError(f"masks and values must both be (n, 2, N, N), got {self.mask.shape}, {self.values.shape}")
        if self.mask.shape[-1] != self.mask.shape[-2]:
            raise ValueError(f"observations must be on a square grid, got {self.mask.shape[-2:]}")

    def __len__(self) -> int:
        return self.mask.shape[0]

    @property
    def resolution(self) -> int:
        return self.mask.shape[-1]

    def subset(self, index) -> Observation:
        return Observation(self.mask[index], self.values[index], self.noise)

    def fraction(self, channel: str) -> float:
        """Mean fraction of observed pixels of a channel."""
        return float(self.mask[:, CHANNELS.index(channel)].mean())

    def task(self) -> str:
        """forward (only a observed), inverse (only u), reconstruction (both) or generation (none)."""
        return self.task_of({ch for c, ch in enumerate(CHANNELS) if self.mask[:, c].any()})

    @staticmethod
    def task_of(observed: set[str]) -> str:
        return {frozenset("a"): "forward", frozenset("u"): "inverse", frozenset("au"): "reconstruction",
                frozenset(): "generation"}[frozenset(observed)]

    @classmethod
    def from_specs(cls, specs: list[ObserveSpec], a: np.ndarray, u: np.ndarray, *, seed: int = 0,
                   start: int = 0, noise: float = 0.0, noise_seed: int | None = None) -> Observation:
        """Observe true fields (n, N, N) through masks drawn per sample from (seed, channel, start + i).

        With ``noise`` > 0 the observed values get N(0, noise^2) added, drawn per sample too.
        """
        channels = [s.channel for s in specs]
        if len(set(channels)) != len(channels):
            raise InputError(f"observe specs name a channel twice: {', '.join(map(str, specs))}")
        noise = check_noise(noise)
        fields = {}
        for name, value in (("a", a), ("u", u)):
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise InputError(f"true field {name} has dtype {arr.dtype}; expected real numbers")
            fields[name] = arr.astype(np.float64)
        a, u = fields["a"], fields["u"]
        if a.ndim != 3 or a.shape[1] != a.shape[2] or a.size == 0 or a.shape != u.shape:
            raise InputError(f"true fields a {a.shape} and u {u.shape} must both be (n, N, N) with n, N >= 1")
        for name, arr in fields.items():
            check_finite(f"true field {name}", "", arr, bound=MAX_ABS, what="true fields")
        n, res = a.shape[0], a.shape[-1]
        mask = np.zeros((n, 2, res, res), dtype=bool)
        for spec in specs:
            c = CHANNELS.index(spec.channel)
            for i in range(n):
                mask[i, c] = _mask(spec, res, seed, start + i)
        values = np.stack([a, u], axis=1).copy()
        if noise > 0:
            for i in range(n):
                rng = np.random.default_rng([NOISE_STREAM, int(seed if noise_seed is None else noise_seed), start + i])
                values[i] += noise * rng.standard_normal(values[i].shape)
        return cls(mask, values, (float(noise), float(noise)))


def check_noise(noise) -> float:
    """The observation noise std as a float: finite and >= 0."""
    try:
        value = float(noise)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(noise, bool) or not (np.isfinite(value) and value >= 0):
        raise InputError(f"observation noise must be a finite number >= 0, got {noise!r}")
    return value


def read_observation(path: Path | str, *, noise: float = 0.0) -> tuple[Observation, dict[str, np.ndarray]]:
    """An observation file and any true fields it holds (``a_true``, ``u_true``).

    Keys ``mask_a``/``obs_a``/``mask_u``/``obs_u``, each (n, N, N) with n, N >= 1: a mask without
    values, or values without a mask, is an error; a channel with neither is unobserved. Masks
    hold 0/1 or booleans; observed values (where the mask is 1) and true fields are finite
    with magnitude < :data:`MAX_ABS`; values where the mask is 0 are never read. Anything else
    is a one-line :class:`InputError` naming the file and key.
    """
    noise = check_noise(noise)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such observation file")
    if not path.is_file():
        raise InputError(f"{path}: not a file; expected an HDF5 observation file")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file")
    with open_h5(path, "HDF5 observation file") as f:
        keys = h5_keys(f, path)
        present = [k for k in FILE_KEYS if k in keys]
        if not present:
            raise InputError(f"{path}: none of the keys {', '.join(FILE_KEYS)} (found: {', '.join(keys) or 'none'})")
        arrays = {k: read_h5(f, k, path) for k in (*FILE_KEYS, *TRUTH_KEYS) if k in keys}
    shape = None
    for k, v in arrays.items():
        if v.ndim != 3 or v.shape[1] != v.shape[2]:
            raise InputError(f"{path}: {k} has shape {v.shape}, expected (n, N, N) on a square grid")
        if v.size == 0:
            raise InputError(f"{path}: {k} has shape {v.shape}: no data; expected (n, N, N) with n, N >= 1")
        if shape is not None and v.shape != shape:
            raise InputError(f"{path}: {k} has shape {v.shape}, but another key has {shape}")
        shape = v.shape
    n, res = shape[0], shape[-1]
    mask = np.zeros((n, 2, res, res), dtype=bool)
    values = np.zeros((n, 2, res, res))
    for c, ch in enumerate(CHANNELS):
        mk, ok = f"mask_{ch}", f"obs_{ch}"
        if (mk in arrays) != (ok in arrays):
            have, miss = (mk, ok) if mk in arrays else (ok, mk)
            raise InputError(f"{path}: {have} is present but {miss} is missing")
        if mk in arrays:
            m = arrays[mk]
            if m.dtype != bool:
                bad = ~np.isin(m, (0, 1))
                if bad.any():
                    i = np.unravel_index(int(np.argmax(bad)), m.shape)
                    raise InputError(f"{path}: {mk} has {m[i].item()!r} at sample {i[0]}, index "
                                     f"{(int(i[1]), int(i[2]))}; a mask must hold only 0/1 or booleans")
            mask[:, c] = m.astype(bool)
            vals = arrays[ok].astype(np.float64)
            check_finite(path, ok, vals, where=mask[:, c], bound=MAX_ABS, what="observed values")
            values[:, c] = np.where(mask[:, c], vals, 0.0)
    truth = {}
    for k in TRUTH_KEYS:
        if k in arrays:
            truth[k[0]] = arrays[k].astype(np.float64)
            check_finite(path, k, truth[k[0]], bound=MAX_ABS, what="true fields")
    return Observation(mask, values, (noise, noise)), truth


def write_observation(path: Path | str, obs: Observation, truth: dict[str, np.ndarray] | None = None) -> None:
    """The file format :func:`read_observation` reads (masks as uint8, values float64)."""
    from pde_bench.conventions import atomic_output

    with atomic_output(Path(path), overwrite=True) as tmp, h5py.File(tmp, "w") as f:
        for c, ch in enumerate(CHANNELS):
            if obs.mask[:, c].any():
                f[f"mask_{ch}"] = obs.mask[:, c].astype(np.uint8)
                f[f"obs_{ch}"] = obs.values[:, c]
        for ch, v in (truth or {}).items():
            f[f"{ch}_true"] = np.asarray(v, dtype=np.float64)
