"""2-D incompressible Navier-Stokes in vorticity form on the periodic unit torus.

    dw/dt + v . grad(w) = nu Laplace(w) + q,   -Laplace(psi) = w,   v = (dpsi/dy, -dpsi/dx),
    q = amp (sin 2pi(x+y) + cos 2pi(x+y)),  x_i = i/N.

Pseudo-spectral in space (2/3-rule dealiasing of the advection term: its inputs and its
product), and in time a one-step IMEX scheme of second order with a fixed dt: Crank-Nicolson
for diffusion, Heun's explicit trapezoidal rule (predictor-corrector) for advection and forcing.
Because the step is one-step, the flow map over any whole number of steps, Phi_t, is a
function of the state alone; the residual is the defect between stored states and this very
map (``u - Phi_T(a)``, or per stored interval of a trajectory), differentiable in torch.

a = w(0), u = w(T). The initial vorticity is FNO's periodic GaussianRF(alpha 2.5, tau 7).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..conventions import InputError
from ..random_fields import grf_periodic
from .base import Problem, as_batch, as_field, as_pair, check_count, check_resolution, register

__all__ = ["NavierStokes", "ns_flow"]


class _Spectral:
    """Wave numbers, dealiasing mask and forcing for an N x N torus (rfft2 layout)."""

    def __init__(self, n: int, dtype: torch.dtype, device: torch.device, forcing_amp: float):
        m_x = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
        m_y = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64)
        kx = (2 * math.pi * m_x)[:, None]
        ky = (2 * math.pi * m_y)[None, :]
        k2 = kx**2 + ky**2
        self.lap = -k2                                  # symbol of the Laplacian
        inv_k2 = torch.where(k2 > 0, 1.0 / k2.clamp_min(1e-300), torch.zeros_like(k2))
        cut = n / 3.0                                   # 2/3 rule: keep |m| <= N/3 per axis
        self.dealias = ((m_x.abs() <= cut)[:, None] & (m_y.abs() <= cut)[None, :]).to(torch.float64)
        # derivative symbols with the Nyquist modes zeroed (they are dealiased away anyway)
        nyq_x = (m_x.abs() == n / 2)[:, None]
        nyq_y = (m_y == n / 2)[None, :]
        ikx = torch.where(nyq_x, 0.0, kx) * 1j
        iky = torch.where(nyq_y, 0.0, ky) * 1j
        # rows: d/dy psi, -d/dx psi, d/dx w, d/dy w, applied to the dealiased w_hat
        self.ops = torch.stack([iky * inv_k2, -ikx * inv_k2, ikx + 0 * ky, iky + 0 * kx]) * self.dealias
        x = torch.arange(n, dtype=torch.float64) / n
        xx, yy = torch.meshgrid(x, x, indexing="ij")
        phase = 2 * math.pi * (xx + yy)
        self.q_hat = torch.fft.rfft2(forcing_amp * (torch.sin(phase) + torch.cos(phase)))
        self.n = n
        cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        for name in ("lap", "dealias"):
            setattr(self, name, getattr(self, name).to(device=device, dtype=dtype))
        self.ops = self.ops.to(device=device, dtype=cdtype)
        self.q_hat = self.q_hat.to(device=device, dtype=cdtype)

    def advection_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Fourier coefficients of -(v . grad w), dealiased."""
        fields = torch.fft.irfft2(w_hat.unsqueeze(-3) * self.ops, s=(self.n, self.n))
        vx, vy, wx, wy = fields.unbind(-3)
        return -torch.fft.rfft2(vx * wx + vy * wy) * self.dealias


@functools.lru_cache(maxsize=16)
def _spectral(n: int, dtype: torch.dtype, device: torch.device, forcing_amp: float) -> _Spectral:
    return _Spectral(n, dtype, device, forcing_amp)


def _steps(duration: float, dt: float, what: str) -> int:
    k = round(duration / dt)
    if k < 1 or abs(k * dt - duration) > 1e-9 * max(duration, 1.0):
        raise InputError(f"navier-stokes: {what} = {duration} must be a whole number of steps dt = {dt}")
    return k


def ns_flow(w0: torch.Tensor, duration: float, *, dt: float, nu: float, forcing_amp: float = 0.1,
            snapshot_every: int | None = None) -> torch.Tensor:
    """Advance vorticity ``w0`` (..., N, N) by ``duration`` with fixed step ``dt``.

    Returns w(duration) (..., N, N), or with ``snapshot_every = k`` the trajectory
    (..., N, N, 1 + steps/k) holding w0 and the state after every k steps. Differentiable;
    runs in the dtype and on the device of ``w0``.
    """
    n = w0.shape[-1]
    sp = _spectral(n, w0.dtype, w0.device, float(forcing_amp))
    n_steps = _steps(duration, dt, "duration")
    half = 0.5 * dt * nu * sp.lap
    keep = (1.0 + half) / (1.0 - half)       # Crank-Nicolson factor on the old state
    gain = dt / (1.0 - half)                 # implicit factor on explicit terms
    w_hat = torch.fft.rfft2(w0)
    snaps = [w0] if snapshot_every else None
    for step in range(1, n_steps + 1):
        n1 = sp.advection_hat(w_hat) + sp.q_hat
        base = keep * w_hat
        w_pred = base + gain * n1
        n2 = sp.advection_hat(w_pred) + sp.q_hat
        w_hat = base + gain * 0.5 * (n1 + n2)
        if snapshot_every and step % snapshot_every == 0:
            snaps.append(torch.fft.irfft2(w_hat, s=(n, n)))
    if snaps is not None:
        return torch.stack(snaps, dim=-1)
    return torch.fft.irfft2(w_hat, s=(n, n))


@register
class NavierStokes(Problem):
    name = "navier-stokes"
    boundary = "periodic"
    equation = ("dw/dt + v.grad(w) = nu Laplace(w) + q on the periodic unit torus, -Laplace(psi) = w, "
                "v = (dpsi/dy, -dpsi/dx), q = amp (sin 2pi(x+y) + cos 2pi(x+y)); a = w(0), u = w(T)")
    defaults = {"nu": 1e-3, "t_final": 1.0, "dt": 0.1, "store_dt": 0.1, "forcing_amp": 0.1,
                "alpha": 2.5, "tau": 7.0}

    def _check_params(self) -> None:
        p = self.params
        for key in ("nu", "t_final", "dt", "store_dt"):
            if p[key] <= 0:
                raise InputError(f"navier-stokes: {key} must be positive, got {p[key]}")
        _steps(p["t_final"], p["dt"], "t_final")
        _steps(p["store_dt"], p["dt"], "store_dt")
        _steps(p["t_final"], p["store_dt"], "t_final (in store_dt intervals)")

    @property
    def times(self) -> np.ndarray:
        """Times of the stored trajectory snapshots, 0 .. T every ``store_dt``."""
        k = _steps(self.params["t_final"], self.params["store_dt"], "t_final")
        return np.arange(k + 1) * self.params["store_dt"]

    def _flow(self, w0: torch.Tensor, duration: float, snapshot_every=None) -> torch.Tensor:
        p = self.params
        return ns_flow(w0, duration, dt=p["dt"], nu=p["nu"], forcing_amp=p["forcing_amp"],
                       snapshot_every=snapshot_every)

    def normals_shape(self, resolution):
        return (2, resolution, resolution)

    def inputs_from_normals(self, xi):
        """The periodic GRF of xi (real and imaginary parts of the Fourier coefficients)."""
        return grf_periodic(self._normals(xi), self.params["alpha"], self.params["tau"])

    def solve(self, a, *, batch_size: int = 256, device: str | torch.device = "cpu"):
        """w(T) for initial vorticities ``a``, float64, in batches on ``device``."""
        return self.solve_trajectory(a, batch_size=batch_size, device=device)[..., -1]

    def solve_trajectory(self, a, *, batch_size: int = 256, device: str | torch.device = "cpu"):
        """Snapshots w(t) at :attr:`times` for initial vorticities ``a``: (n, N, N, n_t), float64."""
        a = as_batch(a)
        every = _steps(self.params["store_dt"], self.params["dt"], "store_dt")
        out = np.empty((*a.shape, len(self.times)))
        with torch.no_grad():
            for i in range(0, len(a), batch_size):
                w0 = torch.as_tensor(a[i:i + batch_size], device=device)
                out[i:i + batch_size] = self._flow(w0, self.params["t_final"], every).cpu().numpy()
        return out

    def generate_trajectory(self, n, resolution=64, seed=0, start=0, stream=0, **solve_kw):
        """Trajectories (n, N, N, n_t) of samples start..start+n-1; times in :attr:`times`."""
        a = self.sample_inputs(check_count(n), check_resolution(resolution), seed, start, stream)
        return self.solve_trajectory(a, **solve_kw)

    def residual(self, a, u, *, check=True):
        """Defect u - Phi_T(a) of the stored end state against the solver's flow map (..., N, N)."""
        a, u = as_pair(a, u, check)
        return u - self._flow(a, self.params["t_final"])

    def trajectory_residual(self, w, *, check=True):
        """Defects w(t_k+1) - Phi_store_dt(w(t_k)) per stored interval: (..., N, N, n_t - 1)."""
        w = torch.as_tensor(w)
        if check:
            if w.ndim < 3 or w.shape[-1] < 2:
                raise InputError(f"trajectory must be shaped (..., N, N, n_t) with n_t >= 2, got {tuple(w.shape)}")
            w = as_field(w.movedim(-1, 0), "trajectory").movedim(0, -1)
        start = w[..., :-1].movedim(-1, 0)
        stepped = self._flow(start, self.params["store_dt"]).movedim(0, -1)
        return w[..., 1:] - stepped

    def boundary_residual(self, u, *, check=True):
        """Periodic: no boundary condition to violate; an empty (..., 0) tensor."""
        u = as_field(u, "u") if check else torch.as_tensor(u)
        return u.new_zeros((*u.shape[:-2], 0))

    def residual_scale(self, a, u):
        """RMS of the end state u over the training set."""
        return float(np.sqrt(np.mean(np.asarray(u, dtype=np.float64) ** 2)))
