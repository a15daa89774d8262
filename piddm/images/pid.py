"""Physics Informed Distillation (Tee et al., TMLR 2024): the teacher's probability-flow ODE as the physics.

The PF-ODE of an EDM denoiser D is dx/dt = (x - D(x; t)) / t, i.e. the residual x - t dx/dt - D(x; t)
vanishes along every trajectory. The student x_θ(z, t) is a trajectory as a function of its end
noise z ~ N(0, T² I) and time t; it is trained on that residual with the time derivative taken by a
finite difference between neighbouring points of a Karras grid (no data, no pairs). At t = T it is
z by construction, and one call x_θ(z, σ_min) is a sample. This module holds the student, the
physics object (:class:`PFODEResidual`, the image counterpart of :class:`piddm.physics.PhysicsLoss`)
and the distances the residual is measured with.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from pde_bench.conventions import InputError

from ..edm import SIGMA_DATA, Denoiser, EDMSchedule
from ..sampling import karras_sigmas

__all__ = ["DISTANCES", "PFODEResidual", "PIDStudent", "make_distance", "pseudo_huber"]


class PIDStudent(nn.Module):
    """x_θ(z, t) = (t/T) z + (1 - t/T) F_θ(c_in(T) z, ¼ ln t), F_θ the teacher's backbone (a copy, trainable).

    ``z`` is noise at scale T (``T * eps``); c_in(T) = 1/√(T² + σ_d²) is fixed, so only the time
    embedding tells the network which point of the trajectory to return.
    """

    def __init__(self, denoiser: Denoiser, sigma_max: float = EDMSchedule().sigma_max,
                 sigma_min: float = EDMSchedule().sigma_min):
        super().__init__()
        self.denoiser = copy.deepcopy(denoiser).train().requires_grad_(True)
        for m in self.denoiser.modules():  # the paper trains with dropout 0: independent masks in y and y₂ would
            if isinstance(m, nn.Dropout):  # be amplified by t_i / (t_i - t_j) (10-46× on the N = 250 grid)
                m.p = 0.0
        self.T, self.sigma_min = float(sigma_max), float(sigma_min)
        self.c_in = 1.0 / math.sqrt(self.T**2 + getattr(denoiser, "sigma_data", SIGMA_DATA) ** 2)

    def forward(self, z: torch.Tensor, t, labels: torch.Tensor | None = None) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=z.device).reshape(-1).expand(z.shape[0])
        shape = (-1,) + (1,) * (z.ndim - 1)
        w = (t / self.T).reshape(shape).to(z.dtype)
        f = self.denoiser.backbone((self.c_in * z).float(), (t.log() / 4).float(), labels).to(z.dtype)
        return w * z + (1 - w) * f

    def sample(self, eps: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One-step samples from standard-normal ``eps``: x_θ(T eps, σ_min), clipped to the data range [-1, 1]."""
        return self(eps * self.T, self.sigma_min, labels).clamp(-1, 1)


def pseudo_huber(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """√(‖a - b‖² + c²) - c per sample, c = 0.00054 √d (improved consistency training's constant)."""
    d = a[0].numel()
    c = 0.00054 * math.sqrt(d)
    return ((a - b).flatten(1).pow(2).sum(1) + c * c).sqrt() - c


def _l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).flatten(1).pow(2).mean(1)


DISTANCES = ("lpips", "pseudo-huber", "l2")


def make_distance(name: str, *, lpips_net: str = "vgg", lpips_weights: str | None = None, device="cpu"):
    """d(a, b) -> (B,) for images in [-1, 1]: ``l2`` (mean square), ``pseudo-huber`` or ``lpips`` (the paper's:
    inputs upsampled bilinearly to 224², grey images repeated to 3 channels; the trunk's weights from
    ``lpips_weights``, see :func:`piddm.images.lpips_weights.load_lpips`)."""
    if name == "l2":
        return _l2
    if name == "pseudo-huber":
        return pseudo_huber
    if name != "lpips":
        raise InputError(f"unknown distance {name!r}; expected one of {', '.join(DISTANCES)}")
    from .lpips_weights import load_lpips

    net = load_lpips(lpips_net, lpips_weights).to(device).eval().requires_grad_(False)

    def lpips_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        def prep(x):
            x = x.float()
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            if x.shape[-1] < 256:
                x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
            return x
        return net(prep(a), prep(b)).reshape(-1)

    return lpips_distance


class PFODEResidual:
    """The physics of image PID: on a Karras grid t_0 = T > ... > t_{N-1} = σ_min of ``points`` times,
    ``terms`` gives (lhs, rhs) = (y - t_i (y - y₂)/(t_i - t_j), D(y; t_i)) with y = x_θ(z, t_i), y₂ = x_θ(z, t_j),
    j = i + 1 (N - 2 for the last point); the teacher call gets no gradient (nor its input).
    ``loss`` = d(lhs, rhs) per sample: zero exactly when x_θ(z, ·) solves the teacher's PF-ODE (to the
    difference quotient's accuracy)."""

    def __init__(self, teacher: Denoiser, points: int = 250, schedule: EDMSchedule = EDMSchedule(),
                 distance=None):
        if points < 2:
            raise InputError(f"the PID grid needs at least 2 points, got {points}")
        self.teacher = teacher
        self.t = karras_sigmas(points, schedule)[:-1]  # drop the trailing 0: N points from T to σ_min
        self.points = points
        self.distance = distance or pseudo_huber

    def neighbours(self, i: torch.Tensor) -> torch.Tensor:
        return torch.where(i < self.points - 1, i + 1, torch.full_like(i, self.points - 2))

    def terms(self, student: PIDStudent, z: torch.Tensor, i: torch.Tensor, labels=None):
        t = self.t.to(z.device)
        ti, tj = t[i], t[self.neighbours(i)]
        shape = (-1,) + (1,) * (z.ndim - 1)
        both = student(torch.cat([z, z]), torch.cat([ti, tj]), None if labels is None else torch.cat([labels, labels]))
        y, y2 = both.chunk(2)  # one call on the doubled batch: the network normalises per sample (GroupNorm)
        lhs = y - ti.reshape(shape).to(y.dtype) * (y - y2) / (ti - tj).reshape(shape).to(y.dtype)
        with torch.no_grad():
            rhs = self.teacher(y.detach(), ti.to(y.dtype), labels) if labels is not None else \
                self.teacher(y.detach(), ti.to(y.dtype))
        return lhs, rhs

    def loss(self, student: PIDStudent, z: torch.Tensor, i: torch.Tensor, labels=None) -> torch.Tensor:
        lhs, rhs = self.terms(student, z, i, labels)
        return self.distance(lhs, rhs)
