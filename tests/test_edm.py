"""EDM preconditioning, loss and samplers, checked against closed forms."""

import math

import pytest
import torch
from torch import nn

from piddm.edm import Denoiser, coefficients, edm_loss, fixed_sigma_loss
from piddm.sampling import generate, heun_nfe, karras_sigmas, sample_euler, sample_heun


class Zero(nn.Module):
    """A backbone that outputs F = 0: the denoiser is then c_skip x."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))

    def forward(self, x, c_noise, class_labels=None):
        return torch.zeros_like(x) + 0 * self.p


def test_coefficients_match_the_paper_table():
    sd = 0.5
    s = torch.tensor([0.002, 0.5, 80.0], dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = coefficients(s, sd)
    assert torch.allclose(c_skip, sd**2 / (s**2 + sd**2))
    assert torch.allclose(c_out, s * sd / (s**2 + sd**2).sqrt())
    assert torch.allclose(c_in, 1 / (s**2 + sd**2).sqrt())
    assert torch.allclose(c_noise, s.log() / 4)
    # at sigma = sigma_d the skip and the network share the signal equally
    assert c_skip[1].item() == pytest.approx(0.5)
    assert (c_in[1] * sd).item() == pytest.approx(1 / math.sqrt(2))


def test_loss_of_the_zero_network_has_its_closed_form():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    noise = torch.randn_like(x)
    sigma = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    d = Denoiser(Zero())
    got = edm_loss(d, x, sigma, noise)
    s = sigma[:, None, None, None]
    c_skip = 0.25 / (s**2 + 0.25)
    weight = (s**2 + 0.25) / (s * 0.5) ** 2
    want = (weight * (c_skip * (x + s * noise) - x) ** 2).flatten(1).mean(1)
    assert torch.allclose(got, want, rtol=1e-6)


def test_fixed_sigma_loss_is_repeatable():
    d = Denoiser(Zero())
    x = torch.randn(5, 2, 4, 4)
    assert fixed_sigma_loss(d, x, (0.1, 1.0), seed=3) == fixed_sigma_loss(d, x, (0.1, 1.0), seed=3)


def test_karras_grid():
    s = karras_sigmas(18)
    assert len(s) == 19 and s[-1] == 0
    assert s[0].item() == pytest.approx(80.0) and s[-2].item() == pytest.approx(0.002)
    assert bool((s[:-1] > s[1:]).all())
    assert heun_nfe(18) == 35


def _gaussian_denoiser(var):
    """The exact denoiser of data ~ N(0, var I): D(x; sigma) = var / (var + sigma^2) x."""
    return lambda x, sigma: var / (var + sigma[:, None, None, None] ** 2) * x


@pytest.mark.parametrize("sampler,order", [(sample_euler, 1), (sample_heun, 2)])
def test_samplers_converge_at_their_order_on_gaussian_data(sampler, order):
    """For Gaussian data the probability-flow ODE is solved exactly by x(s) = x(s0) sqrt(s^2+v)/sqrt(s0^2+v)."""
    var = 0.25
    eps = torch.randn(4, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    errors = []
    for steps in (16, 32, 64):
        sig = karras_sigmas(steps)
        x0 = eps * sig[0]
        exact = x0 * math.sqrt(var) / math.sqrt(sig[0].item() ** 2 + var)
        out = sampler(_gaussian_denoiser(var), x0, sig)
        errors.append((out.x - exact).abs().max().item())
        assert out.nfe == (steps if sampler is sample_euler else heun_nfe(steps))
    rates = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert min(rates) > order - 0.3, (errors, rates)
    if order == 2:
        assert errors[-1] < 5e-3 * exact.abs().max().item()  # 64 Heun steps agree to 0.5 %


def test_generate_returns_float32_and_nfe():
    d = Denoiser(Zero())
    out = generate(d, torch.randn(2, 2, 4, 4), steps=5)
    assert out.x.dtype == torch.float32 and out.nfe == 9
    # F = 0 is the exact denoiser of N(0, 0.25): samples are eps * sigma_max * 0.5 / sqrt(80^2 + 0.25)
    eps = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    out = generate(d, eps, steps=128)
    assert torch.allclose(out.x, eps * 80 * 0.5 / math.sqrt(80**2 + 0.25), atol=4e-3)
