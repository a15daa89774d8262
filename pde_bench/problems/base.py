"""The :class:`Problem` interface shared by every PDE family, and the name registry."""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np
import torch

from ..conventions import InputError
from ..random_fields import standard_normals

__all__ = ["Problem", "register", "get_problem", "problem_names", "MIN_RESOLUTION"]

MIN_RESOLUTION = 8
_REGISTRY: dict[str, type["Problem"]] = {}


def register(cls: type["Problem"]) -> type["Problem"]:
    """Class decorator: make a problem available to :func:`get_problem` under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def problem_names() -> list[str]:
    return sorted(_REGISTRY)


def get_problem(name: str, **params) -> "Problem":
    """The problem registered as ``name`` (e.g. ``"darcy"``), with physical parameters overridden."""
    key = name.strip().lower().replace("_", "-")
    if key not in _REGISTRY:
        raise InputError(f"unknown problem {name!r}; expected one of {', '.join(problem_names())}")
    return _REGISTRY[key](**params)


class Problem(abc.ABC):
    """One PDE family on the unit square: inputs ``a``, solution ``u``, solver and residual.

    Arrays are (sample, x, y) -- first spatial axis x. Subclasses set ``name``, ``boundary``
    (``"dirichlet"``: N x N nodes including the boundary, x_i = i/(N-1); ``"periodic"``:
    x_i = i/N), ``equation`` and ``defaults`` (the physical parameters and their defaults).
    """

    name: ClassVar[str]
    boundary: ClassVar[str]
    equation: ClassVar[str]
    defaults: ClassVar[dict]
    channels: ClassVar[tuple[str, str]] = ("a", "u")

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise InputError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                             f"expected some of {', '.join(sorted(self.defaults))}")
        self.params = {}
        for key, value in {**self.defaults, **params}.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            if not np.isfinite(number):
                raise InputError(f"{self.name}: parameter {key} must be a finite number, got {value!r}")
            self.params[key] = number
        self._check_params()

    def _check_params(self) -> None:
        """Raise :class:`InputError` for physically meaningless parameters."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- grid ---------------------------------------------------------------------------
    def coordinates(self, resolution: int) -> np.ndarray:
        """Node coordinates along one axis (the same for x and y)."""
        resolution = check_resolution(resolution)
        if self.boundary == "periodic":
            return np.arange(resolution) / resolution
        return np.linspace(0.0, 1.0, resolution)

    def spacing(self, resolution: int) -> float:
        """Grid spacing h in physical units."""
        return 1.0 / resolution if self.boundary == "periodic" else 1.0 / (resolution - 1)

    # -- data ---------------------------------------------------------------------------
    @abc.abstractmethod
    def normals_shape(self, resolution: int) -> tuple[int, ...]:
        """Shape of one sample's standard-normal latent xi (the generator's prior is N(0, I))."""

    @abc.abstractmethod
    def inputs_from_normals(self, xi) -> np.ndarray:
        """Inputs ``a`` (n, N, N), float64, from latents ``xi`` (n, *normals_shape(N)).

        The generator's own map, so a posterior over xi (MCMC, the Gaussian oracle) is a
        posterior over the data's inputs.
        """

    def level_field(self, xi) -> np.ndarray | None:
        """The Gaussian field g (n, N, N), linear in ``xi``, whose sign sets a two-valued input (a = the high
        level where g >= 0), or None where the input is not such a level set (the default).

        Where it exists, an exactly observed pixel of a fixes the sign of g there: a linear constraint on
        xi, which a sampler of the posterior can impose exactly (:mod:`piddm.evaluate.elliptical`).
        """
        return None

    def level_signs(self, a) -> np.ndarray:
        """+1 where an input value lies on the level of g >= 0, else -1 (problems with a :meth:`level_field`)."""
        raise NotImplementedError(f"{self.name}: its input is not a level set of a Gaussian field")

    def sample_inputs(self, n: int, resolution: int, seed: int, start: int = 0,
                      stream: int = 0) -> np.ndarray:
        """Inputs ``a`` (n, N, N), float64; sample i seeded from (seed, stream, start + i)."""
        shape = self.normals_shape(check_resolution(resolution))
        return self.inputs_from_normals(standard_normals(shape, n, seed, start, stream))

    def _normals(self, xi) -> np.ndarray:
        """``xi`` as float64 numpy (n, *normals_shape(N)), N its last axis; else InputError."""
        xi = np.asarray(xi, dtype=np.float64)
        shape = self.normals_shape(check_resolution(xi.shape[-1])) if xi.ndim >= 2 else ()
        if not shape or xi.shape[1:] != shape:
            raise InputError(f"{self.name}: latent normals must be shaped (n, *{shape or '(..., N)'}), got {xi.shape}")
        if not np.isfinite(xi).all():
            raise InputError(f"{self.name}: latent normals contain non-finite values (NaN or inf)")
        return xi

    @abc.abstractmethod
    def solve(self, a) -> np.ndarray:
        """The numerical solution ``u`` (n, N, N) for inputs ``a`` (n, N, N) or (N, N)."""

    def generate(self, n: int, resolution: int = 64, seed: int = 0, start: int = 0,
                 stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Samples ``start .. start+n-1`` of the data set ``(seed, stream)``: (a, u), float64."""
        n = check_count(n)
        a = self.sample_inputs(n, check_resolution(resolution), seed, start=start, stream=stream)
        return a, self.solve(a)

    # -- physics ------------------------------------------------------------------------
    @abc.abstractmethod
    def residual(self, a, u, *, check: bool = True) -> torch.Tensor:
        """Differentiable PDE residual of (a, u) in physical units: the solver's own operator."""

    def boundary_residual(self, u, *, check: bool = True) -> torch.Tensor:
        """Boundary-condition violation: u on the boundary ring (..., 4N-4) for u = 0 on dOmega."""
        u = as_field(u, "u") if check else torch.as_tensor(u)
        ring = [u[..., 0, :], u[..., -1, :], u[..., 1:-1, 0], u[..., 1:-1, -1]]
        return torch.cat(ring, dim=-1)

    def finalize_inputs(self, a):
        """Map generated inputs to the values the problem allows before anything is reported.

        Identity here; Darcy thresholds a to its two levels (DESIGN.md rule 3).
        """
        return a

    def relax_inputs(self, a, temperature: float):
        """A differentiable stand-in for :meth:`finalize_inputs` that tends to it as ``temperature`` -> 0 (a
        torch tensor in, one out). Identity here; Darcy: a sigmoid between its two levels."""
        return a

    @abc.abstractmethod
    def residual_scale(self, a, u) -> float:
        """The fixed residual scale of a data set (DESIGN.md rule 3), from its training arrays."""

    def describe(self) -> dict:
        """Attributes for data files and reports."""
        return {"problem": self.name, "equation": self.equation, "boundary": self.boundary,
                "channels": list(self.channels), **{f"param_{k}": v for k, v in self.params.items()}}


# -- validation helpers shared by the problems ---------------------------------------------
def check_resolution(resolution) -> int:
    try:
        value = int(resolution)
    except (TypeError, ValueError):
        raise InputError(f"resolution must be an integer, got {resolution!r}") from None
    if value != resolution or value < MIN_RESOLUTION:
        raise InputError(f"resolution must be an integer >= {MIN_RESOLUTION}, got {resolution!r}")
    return value


def check_count(n) -> int:
    if int(n) != n or n < 1:
        raise InputError(f"number of samples must be a positive integer, got {n!r}")
    return int(n)


def as_field(x, name: str) -> torch.Tensor:
    """``x`` as a floating torch tensor (..., N, N), N >= 8, all finite; else :class:`InputError`."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if not x.is_floating_point():
        x = x.to(torch.float64)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise InputError(f"{name} must be shaped (..., N, N) with a square grid, got {tuple(x.shape)}")
    if x.shape[-1] < MIN_RESOLUTION:
        raise InputError(f"{name} has resolution {x.shape[-1]}, below the minimum {MIN_RESOLUTION}")
    if not bool(torch.isfinite(x).all()):
        raise InputError(f"{name} contains non-finite values (NaN or inf)")
    return x


def as_pair(a, u, check: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, u) as tensors of one shape and dtype (validated when ``check``)."""
    if check:
        a, u = as_field(a, "a"), as_field(u, "u")
        if a.shape != u.shape:
            raise InputError(f"a and u must have the same shape, got {tuple(a.shape)} and {tuple(u.shape)}")
    else:
        a, u = torch.as_tensor(a), torch.as_tensor(u)
    dtype = torch.promote_types(a.dtype, u.dtype)
    return a.to(dtype), u.to(dtype)


def as_batch(a, name: str = "a") -> np.ndarray:
    """Solver input as float64 numpy (n, N, N); a single (N, N) field becomes a batch of one."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise InputError(f"{name} must be shaped (n, N, N) or (N, N), got {a.shape}")
    check_resolution(a.shape[-1])
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains non-finite values (NaN or inf)")
    return a


def interior_rms(x: np.ndarray) -> float:
    """RMS over all samples of the interior nodes of (n, N, N) fields."""
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64)[..., 1:-1, 1:-1] ** 2)))
