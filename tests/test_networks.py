"""Backbones: presets, shapes, a zero start, symmetry, and resolution change for the FNO."""

import pytest
import torch

from pde_bench.conventions import InputError
from piddm.edm import Denoiser
from piddm.networks import PRESETS, backbone_config, build_backbone, count_parameters


def _perturbed(net, seed=0):
    """The network with every parameter randomised (a fresh one outputs exactly zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return net


@pytest.mark.parametrize("backbone,preset", [(b, p) for b in PRESETS for p in PRESETS[b] if p != "ddpmpp"])
def test_presets_map_shapes_and_start_at_zero(backbone, preset):
    cfg = backbone_config(backbone, preset, resolution=16, periodic=False)
    net = build_backbone(cfg)
    x = torch.randn(3, 2, 16, 16)
    out = net(x, torch.randn(3))
    assert out.shape == x.shape
    assert out.abs().max() == 0  # so the denoiser starts as c_skip x


def test_preset_sizes():
    size = {p: count_parameters(build_backbone(backbone_config("unet", p, resolution=32, periodic=False)))
            for p in ("tiny", "small", "ddpmpp")}
    assert size["tiny"] < 500_000
    assert size["tiny"] < size["small"] < size["ddpmpp"]
    assert 45e6 < size["ddpmpp"] < 70e6  # DiffusionPDE's prior has 54 M


def test_unet_is_translation_equivariant_with_circular_padding():
    """Periodic problems: shifting the input by a multiple of the coarsest stride shifts the output."""
    cfg = backbone_config("unet", "tiny", resolution=16, periodic=True)
    net = _perturbed(build_backbone(cfg)).double()
    x = torch.randn(2, 2, 16, 16, dtype=torch.float64)
    c = torch.tensor([0.1, -0.3], dtype=torch.float64)
    out, shifted = net(x, c), net(torch.roll(x, (4, 2), dims=(-2, -1)), c)
    assert torch.allclose(torch.roll(out, (4, 2), dims=(-2, -1)), shifted, atol=1e-10)


def test_unet_rejects_a_side_it_cannot_halve():
    with pytest.raises(InputError, match="divisible by 4"):
        backbone_config("unet", "medium", resolution=30, periodic=False)
    net = build_backbone(backbone_config("unet", "medium", resolution=32, periodic=False))
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, 2, 30, 30), torch.zeros(1))


def test_unknown_names_are_input_errors():
    with pytest.raises(InputError, match="unknown backbone"):
        backbone_config("transformer", "small", resolution=32, periodic=False)
    with pytest.raises(InputError, match="unknown unet preset"):
        backbone_config("unet", "huge", resolution=32, periodic=False)


def test_class_conditioning_changes_the_output_and_is_required():
    cfg = backbone_config("unet", "tiny", resolution=16, periodic=False, num_classes=3)
    net = _perturbed(build_backbone(cfg))
    x, c = torch.randn(2, 2, 16, 16), torch.zeros(2)
    y0, y1 = net(x, c, torch.tensor([0, 0])), net(x, c, torch.tensor([1, 1]))
    assert not torch.allclose(y0, y1)
    with pytest.raises(ValueError, match="class_labels"):
        net(x, c)


def test_noise_level_conditions_the_output():
    for backbone in ("unet", "fno"):
        net = _perturbed(build_backbone(backbone_config(backbone, "tiny", resolution=16, periodic=False)))
        x = torch.randn(1, 2, 16, 16)
        assert not torch.allclose(net(x, torch.tensor([-1.0])), net(x, torch.tensor([1.0])))


def test_fno_runs_at_another_resolution_and_stays_consistent():
    """A sigma-conditioned FNO trained at 16^2 runs at 32^2; on a smooth field both agree closely."""
    net = _perturbed(build_backbone(backbone_config("fno", "tiny", resolution=16, periodic=True)), seed=1)
    denoiser = Denoiser(net)
    grid = torch.arange(32) / 32
    smooth = torch.sin(2 * torch.pi * grid)[:, None] * torch.cos(2 * torch.pi * grid)[None, :]
    x32 = torch.stack([smooth, 0.5 * smooth])[None]
    x16 = x32[..., ::2, ::2]
    y32, y16 = denoiser(x32, torch.tensor([0.5])), denoiser(x16, torch.tensor([0.5]))
    assert y32.shape == (1, 2, 32, 32) and y16.shape == (1, 2, 16, 16)
    rel = (y32[..., ::2, ::2] - y16).norm() / y16.norm()
    assert rel < 0.1, rel
